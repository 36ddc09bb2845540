"""Kinds of things, provinces and other provinces' cities a question names that the documents never mention (rag/mentions.py), on the
real corpus."""

from __future__ import annotations

import pytest

from rag.answer import Weights
from rag.ask import Asker
from rag.mentions import (
    PlaceFinder,
    unmentioned,
    unmentioned_companies,
    unmentioned_elements,
    unmentioned_keywords,
    unmentioned_kinds,
    unmentioned_names,
    unmentioned_places,
)
from rag.runtime import Runtime


@pytest.fixture(scope="module")
def weights(asker: Asker) -> Weights:
    return asker.weights


@pytest.mark.parametrize(("question", "kinds"), [
    ("石墨矿的探矿权怎么续期？", ("石墨矿",)),          # two words: 石墨 / 矿
    ("铀矿勘查有什么规定？", ("铀矿",)),                 # one dictionary word that ends in a head
    ("电解铝企业能不能享受电价支持？", ("电解铝企业",)),   # 电解 is in the documents, 电解铝 and its head are not
    ("水泥厂要做超低排放改造吗？", ("水泥厂",)),
    ("高纯石英砂算不算这轮找矿突破的重点矿种？", ("石英砂",)),  # X砂 is a kind of mineral product
    ("多晶硅项目和电解铝项目有什么支持？", ("多晶硅项目", "电解铝项目")),
    # The documents have 装备 and 碳, not the nouns before them that name the kind.
    ("海上风电装备产业怎么发展？", ("风电装备产业",)),
    ("林业碳汇项目怎么申报？", ("林业碳汇项目",)),
    # Coordinated kinds share the head; the phrase next to it may hold no noun (硅 / 料, a verb to jieba).
    ("指南对多晶硅、光伏硅料产业有什么布局？", ("多晶硅产业",)),
    # The work done on a resource heads a kind as well.
    ("干热岩、地热开发四川有啥规划没？", ("地热开发",)),
    ("《若干意见》对磷石膏综合利用提出了什么要求？", ("石膏综合利用",)),
    ("四川对深海多金属结核开采技术有没有扶持政策？", ("结核开采",)),
    # The work takes its object with a 的, and another name of it may stand in brackets between them.
    ("若干意见对天然气水合物（可燃冰）的勘查怎么安排？", ("水合物勘查",)),
    # A verbal noun (发电) names the kind as a noun does: the noun before it is what is foreign.
    ("想在川西搞地热发电开发，有什么支持政策？", ("地热发电开发",)),
    # Insurance comes in kinds as well; the documents name one (首批次保险), not the social ones.
    ("地勘单位事企分离以后，职工的编制和养老保险怎么衔接？", ("养老保险",)),
])
def test_a_kind_the_documents_never_name_is_found(runtime: Runtime, weights: Weights, question: str,
                                                  kinds: tuple[str, ...]) -> None:
    assert unmentioned_kinds(runtime.index.tokenizer.words(question), runtime.index.tokenizer,
                             weights.corpus_text) == kinds


