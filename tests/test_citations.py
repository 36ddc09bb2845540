"""Clause references typed by people, resolved against the real corpus."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rag.citations import (
    missing,
    missing_clause,
    named_part,
    parse_reference,
    resolve,
    step_clause,
    step_reference,
    without_document_names,
)
from rag.clauses import Document
from rag.corpus import Corpus


@pytest.mark.parametrize(("query", "expected"), [
    ("指南 第三章第二节（二）", ["《指南》第三章第二节（二）"]),
    ("《指南》第三章第二节(二)", ["《指南》第三章第二节（二）"]),
    ("若干意见第十五条", ["《若干意见》（十五）"]),
    ("（十五）", ["《若干意见》（十五）"]),
    ("第15条", ["《若干意见》（十五）"]),
    ("指南第一章第一节第一条", ["《指南》第一章第一节（一）"]),
    ("指南第二章第二节第三段", ["《指南》第二章第二节第三段"]),
    ("若干意见（五）讲了什么", ["《若干意见》（五）"]),
    ("指南第3章第2节（2）", ["《指南》第三章第二节（二）"]),   # Arabic numerals for the document's Chinese ones
    ("若干意见(15)", ["《若干意见》（十五）"]),
    ("若干意见第十五点", ["《若干意见》（十五）"]),      # the points of an 意见, as people call them
    ("若干意见第15点讲了什么", ["《若干意见》（十五）"]),
    ("第三章第二节", ["《指南》第三章第二节（一）", "《指南》第三章第二节（二）", "《指南》第三章第二节（三）"]),
    ("指南序言讲了什么", ["《指南》序言"]),
    ("若干意见开篇讲了什么", ["《若干意见》序言"]),            # the preamble, as people call it
    ("两份文件开头都交代了什么目的", ["《若干意见》序言", "《指南》序言"]),
])
def test_references_resolve(corpus: Corpus, query: str, expected: list[str]) -> None:
    ref = parse_reference(query, corpus.documents)
    assert ref is not None
    assert [c.citation for c in resolve(ref, corpus.documents)] == expected


def test_the_opening_of_a_chapter_is_no_preamble(corpus: Corpus) -> None:
    ref = parse_reference("指南第三章开头讲了什么", corpus.documents)
    assert ref is not None
    found = [c.citation for c in resolve(ref, corpus.documents)]
    assert found and all(c.startswith("《指南》第三章") for c in found)


@pytest.mark.parametrize(("query", "expected"), [
    ("若干意见（十五）和（十六）", ["《若干意见》（十五）", "《若干意见》（十六）"]),
    ("第十五条和第十六条讲了什么", ["《若干意见》（十五）", "《若干意见》（十六）"]),
    ("若干意见第十五条、第十六条和第十八条", ["《若干意见》（十五）", "《若干意见》（十六）", "《若干意见》（十八）"]),
    ("若干意见第十五、十六条", ["《若干意见》（十五）", "《若干意见》（十六）"]),                 # one unit for both
    ("若干意见第十五至十七条", ["《若干意见》（十五）", "《若干意见》（十六）", "《若干意见》（十七）"]),  # a range
    ("第15到17条", ["《若干意见》（十五）", "《若干意见》（十六）", "《若干意见》（十七）"]),
    # The second address takes the levels above it from the first.
    ("指南第三章第二节（一）到（三）", ["《指南》第三章第二节（一）", "《指南》第三章第二节（二）", "《指南》第三章第二节（三）"]),
    ("指南第三章第二节（二）和第四章第一节", ["《指南》第三章第二节（二）", "《指南》第四章第一节"]),
])
def test_several_addresses_in_one_query_each_resolve(corpus: Corpus, query: str, expected: list[str]) -> None:
    ref = parse_reference(query, corpus.documents)
    assert ref is not None and ref.rest == ""
    assert [c.citation for c in resolve(ref, corpus.documents)] == expected
    assert missing(ref, corpus.documents) == ""


@pytest.mark.parametrize(("query", "expected"), [
    ("若干意见最后一条", ["《若干意见》（十八）"]),
    ("指南最后一条讲了什么", ["《指南》第四章第五节（五）"]),       # the last clause, not every （五）
    ("若干意见最后一部分", ["《若干意见》（十七）", "《若干意见》（十八）"]),
    ("若干意见最后一条和第一条", ["《若干意见》（十八）", "《若干意见》（一）"]),
])
def test_the_last_clause_or_part_of_a_named_document(corpus: Corpus, query: str, expected: list[str]) -> None:
    ref = parse_reference(query, corpus.documents)
    assert ref is not None and [c.citation for c in resolve(ref, corpus.documents)] == expected


def test_a_query_of_many_ranges_names_a_bounded_number_of_addresses(corpus: Corpus) -> None:
    query = "和".join(f"第{i * 30 + 1}至{i * 30 + 30}条" for i in range(14))  # ~420 addresses
    ref = parse_reference(query, corpus.documents)
    assert ref is not None and len(ref.paths()) == 50
    said = missing(ref, corpus.documents)
    assert said.count("没有") == 3 and said.endswith("另有29处编号也不存在")


def test_the_last_clause_of_no_document_in_particular_is_no_address(corpus: Corpus) -> None:
    assert parse_reference("最后一条讲了什么", corpus.documents) is None  # two documents: whose?


def test_of_several_addresses_each_one_the_documents_lack_is_said(corpus: Corpus) -> None:
    ref = parse_reference("若干意见（十五）和（十九）", corpus.documents)
    assert ref is not None and [c.citation for c in resolve(ref, corpus.documents)] == ["《若干意见》（十五）"]
    assert missing(ref, corpus.documents) == "《若干意见》中没有（十九）（《若干意见》共有（一）至（十八））"
    both = parse_reference("若干意见第十九条和第二十条", corpus.documents)
    assert both is not None and missing(both, corpus.documents) == (
        "《若干意见》中没有第十九条（《若干意见》共有（一）至（十八））；《若干意见》中没有第二十条（《若干意见》共有（一）至（十八））")


def test_ambiguous_item_number_lists_every_match(corpus: Corpus) -> None:
    ref = parse_reference("（二）", corpus.documents)
    assert ref is not None
    found = [c.citation for c in resolve(ref, corpus.documents)]
    assert "《若干意见》（二）" in found and "《指南》第三章第二节（二）" in found


def test_document_hint_restricts_the_lookup(corpus: Corpus) -> None:
    ref = parse_reference("指南（二）", corpus.documents)
    assert ref is not None
    assert all(c.doc_id == "sichuan-vti-re-guide" for c in resolve(ref, corpus.documents))


@pytest.mark.parametrize("query", ["探矿权 续期", "2025年铁精矿缺口", "1：50000矿产地质调查", "钛资源量占全国多少"])
def test_queries_without_a_clause_number(corpus: Corpus, query: str) -> None:
    assert parse_reference(query, corpus.documents) is None


@pytest.mark.parametrize("query", ["我们建成了第一条钛材生产线，有奖励吗？", "第三项技术攻关由谁牵头", "第一款钒电池产品",
                                   "我想提第一点建议"])
def test_an_ordinal_with_a_classifier_is_no_clause_number(corpus: Corpus, query: str) -> None:
    # 条/项/款 are also classifiers: "第一条生产线" is the first production line, not article one.
    assert parse_reference(query, corpus.documents) is None


@pytest.mark.parametrize(("query", "citation"), [
    ("指南第四章第四节第三项金融支持具体有哪些", "《指南》第四章第四节（三）"),
    ("指南第三章第二节第一条钢铁产业怎么布局", "《指南》第三章第二节（一）"),
])
def test_an_item_number_that_goes_on_an_address_is_no_ordinal(corpus: Corpus, query: str, citation: str) -> None:
    # The noun after 第三项 is the item's own title (强化金融支持); read as an ordinal, the query cited the whole 节.
    ref = parse_reference(query, corpus.documents)
    assert ref is not None and [c.citation for c in resolve(ref, corpus.documents)] == [citation]


@pytest.mark.parametrize("query", ["若干意见第十五条规定了什么", "第十五条中关于投入的内容", "若干意见第十五条",
                                   "若干意见第十五条涉及哪些方面", "第十五条明确了什么", "第十五条针对的是什么"])
def test_a_clause_number_followed_by_words_about_it_still_names_it(corpus: Corpus, query: str) -> None:
    ref = parse_reference(query, corpus.documents)
    assert ref is not None and [c.citation for c in resolve(ref, corpus.documents)] == ["《若干意见》（十五）"]


def test_enumeration_and_remaining_words_are_kept(corpus: Corpus) -> None:
    ref = parse_reference("第三章第二节（二）三是", corpus.documents)
    assert ref is not None and ref.enumeration == 3 and ref.rest == ""
    ref = parse_reference("第三章第二节（二）钒电池", corpus.documents)
    assert ref is not None and ref.rest == "钒电池"


def test_words_about_the_reference_itself_are_not_left_as_its_topic(corpus: Corpus) -> None:
    for query in ["若干意见第（七）项说的是什么？", "《指南》第二章第一节原文要点", "若干意见第三部分包括哪几条"]:
        ref = parse_reference(query, corpus.documents)
        assert ref is not None and ref.rest == "", query


def test_a_document_number_names_its_document(corpus: Corpus) -> None:
    ref = parse_reference("川办发〔2025〕26号文第十条讲的是什么？", corpus.documents)
    assert ref is not None and ref.doc_hint == "川办发〔2025〕26号"
    assert [c.citation for c in resolve(ref, corpus.documents)] == ["《若干意见》（十）"]


def test_reference_to_nothing_resolves_to_nothing(corpus: Corpus) -> None:
    ref = parse_reference("指南第九章", corpus.documents)
    assert ref is not None and resolve(ref, corpus.documents) == []


@pytest.mark.parametrize(("query", "said"), [
    ("若干意见第十九条", "《若干意见》中没有第十九条（《若干意见》共有（一）至（十八））"),
    ("指南第九章第二节", "《指南》中没有第九章（《指南》共有第一章至第四章）"),
    ("指南第三章第九节", "《指南》中没有第三章第九节（《指南》第三章共有第一节至第八节）"),
    ("若干意见第七部分", "《若干意见》中没有第七部分（《若干意见》共有第一部分至第六部分）"),
    # No document named: the guide numbers its （一） afresh in every 节, so it has no range to show.
    ("第二十条讲了什么", "现有文件中没有第二十条（《若干意见》共有（一）至（十八））"),
])
def test_a_clause_number_the_documents_lack_is_said_with_what_they_have(corpus: Corpus, query: str,
                                                                        said: str) -> None:
    assert missing_clause(query, corpus.documents) == said


@pytest.mark.parametrize("query", ["若干意见第十五条", "第三章第二节（二）", "钛资源量占全国多少", "二是", "3."])
def test_nothing_is_missing_when_the_clause_exists_or_no_number_is_explicit(corpus: Corpus, query: str) -> None:
    ref = parse_reference(query, corpus.documents)
    assert ref is None or missing(ref, corpus.documents) == ""


def test_a_missing_part_inside_an_article_is_said(parse_fixture: Callable[[str], Document]) -> None:
    assert missing_clause("第二条第五款", [parse_fixture("banfa")]).endswith("中没有第二条第五款")


@pytest.mark.parametrize(("query", "clause", "part", "cited"), [
    ("第二条第二款", "《测试》第二条", "第二款", "《测试》第二条第二款"),
    ("测试第三条第（二）项", "《测试》第三条", "（二）", "《测试》第三条第（二）项"),
    ("第三条第二项", "《测试》第三条", "（二）", "《测试》第三条第（二）项"),
    ("第三条（三）", "《测试》第三条", "（三）", "《测试》第三条第（三）项"),
])
def test_a_part_inside_an_article_is_found_with_its_article(parse_fixture: Callable[[str], Document], query: str,
                                                             clause: str, part: str, cited: str) -> None:
    docs = [parse_fixture("banfa")]
    ref = parse_reference(query, docs)
    assert ref is not None
    [c] = resolve(ref, docs)
    named = named_part(ref, c)
    assert c.citation == clause and named is not None and named.label == part
    assert c.part_citation(named) == cited and c.part_text(named) in c.text


@pytest.mark.parametrize("query", ["第二条第五款", "第一条第二款", "第三条第（九）项"])
def test_a_part_that_is_not_there_names_nothing(parse_fixture: Callable[[str], Document], query: str) -> None:
    docs = [parse_fixture("banfa")]
    ref = parse_reference(query, docs)
    assert ref is not None and resolve(ref, docs) == []


def test_an_enumeration_names_its_part_and_keeps_the_clause(corpus: Corpus) -> None:
    ref = parse_reference("指南第三章第二节（二）三是", corpus.documents)
    assert ref is not None
    [c] = resolve(ref, corpus.documents)
    part = named_part(ref, c)
    assert part is not None and c.part_citation(part) == "《指南》第三章第二节（二）三是"
    assert c.part_text(part).startswith("三是推动攀西钛精矿")
    whole = parse_reference("指南第三章第二节（二）", corpus.documents)
    assert whole is not None and named_part(whole, c) is None


@pytest.mark.parametrize(("previous", "question", "stepped"), [
    ("若干意见第12条", "后面那条呢", "若干意见第13条"),             # digits stay digits
    ("若干意见（十二）", "上一条", "若干意见（十一）"),             # 条 steps a bracketed item
    ("指南第四章第四节（二）讲了什么", "下一节呢", "指南第四章第五节讲了什么"),  # the level below is dropped
    ("若干意见第一条", "上一条", None),                           # nothing before the first
    ("钒电池有什么支持", "下一条", None),                         # nothing named to step from
    ("若干意见第十二条", "下一步怎么做", None),
    # From the last of several addresses, the others dropped.
    ("若干意见（十五）和（十六）", "下一条呢？", "若干意见（十七）"),
    ("若干意见第十五至十七条", "下一条", "若干意见第十八条"),
    ("指南第三章第二节（一）到（三）", "下一条", "指南第三章第二节（四）"),
])
def test_a_step_to_the_next_or_previous_clause(previous: str, question: str, stepped: str | None) -> None:
    assert step_reference(previous, question) == stepped


@pytest.mark.parametrize(("cited", "question", "stepped"), [
    ("sichuan-vti-re-guide:ch2.sec2.para3", "后面那条呢？", "《指南》第二章第二节第四段"),
    ("sichuan-vti-re-guide:ch3.sec2.it2", "下一条讲啥？", "《指南》第三章第二节（三）讲啥？"),
    ("sichuan-vti-re-guide:ch3.sec1.it3", "下一条", "《指南》第三章第二节（一）"),      # past the end of its 节
    ("sichuan-vti-re-guide:ch3.sec2.it2", "上一节呢", "《指南》第三章第一节"),          # the 节, not a clause
    ("sichuan-vti-re-guide:ch3.sec1.it1", "上一节", "《指南》第二章第三节"),            # across a 章
    ("sichuan-mining-opinions-2025:pt1.it4", "下一部分", "《若干意见》第二部分"),
    ("sichuan-mining-opinions-2025:pt6.it18", "下一条", None),                        # the last clause
    ("sichuan-mining-opinions-2025:pt6.it18", "下一部分", None),
    ("sichuan-mining-opinions-2025:pt1.it1", "下一节", None),                          # it has no 节
    ("no-such-doc:it1", "下一条", None),
    ("", "下一条", None),                                                              # the answer abstained
    ("sichuan-vti-re-guide:ch3.sec2.it2", "下一步怎么做", None),
])
def test_a_step_from_the_clause_an_answer_cited(corpus: Corpus, cited: str, question: str,
                                                stepped: str | None) -> None:
    assert step_clause(cited, question, corpus.documents) == stepped
    if stepped:  # the router finds what the step names
        ref = parse_reference(stepped, corpus.documents)
        assert ref is not None and resolve(ref, corpus.documents)


@pytest.mark.parametrize("query", ["第0条", "（0）", "若干意见第0部分", "第一万条"])
def test_numbers_no_document_uses_are_no_clause_numbers(corpus: Corpus, query: str) -> None:
    # "第0条" used to reach the message that names the missing clause, which cannot write 0, and crash.
    assert parse_reference(query, corpus.documents) is None
    assert missing_clause(query, corpus.documents) == ""


def test_a_step_past_the_numbers_people_write_is_no_step() -> None:
    assert step_reference("第9999条", "下一条") is None


@pytest.mark.parametrize(("query", "expected"), [
    # A title written loosely before the short title is a name, not the topic (the guide's preamble repeats it).
    ("这份钒钛钢铁产业指南对安全管理提了哪些要求？", "这份 指南对安全管理提了哪些要求？"),
    ("找矿的若干意见和钒钛稀土指南分别怎么讲？", "找矿的若干意见和 指南分别怎么讲？"),  # 的 is the asker's
    ("我省指南有什么说法？", "我省指南有什么说法？"),                # one character is no title
    ("四川省钒钛钢铁及稀土产业高质量发展指南第三章", " 第三章"),      # the full title, as before
    ("川办发〔2025〕26号对探矿权续期怎么规定", " 对探矿权续期怎么规定"),
])
def test_the_names_of_documents_are_blanked_out_of_a_query(corpus: Corpus, query: str, expected: str) -> None:
    assert without_document_names(query, corpus.documents, short_titles=False) == expected
