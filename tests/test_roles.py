"""Clause roles read off the headings, the role a question asks about, and the prior that retrieval gives it
(rag/roles.py), on the bundled documents, on a plan laid out as others are, and with the real index."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rag.clauses import Document
from rag.corpus import Corpus
from rag.retrieve import RetrievalParams, search
from rag.roles import (
    AIM,
    BACKGROUND,
    MEASURE,
    PREAMBLE,
    ROLES,
    clause_role,
    clause_roles,
    question_stance,
    role_prior,
)
from rag.runtime import Runtime

from .conftest import parse_text

PLAN = """某市新材料产业发展规划
为推动新材料产业高质量发展，制定本规划。
一、发展现状
（一）产业规模。全市新材料产业产值达到100亿元。
（二）存在问题。龙头企业少，创新能力弱。
二、总体要求
（一）指导思想。坚持创新驱动。
（二）发展目标。到2030年，产值达到300亿元。
三、重点任务
（一）培育龙头企业。支持企业兼并重组。
（二）夯实发展基础。建设公共服务平台。
四、保障措施
（一）加大资金支持。设立产业发展基金。
"""


def by_id(doc: Document) -> dict[str, str]:
    return {c.clause_id.split(":")[1]: clause_role(c) for c in doc.clauses}


def test_the_guides_chapters_have_the_roles_their_headings_name(guide: Document) -> None:
    roles = by_id(guide)
    assert roles["preamble"] == PREAMBLE
    assert {roles[k] for k in roles if k.startswith("ch1.")} == {BACKGROUND}  # 编制背景: 发展基础, 存在的问题, 面临的形势
    assert {roles[k] for k in roles if k.startswith("ch2.")} == {AIM}         # 总体要求
    assert {roles[k] for k in roles if k.startswith(("ch3.", "ch4."))} == {MEASURE}  # 主要任务, 保障措施


def test_opinions_are_measures_even_where_a_heading_ends_in_a_background_word(opinions: Document) -> None:
    # "一、优化勘查布局，夯实找矿基础" ends in 基础 but is a measure: only whole heading names count.
    assert Counter(by_id(opinions).values()) == Counter({MEASURE: 18, PREAMBLE: 1})


@pytest.mark.parametrize(("heading", "role"), [
    ("一、发展现状与存在问题", BACKGROUND),
    ("第一章 发展基础和面临形势", BACKGROUND),
    ("（一）机遇与挑战", BACKGROUND),
    ("一、总体要求", AIM),
    ("第一章 指导思想、基本原则和发展目标", AIM),
    ("一、重点任务", MEASURE),
    ("一、优化勘查布局，夯实找矿基础", MEASURE),
    ("一、加强要素保障与资金支持", MEASURE),
])
def test_a_role_is_read_off_a_headings_whole_name(heading: str, role: str) -> None:
    item = "1." if heading.startswith("（") else "（一）"
    doc = parse_text(f"文件\n\n{heading}\n\n{item}内容。正文。\n", "heading")
    assert clause_role(doc.clauses[-1]) == role


def test_a_plan_laid_out_as_others_are_gets_the_same_roles() -> None:
    roles = by_id(parse_text(PLAN, "plan"))
    assert roles == {"preamble": PREAMBLE, "pt1.it1": BACKGROUND, "pt1.it2": BACKGROUND, "pt2.it1": AIM,
                     "pt2.it2": AIM, "pt3.it1": MEASURE, "pt3.it2": MEASURE, "pt4.it1": MEASURE}


@pytest.mark.parametrize("question, stance", [
    ("现在攀西的钛资源储量有多少？", BACKGROUND),
    ("四川钢铁目前最大的短板是什么", BACKGROUND),
    ("咱四川钢铁在全国排老几？", BACKGROUND),           # a ranking, asked colloquially
    ("电费太贵了，指南有没有降电价的说法？", MEASURE),
    ("矿业权出让有什么规定", MEASURE),
    ("指南给全省钢铁产业定的是一个什么样的发展新格局？", MEASURE),  # what the document sets
    ("到2025年钒钛钢铁及稀土产业规模目标是多少？", MEASURE),
    ("探矿权 续期", None),                               # says neither
    ("目前有哪些支持政策", None),                        # says both: no prior
])
def test_question_stance(question: str, stance: str | None) -> None:
    assert question_stance(question) == stance


def test_the_prior_lowers_the_other_role_and_spares_documents_without_a_background(corpus: Corpus) -> None:
    clauses = corpus.clauses
    roles = clause_roles(clauses)
    assert [ROLES[r] for r in roles] == [clause_role(c) for c in clauses]
    background, measures = roles == ROLES.index(BACKGROUND), roles == ROLES.index(MEASURE)
    doc = np.array([[d.doc_id for d in corpus.documents].index(c.doc_id) for c in clauses])
    guide = np.array([c.doc_id == "sichuan-vti-re-guide" for c in clauses])
    measure = role_prior(roles, doc, "有没有降电价的措施", 2.0)
    assert set(measure[background]) == {-2.0} and set(measure[~background]) == {0.0}
    status = role_prior(roles, doc, "目前的储量有多少", 2.0)
    assert set(status[guide & measures]) == {-2.0} and set(status[guide & ~measures]) == {0.0}
    assert set(status[~guide]) == {0.0}                   # the opinions are all measures: nothing else to cite
    assert not role_prior(roles, doc, "探矿权 续期", 2.0).any()


@pytest.mark.slow
@pytest.mark.parametrize(("question", "first"), [
    # The guide's 资源禀赋 clause (第一章第一节（一）) gives the 钛 reserves; a task clause on 钛 outranked it.
    ("现在攀西的钛资源储量有多少？", "sichuan-vti-re-guide:ch1.sec1.it1"),
    # Both the background clause on the 钢铁 industry (第一章第一节（二）: 构建形成了…发展新格局) and the task
    # (第三章第二节（一）: 构建…产业发展新格局) say 发展新格局; what the guide 定的 is the task.
    ("指南给全省钢铁产业定的是一个什么样的发展新格局？", "sichuan-vti-re-guide:ch3.sec2.it1"),
])
def test_the_clause_of_the_role_asked_about_comes_first(runtime: Runtime, question: str, first: str) -> None:
    on = search(runtime.index, runtime.embedder, question, k=3)
    off = search(runtime.index, runtime.embedder, question, k=3, params=RetrievalParams(w_role=0.0))
    assert on[0].clause.clause_id == first
    assert off[0].clause.clause_id != on[0].clause.clause_id


@pytest.mark.slow
def test_a_lowered_clause_ranks_lower_and_is_not_dropped(runtime: Runtime) -> None:
    question = "指南里有没有帮企业降低用电成本的措施？"
    on = search(runtime.index, runtime.embedder, question, k=200)  # every candidate
    off = search(runtime.index, runtime.embedder, question, k=200, params=RetrievalParams(w_role=0.0))
    assert {h.clause.clause_id for h in on} == {h.clause.clause_id for h in off}
    assert all(h.score > 0 for h in on)