@pytest.mark.parametrize("question", [
    "稀土矿开采总量怎么管？",            # a kind the documents name
    "锂电池企业有什么支持？",            # ends in 电池, which they have (钒电池); 锂电 they name too
    "有色金属企业要做超低排放吗？",      # ends in 金属
    "钢厂的能耗指标怎么解决？",          # 钢 is in the documents
    "民营企业能参与找矿吗？",            # 民营 is no noun
    "绵阳的企业有什么支持？",            # a place is no kind: the province's policy covers it
    "在德阳办企业有补贴吗？",
    "钒钛产业园区怎么建设？",
    "有没有专门的园区来消纳工业废渣？",  # 的 / 园区: no noun names the kind
    "稀土永磁材料企业有什么支持？",      # every noun before the head is the documents'
    "锂、稀土企业有什么支持？",          # every coordinated kind is the documents'
    "露天矿开采要临时占用一块地，有没有说法？",  # 露天 and 矿 are the documents' (露天开采)
    "页岩气勘查开发有什么支持？",
    "尾矿综合利用有什么要求？",
    "废铁回收有什么支持？",              # 回收 is no head: 废铁 is how people say the documents' 废钢
    "稀土矿的开发有什么要求？",
    "页岩气（天然气）的勘查开发有什么支持？",
    "钒钛资源的综合利用有什么要求？",
    "光伏发电开发有什么支持？",          # 光伏 and 发电 are the documents'
    "新材料首批次保险怎么申请？",
])
def test_kinds_the_documents_name_and_words_that_are_no_kind_are_not(runtime: Runtime, weights: Weights,
                                                                   question: str) -> None:
    assert unmentioned_kinds(runtime.index.tokenizer.words(question), runtime.index.tokenizer,
                             weights.corpus_text) == ()


def test_a_question_about_such_a_kind_abstains_and_says_which(asker: Asker) -> None:
    # The clause on 探矿权续期 is close in meaning and answered this before; it says nothing of graphite.
    a = asker.ask("石墨矿的探矿权到期了怎么续？")
    assert a.abstained and a.evidence is not None and a.evidence.unmentioned == ("石墨矿",)
    assert a.text.startswith("现有文件中没有找到关于这个问题的规定：文件中没有提到“石墨矿”。")
    assert a.related and "可能相关" in a.text
    assert not asker.ask("稀土矿的探矿权到期了怎么续？").abstained


@pytest.mark.parametrize(("question", "elements"), [
    ("铌、钽这类稀有金属有没有专门部署？", ("铌", "钽")),
    ("镨钕氧化物价格波动大，省里会发指导价吗？", ("镨钕",)),  # written together: named together
    ("硅锰合金企业有什么扶持？", ("硅锰",)),                # 锰 is in the documents, 硅 is not
    ("锰矿和硅料有什么支持？", ("硅",)),
    ("钒钛磁铁矿伴生的钴、镍怎么综合利用？", ()),           # every element named is the documents'
    ("能拿探矿权去银行贷款吗？", ()),                       # 银 writes 银行: no element of the list
    ("低碳冶金和氢能有什么支持？", ()),                     # 碳 and 氢 name concepts as often: not listed
])
def test_an_element_the_documents_never_write_is_found(weights: Weights, question: str,
                                                       elements: tuple[str, ...]) -> None:
    assert unmentioned_elements(question, weights.corpus_text) == elements


def test_an_element_inside_a_kind_already_found_is_not_named_twice(runtime: Runtime, weights: Weights) -> None:
    # 多晶硅产业 is the kind; its 硅 adds nothing to what the abstention says.
    assert unmentioned("指南对多晶硅、光伏硅料产业有什么布局？", runtime.index.tokenizer, weights.titles,
                       weights.corpus_text) == ("多晶硅产业",)


def test_a_question_about_such_an_element_abstains_and_says_which(asker: Asker) -> None:
    a = asker.ask("铌、钽这类稀有金属，四川这轮找矿突破里有没有专门部署？")
    assert a.abstained and a.text.startswith("现有文件中没有找到关于这个问题的规定：文件中没有提到“铌”、“钽”。")
    assert not asker.ask("钒、钛这类战略金属，四川这轮找矿突破里有没有专门部署？").abstained


