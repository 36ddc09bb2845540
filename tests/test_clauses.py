"""The structure parser on both seed documents and on small fixtures of other shapes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.clauses import Document
from rag.corpus import Corpus
from rag.errors import ClauseParseError
from rag.markers import cn_to_int, int_to_cn, match_heading

from .conftest import parse_text

# --- the two seed documents -------------------------------------------------------------


def test_opinions_has_18_items_each_under_its_part(opinions: Document) -> None:
    items = [c for c in opinions.clauses if c.keys[-1][0] == "it"]
    assert [c.keys[-1][1] for c in items] == list(range(1, 19))
    parts = {1: range(1, 5), 2: range(5, 7), 3: range(7, 11), 4: range(11, 14), 5: range(14, 17),
             6: range(17, 19)}
    for c in items:
        part = c.keys[0]
        assert part[0] == "pt" and c.keys[-1][1] in parts[part[1]], c.citation
    assert [n.heading for n in opinions.root.children] == [
        "一、优化勘查布局，夯实找矿基础", "二、有序出让矿权，繁荣矿业市场", "三、强化储备利用，统筹绿色发展",
        "四、加强要素保障，优化营商环境", "五、深化地勘改革，锻造地质铁军", "六、加强统筹协调，推动矿业发展"]


def test_opinions_metadata_lead_and_closing(opinions: Document) -> None:
    assert opinions.title == "四川省人民政府办公厅关于深入推进新一轮找矿突破战略行动促进矿业高质量发展的若干意见"
    assert opinions.doc_number == "川办发〔2025〕26号"
    assert opinions.addressee.startswith("各市（州）人民政府")
    assert opinions.closing == ("四川省人民政府办公厅", "2025年7月31日")
    assert "据全球液流电池网获悉" in opinions.lead
    assert opinions.clauses[0].label == "序言" and opinions.clauses[0].text.startswith("为认真落实")


def test_news_lead_is_never_a_clause(corpus: Corpus) -> None:
    for c in corpus.clauses:
        assert "据全球液流电池网获悉" not in c.text
        assert "以下为原文" not in c.text


def test_guide_has_4_chapters_with_3_3_8_5_sections(guide: Document) -> None:
    chapters = guide.root.children
    assert [c.heading for c in chapters] == ["第一章 编制背景", "第二章 总体要求", "第三章 主要任务", "第四章 保障措施"]
    assert [len(c.children) for c in chapters] == [3, 3, 8, 5]
    assert all(s.kind == "sec" for c in chapters for s in c.children)


def test_guide_items_and_unnumbered_paragraphs(guide: Document) -> None:
    by_cite = {c.citation: c for c in guide.clauses}
    assert by_cite["《指南》第三章第二节（二）"].title == "做大做精钒钛产业"
    assert [s.label for s in by_cite["《指南》第三章第二节（二）"].subunits] == ["一是", "二是", "三是", "四是"]
    # 六是 comes after a page break and still belongs to item （一）
    assert [s.label for s in by_cite["《指南》第三章第二节（一）"].subunits][-1] == "六是"
    assert "六是打造江油高端特殊钢材研发制造基地" in by_cite["《指南》第三章第二节（一）"].text
    principles = [c for c in guide.clauses if c.keys[:2] == (("ch", 2), ("sec", 2))]
    assert [c.title for c in principles] == ["坚持创新驱动", "坚持强链补链", "坚持绿色发展", "坚持标准引领", "坚持深化改革"]
    situation = [c.title for c in guide.clauses if c.keys[:2] == (("ch", 1), ("sec", 3))]
    assert situation == ["从国际看", "从国内看", "从区域看", "从行业看"]
    assert by_cite["《指南》第二章第三节"].text.startswith("到2025年")
    assert guide.clauses[0].label == "序言" and guide.clauses[0].text.startswith("为贯彻落实")


def test_citations_read_as_people_write_them(corpus: Corpus) -> None:
    cites = {c.clause_id: c.citation for c in corpus.clauses}
    assert cites["sichuan-mining-opinions-2025:pt2.it5"] == "《若干意见》（五）"
    assert cites["sichuan-vti-re-guide:ch3.sec2.it2"] == "《指南》第三章第二节（二）"
    assert cites["sichuan-vti-re-guide:ch2.sec2.para1"] == "《指南》第二章第二节第一段"
    assert len(set(cites.values())) == len(cites), "citations must be unique"


def test_clause_paths_outermost_first(corpus: Corpus) -> None:
    c = corpus.clause("sichuan-vti-re-guide:ch3.sec2.it2")
    assert c.path == ("第三章 主要任务", "第二节 优化产业布局", "（二）做大做精钒钛产业")
    assert corpus.clause("sichuan-mining-opinions-2025:pt2.it5").path == (
        "二、有序出让矿权，繁荣矿业市场", "（五）科学有序出让矿业权")


def test_extraction_damage_never_reaches_a_clause(corpus: Corpus) -> None:
    for c in corpus.clauses:
        assert "\ufffd" not in c.text
        assert not re.search(r"[\u4e00-\u9fff]\s*\b(and|or)\b\s*[\u4e00-\u9fff]", c.text), c.citation
        assert not re.search(r"[\u4e00-\u9fff] +\d|\d +[\u4e00-\u9fff]", c.text), c.citation
        assert not re.search(r"[\u4e00-\u9fff][,;(]|[(][\u4e00-\u9fff]", c.text), c.citation
        for line in c.text.split("\n")[:-1]:
            assert line[-1] in "。；：！？”", f"{c.citation}: line break inside a sentence: {line[-10:]!r}"
    text = corpus.clause("sichuan-vti-re-guide:ch1.sec1.it1").text
    assert "V₂O₅" in text and "TiO₂" in text and "100.03亿多吨" in text and "75.34%" in text


def test_clause_text_is_the_clean_text_at_its_span_and_spans_never_overlap(corpus: Corpus) -> None:
    for d in corpus.documents:
        spans = sorted(c.span for c in d.clauses)
        for c in d.clauses:
            assert d.clean.text[c.span[0]:c.span[1]] == c.text
        for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False):
            assert a_end <= b_start


def test_every_sentence_of_the_official_text_is_in_exactly_one_clause(corpus: Corpus) -> None:
    for d in corpus.documents:
        covered = [0] * len(d.clean.text)
        for c in d.clauses:
            for i in range(*c.span):
                covered[i] += 1
        headings = set()
        for p in d.clean.body():
            h = match_heading(d.clean.text[p.start:p.end])
            if h is not None and h.heading_only:
                headings.add(p.start)
        for p in d.clean.body():
            if p.start in headings:
                continue
            counts = covered[p.start:p.end]
            assert min(counts) == 1 and max(counts) == 1, (d.doc_id, d.clean.text[p.start:p.end][:30])


def test_clauses_trace_back_to_the_raw_file(corpus: Corpus) -> None:
    c = corpus.clause("sichuan-vti-re-guide:ch1.sec1.it1")
    d = corpus.document(c.doc_id)
    raw = d.meta.file.read_text(encoding="utf-8")
    assert d.clean.raw_line(c.span[0]) == 13
    assert raw[d.clean.raw_offset(c.span[0]):].startswith("（一）资源禀赋独特")


# --- fixtures of other shapes ------------------------------------------------------------


def test_articles_with_paragraphs_and_items(parse_fixture: Callable[[str], Document]) -> None:
    d = parse_fixture("banfa")
    assert [c.citation for c in d.clauses] == [f"《测试》第{n}条" for n in "一二三四五"]
    art2, art3, art4 = d.clauses[1], d.clauses[2], d.clauses[3]
    assert [s.label for s in art2.subunits] == ["第一款", "第二款"]
    assert [s.label for s in art3.subunits] == ["（一）", "（二）", "（三）"]
    # A quote is pinned to the innermost part that holds it, and cited as people cite it.
    second = art2.text.index("示范资金的使用")
    part = art2.part_at(second, second + 10)
    assert part is not None and art2.part_citation(part) == "《测试》第二条第二款"
    assert art2.part_text(part) == "示范资金的使用应当遵循公开透明、突出重点的原则。"
    assert art2.part_at(0, len(art2.text)) is None and art2.part_citation(None) == "《测试》第二条"
    item = art3.text.index("资源综合利用项目")
    assert art3.part_citation(art3.part_at(item, item + 4)) == "《测试》第三条第（二）项"
    assert art2.path == ("第一章 总则", "第二条")
    # "依照第二条\n第二款规定" is a cross-reference wrapped mid-sentence, not a heading
    assert "依照第二条第二款规定使用资金的" in art4.text


def test_chapters_without_sections(parse_fixture: Callable[[str], Document]) -> None:
    d = parse_fixture("zhang_no_jie")
    assert [c.citation for c in d.clauses] == [
        "《测试》序言", "《测试》第一章", "《测试》第二章（一）", "《测试》第二章（二）", "《测试》第三章（一）"]


def test_parts_numbered_items_and_sub_items(parse_fixture: Callable[[str], Document]) -> None:
    d = parse_fixture("numbered")
    assert [c.citation for c in d.clauses] == ["《测试》一、1.", "《测试》一、2.", "《测试》二、1.", "《测试》二、2."]
    assert [s.label for s in d.clauses[2].subunits] == ["（1）", "（2）"]
    assert d.closing == ("某省人民政府", "2025年3月1日")
    assert d.addressee == "各市（州）人民政府："


def test_mid_sentence_cross_reference_is_not_a_heading(parse_fixture: Callable[[str], Document]) -> None:
    d = parse_fixture("wrapped")
    assert len(d.clauses) == 3
    assert d.clauses[1].text.endswith("并依照第二条规定处理。")
    assert "大中型矿山比例达到60%以上" in d.clauses[0].text
    assert [s.label for s in d.clauses[2].subunits] == ["一是", "二是", "三是"]


def test_skipped_numbering_names_document_and_line(parse_fixture: Callable[[str], Document]) -> None:
    with pytest.raises(ClauseParseError, match=r"skip \(skip\.txt\):9: （四） follows （二） \(missing （三）\?\)"):
        parse_fixture("skip")


def test_repeated_numbering_names_document_and_line(parse_fixture: Callable[[str], Document]) -> None:
    with pytest.raises(ClauseParseError, match=r"repeat\.txt\):9: 第二条 repeats"):
        parse_fixture("repeat")


def test_text_without_structure_is_refused(parse_fixture: Callable[[str], Document]) -> None:
    with pytest.raises(ClauseParseError, match="no clause structure"):
        parse_fixture("no_structure")


def test_items_numbered_continuously_across_parts_need_no_parent_in_citations() -> None:
    d = parse_text("意见\n\n一、甲\n\n（一）子一。内容。\n\n（二）子二。内容。\n\n二、乙\n\n（三）子三。内容。\n")
    assert [c.citation for c in d.clauses] == ["《测试》（一）", "《测试》（二）", "《测试》（三）"]


def test_items_restarting_in_each_part_are_cited_with_their_part() -> None:
    d = parse_text("意见\n\n一、甲\n\n（一）子一。内容。\n\n二、乙\n\n（一）子二。内容。\n")
    assert [c.citation for c in d.clauses] == ["《测试》一、（一）", "《测试》二、（一）"]


def test_one_line_headings_without_blank_lines_each_start_their_own_part() -> None:
    # Three or more headings with no 。 and no blank line once set the "wrap width" at their own width, and
    # each was glued to the item below it: the third part's （一） was then read as a second （二）.
    d = parse_text("规划\n一、现状\n（一）规模。内容。\n（二）问题。内容。\n二、要求\n（一）思想。内容。\n"
                   "三、任务\n（一）企业。内容。\n四、保障\n（一）资金。内容。\n")
    assert [c.citation for c in d.clauses] == ["《测试》一、（一）", "《测试》一、（二）", "《测试》二、（一）",
                                               "《测试》三、（一）", "《测试》四、（一）"]
    assert [c.text for c in d.clauses][:2] == ["（一）规模。内容。", "（二）问题。内容。"]


def test_restart_that_is_not_one_is_an_error() -> None:
    with pytest.raises(ClauseParseError, match="（三） where （一） or （二） was expected"):
        parse_text("意见\n\n一、甲\n\n（一）子一。内容。\n\n二、乙\n\n（三）子三。内容。\n")


# --- numerals -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百零五", 105),
    ("两百", 200), ("二〇二五", 2025), ("15", 15), ("１５", 15)])
def test_numerals(text: str, value: int) -> None:
    assert cn_to_int(text) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=9999))
def test_chinese_numerals_round_trip(n: int) -> None:
    assert cn_to_int(int_to_cn(n)) == n
