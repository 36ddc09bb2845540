"""Questions about a document itself (文号, issuer, date, title), answered from its header and closing."""

from __future__ import annotations

import pytest

from rag.ask import Asker
from rag.corpus import Corpus
from rag.docinfo import asked_facts, document_facts_answer


@pytest.mark.parametrize(("question", "facts"), [
    ("若干意见是哪个部门发的", ("issuer",)),
    ("若干意见是什么时候印发的？", ("date",)),
    ("若干意见的文号是多少", ("doc_number",)),
    ("《若干意见》的全称是什么", ("title",)),
    ("川办发〔2025〕26号是什么文件", ("title",)),
    ("这份意见是哪天发布的，由哪个单位印发？", ("issuer", "date")),
    ("指南有几章？", ("outline",)),
    ("若干意见一共有多少条，主要讲了什么", ("outline",)),
    ("钒电池储能有什么支持政策？", ()),
])
def test_the_facts_a_question_asks_for(question: str, facts: tuple[str, ...]) -> None:
    assert tuple(f.name for f in asked_facts(question)) == facts


@pytest.mark.parametrize(("question", "says"), [
    ("若干意见是哪个部门发的", "《若干意见》的发文机关：四川省人民政府办公厅（见《若干意见》文末落款）。"),
    ("若干意见是什么时候印发的？", "《若干意见》的成文日期：2025年7月31日（见《若干意见》文末落款）。"),
    ("若干意见的文号是多少", "《若干意见》的文号：川办发〔2025〕26号（见《若干意见》文首）。"),
    ("川办发〔2025〕26号是什么文件？", "《若干意见》的全称：《四川省人民政府办公厅关于深入推进新一轮找矿突破战略行动"
                                     "促进矿业高质量发展的若干意见》（见《若干意见》文首标题）。"),
])
def test_a_documents_own_facts_are_answered_from_its_header_and_closing(corpus: Corpus, question: str,
                                                                      says: str) -> None:
    a = document_facts_answer(question, corpus.documents)
    assert a is not None and not a.abstained and a.mode == "document"
    assert a.text == says and a.citations == ()
    assert "不属于任何条款" in a.notes[0]


def test_a_question_on_a_documents_outline_gets_its_top_headings_and_clause_count(corpus: Corpus) -> None:
    a = document_facts_answer("若干意见一共有几条？", corpus.documents)
    assert a is not None and not a.abstained
    assert a.text.startswith("《若干意见》的结构：除序言外分为6个部分，共18个条款：一、优化勘查布局，夯实找矿基础；二、")
    assert a.text.endswith("六、加强统筹协调，推动矿业发展（见《若干意见》各级标题）。")
    b = document_facts_answer("指南主要讲了哪些方面的内容", corpus.documents)
    assert b is not None and "分为4章" in b.text and "第三章 主要任务；第四章 保障措施" in b.text


def test_a_fact_the_document_does_not_state_is_said_to_be_missing(corpus: Corpus) -> None:
    a = document_facts_answer("指南是哪个部门发布的？文号是多少？", corpus.documents)
    assert a is not None and a.abstained
    assert a.text == "《指南》的文本中没有写明文号、发文机关。"


def test_a_documents_name_alone_gets_its_card(corpus: Corpus) -> None:
    a = document_facts_answer("川办发〔2025〕26号", corpus.documents)
    assert a is not None and not a.abstained
    assert "四川省人民政府办公厅关于深入推进" in a.text and "2025年7月31日" in a.text


@pytest.mark.parametrize("question", [
    "若干意见中关于探矿权续期的规定",            # a topic in the named document: the clauses answer it
    "若干意见是哪个部门负责牵头落实的",          # who carries it out: a clause says
    "《若干意见》是经哪一级同意后提出的？",       # the preamble says
    "指南什么时候出台的钒电池政策",
    "是哪个部门发的",                          # no document named, and the corpus has two
    "两份文件分别是什么时候印发的",
    "若干意见第三部分有哪几条？",                 # a clause number: the router's
    "指南第三章主要讲了什么",
])
def test_questions_about_anything_else_go_to_the_clauses(corpus: Corpus, question: str) -> None:
    assert document_facts_answer(question, corpus.documents) is None


def test_the_asker_answers_a_document_question_without_searching_the_clauses(asker: Asker) -> None:
    a = asker.ask("这份若干意见是哪天发布的，由哪个单位印发？")
    assert not a.abstained and a.retrieved == () and a.citations == ()
    assert "四川省人民政府办公厅" in a.text and "2025年7月31日" in a.text
    assert asker.ask("若干意见中关于探矿权续期的规定").citations[0].clause.citation == "《若干意见》（六）"