@pytest.mark.parametrize(("question", "provinces"), [
    ("广东省的钒电池储能项目有补贴吗？", ("广东",)),
    ("新疆维吾尔自治区的稀土企业有什么扶持措施？", ("新疆",)),
    ("云南和四川的稀土政策有什么不同？", ("云南",)),      # 四川 is the documents' own
    ("川西藏区的锂矿怎么开发？", ()),                      # 川西 / 藏区: no 西藏 named
    ("攀枝花的钒钛企业有什么支持？", ()),                  # a city of the province
    ("包头的稀土企业和四川的稀土企业有什么合作？", ("包头",)),  # a city of 内蒙古
    ("赣州市对稀土冶炼有什么要求？", ("赣州",)),
    ("西双版纳的企业能来四川开矿吗？", ("西双版纳",)),     # 西双版纳傣族自治州
    ("广元的企业能申请探矿权抵押融资吗？", ()),            # a city of the province the documents never name
    ("广元在钒钛钢铁和稀土产业布局里是什么定位？", ("广元",)),  # …unless asked what role the documents give it
    ("指南给广元市的钢铁产业定了什么发展方向？", ("广元",)),
    ("指南的产业布局里给泸州派了什么任务没有？", ("泸州",)),
    ("攀枝花在产业布局里是什么定位？", ()),                # named by the documents
    ("凉山州的稀土矿怎么整合？", ()),                        # named by the documents
])
def test_a_province_or_another_provinces_city_outside_the_documents_is_found(runtime: Runtime, weights: Weights, question: str,
                                                   provinces: tuple[str, ...]) -> None:
    assert unmentioned_places(runtime.index.tokenizer.words(question), weights.titles,
                                 weights.corpus_text) == provinces


def test_provinces_are_not_checked_when_a_document_is_no_provinces_own(runtime: Runtime, weights: Weights) -> None:
    titles = (*weights.titles, "国务院关于促进钒钛产业发展的意见")  # a national policy covers every province
    assert unmentioned_places(runtime.index.tokenizer.words("广东省的钒电池储能项目有补贴吗？"), titles,
                                 weights.corpus_text) == ()


def test_a_question_about_another_province_abstains_and_says_which(asker: Asker) -> None:
    a = asker.ask("广东的稀土企业有什么扶持措施？")
    assert a.abstained and a.text.startswith("现有文件中没有找到关于这个问题的规定：文件中没有提到“广东”。")
    assert not asker.ask("四川的稀土企业有什么扶持措施？").abstained


def test_a_question_about_another_provinces_city_abstains_and_says_which(asker: Asker) -> None:
    a = asker.ask("包头的稀土企业有什么扶持措施？")
    assert a.abstained and a.text.startswith("现有文件中没有找到关于这个问题的规定：文件中没有提到“包头”。")
    assert not asker.ask("攀枝花的钒钛企业有什么扶持措施？").abstained


@pytest.mark.parametrize(("sentence", "names_one"), [
    ("打造攀枝花、德阳、宜宾三大钛化工生产基地", True),     # prefecture-level cities by their short names
    ("凉山州、乐山市稀土冶炼分离产业基地", True),
    ("形成了冕宁、德昌两大稀土矿区", True),                 # counties beside each other
    ("在江油市建设产业园", True),                           # a county-level city with its suffix
    ("完善资源市场", False),                                # 资源县 exists; 资源市场 is no place
    ("加快创新平台建设", False),                            # 新平县 inside 创新平台
    ("扩大开放合作，", False),                              # 合作市 exists; bare, it is the everyday word
    ("发展长寿命钒电池", False),
])
def test_a_sentence_that_names_a_place(sentence: str, names_one: bool) -> None:
    assert PlaceFinder().search(sentence) is names_one


@pytest.mark.parametrize(("question", "found"), [
    ("攀钢集团在指南里承担哪些重点项目？", ("攀钢集团",)),        # jieba calls 攀钢 a verb: no noun check here
    ("我们公司拿了探矿权，到期能续吗？", ()),                      # a pronoun
    ("指南里的示范企业具体是哪几家公司？", ()),                    # a quantifier
    ("我们是家小地勘公司，探矿权到期能续吗？", ()),                # 地勘 is the documents' own word
    ("省属的矿产投资公司资本金不够，政府会注资吗？", ()),
    ("指南对宝武集团在川的钢铁布局有什么安排？", ("宝武集团",)),  # jieba cuts 宝 / 武: read whole, after 对
    ("龙佰集团有什么项目？", ("龙佰集团",)),
    ("川投集团有什么项目？", ("川投集团",)),
    ("给大集团什么支持？", ()),                                   # an adjective: a kind of company, no name
    ("那家公司能不能贷款？", ()),                                 # a pronoun and a classifier
])
def test_a_company_the_documents_never_name_is_found(runtime: Runtime, question: str,
                                                     found: tuple[str, ...]) -> None:
    words = runtime.index.tokenizer.words(question)
    text = "\n".join(c.text for c in runtime.index.clauses)
    assert unmentioned_companies(words, text) == found


def test_a_question_about_such_a_company_abstains_and_says_which(asker: Asker) -> None:
    # Before, the clause on 钢铁产业 answered it as if the documents spoke of the company.
    a = asker.ask("攀钢集团能享受电价支持吗？")
    assert a.abstained and "文件中没有提到“攀钢集团”" in a.text



@pytest.mark.parametrize(("question", "found"), [
    ("《四川省战略性矿产资源储备条例》对储备矿产地的划定有哪些规定？", ("《四川省战略性矿产资源储备条例》",)),
    ("指南里的“钒钛英才计划”对引进的人才给什么支持？", ("钒钛英才计划",)),  # 英才: a word they never use
    ("《若干意见》对探矿权续期怎么规定？", ()),                          # a document's own short title
    ("《四川省钒钛钢铁及稀土产业发展指南》对钒电池怎么说？", ()),       # its title written loosely
    ("《长江经济带发展负面清单》对攀西有什么限制？", ()),               # a document a clause quotes
    ("“订单式”调查是什么意思？", ()),                                  # the documents write it
    ("“订单式调查”谁来组织？", ()),                                    # their words, put differently
    ("我们这种“小散乱”企业有什么出路？", ()),                          # the asker's own words, no programme
])
def test_a_document_or_programme_named_in_quotes_that_the_documents_lack_is_found(
        runtime: Runtime, weights: Weights, question: str, found: tuple[str, ...]) -> None:
    assert unmentioned_names(question, runtime.index.tokenizer, weights.names, weights.corpus_text) == found


def test_a_question_on_another_document_abstains_and_says_which(asker: Asker) -> None:
    # Before, 《若干意见》（七） on 储备 answered it as if it were the regulation.
    a = asker.ask("《四川省战略性矿产资源储备条例》对储备矿产地的划定有哪些规定？")
    assert a.abstained and "文件中没有提到《四川省战略性矿产资源储备条例》。" in a.text
    assert not asker.ask("《若干意见》对储备矿产地有哪些规定？").abstained


@pytest.mark.parametrize(("question", "found"), [
    ("地热 矿泉水 采矿权 办理", ("地热", "矿泉水")),      # nouns of the dictionary the documents never write
    ("稀土 冶炼分离 产能布局", ()),                       # 产能布局: a phrase no dictionary knows
    ("电费 钒钛", ()),                                    # the lexicon gives 电价 for 电费
    ("探矿权 续期", ()),
    ("地热可以开采吗", ()),                               # a sentence, not a keyword query
])
def test_a_keyword_the_documents_never_write_is_found(runtime: Runtime, weights: Weights, question: str,
                                                      found: tuple[str, ...]) -> None:
    assert unmentioned_keywords(question, weights.corpus_text, runtime.index.vocab.lexicon) == found


def test_a_keyword_query_on_such_a_keyword_abstains_and_says_which(asker: Asker) -> None:
    # Before, the clause on 探矿权 and 采矿权 management answered it (coverage 0.40).
    a = asker.ask("地热 矿泉水 采矿权 办理")
    assert a.abstained and a.text.startswith("现有文件中没有找到关于这个问题的规定：文件中没有提到“地热”、“矿泉水”。")
    assert not asker.ask("探矿权 续期 核减面积").abstained
