"""Clause roles from the document's own headings, and which role a question asks about.

Chinese plans and guides are written in one order: where things stand (发展基础, 存在的问题, 面临的形势,
under a 编制背景 or 发展现状 heading), what is aimed at (总体要求: 指导思想, 基本原则, 发展目标), and what
will be done (主要任务, 保障措施). Opinions (若干意见) are measures throughout. A clause's role is read off
the headings above it, never off its own words.

A user who asks "有没有降电费的说法" wants a measure, not the clause that describes the 电费 burden as a
problem; one who asks "目前已经形成了哪些基地" wants the state of things, not a plan for new bases. The
question's own cue words say which (question_stance); retrieval then lowers the clauses of the other role
(role_prior), in standard deviations of the fused score (RetrievalParams.w_role, tuned on the dev split).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .clauses import Clause
from .markers import match_heading

BACKGROUND, AIM, MEASURE, PREAMBLE = "background", "aim", "measure", "preamble"
ROLES = (BACKGROUND, AIM, MEASURE, PREAMBLE)  # clause_roles codes: a role's position here

# Role names are matched against a heading's whole name (markers.match_heading's title): "夯实找矿基础" is a measure
# whose heading ends in 基础, not a section on the 发展基础.
# A name may join several ("发展现状与存在问题", "机遇和挑战"): each part must be one.
_BACKGROUND = re.compile(
    r"(?:发展|产业|工作|现实|已有|良好)?基础|(?:存在的?|主要|突出|面临的?)?(?:问题|不足)"
    r"|(?:面临的?|发展|当前)?(?:形势|机遇|挑战)|(?:编制|规划|发展|出台)?背景"
    r"|(?:发展|产业|基本)?现状|基本情况|(?:发展|取得的?)?(?:成效|成就)")
_AIM = re.compile(r"总体要求|总体思路|指导思想|基本原则|(?:发展|主要|总体|工作)?目标")
_JOINED = re.compile(r"[与和及、]")

# Cue words of a question about how things stand, and of one about what is to be done or allowed.
_STATUS = re.compile(r"现在|目前|当前|现状|已经|已有|已建|截至|至今|这些年|过去|以前|毛病|短板|不足|差距|瓶颈|难题|底子"
                     r"|家底|储量|资源量|排名|排第|排老?几|比重|形成了")
# What a document sets is asked with 定的, 提出, 部署, 任务, 目标 ("指南给全省钢铁产业定的是一个什么样的发展新格局").
_MEASURE = re.compile(r"支持|鼓励|政策|措施|办法|说法|要求|规定|打算|安排|怎么管|怎么办|能不能|可不可以|可以|允许"
                      r"|会不会|将来|以后|今后|该怎么|扶持|优惠|补贴|帮|定的|定了|提出|部署|任务|目标")


def heading_name(heading: str) -> str:
    """A heading without its number, as the parser reads it (markers.match_heading): "第二节 存在的问题" ->
    "存在的问题"; "" for a path entry that is no numbered heading (序言, 第一段)."""
    h = match_heading(heading)
    return h.title if h is not None else ""


def clause_role(clause: Clause) -> str:
    """BACKGROUND, AIM or MEASURE by the nearest heading above the clause that names a role; PREAMBLE for
    the text before the first heading."""
    if clause.keys and clause.keys[0][0] == "preamble":
        return PREAMBLE
    for heading in reversed(clause.path[:-1]):
        parts = _JOINED.split(heading_name(heading))
        if all(_BACKGROUND.fullmatch(p) for p in parts):
            return BACKGROUND
        if all(_AIM.fullmatch(p) for p in parts):
            return AIM
    return MEASURE


def clause_roles(clauses: Sequence[Clause]) -> np.ndarray:
    """The role of each clause, in order, as its position in ROLES (int8: comparing 100,000 strings per query
    would cost milliseconds)."""
    return np.array([ROLES.index(clause_role(c)) for c in clauses], dtype=np.int8)


def question_stance(question: str) -> str | None:
    """BACKGROUND when the question asks how things stand, MEASURE when it asks what is done or allowed,
    None when it says neither or both."""
    status, measure = bool(_STATUS.search(question)), bool(_MEASURE.search(question))
    if status == measure:
        return None
    return BACKGROUND if status else MEASURE


def role_prior(roles: np.ndarray, clause_doc: np.ndarray, question: str, weight: float) -> np.ndarray:
    """Minus `weight` for the clauses whose role (clause_roles) the question does not ask about: background
    clauses when it asks for measures, measures when it asks how things stand. Only within documents that have a
    background part: in one that is all measures (若干意见) every clause is what there is to cite."""
    stance = question_stance(question)
    if stance is None or weight == 0:
        return np.zeros(len(roles))
    background = roles == ROLES.index(BACKGROUND)
    if stance == MEASURE:
        return np.where(background, -weight, 0.0)
    with_background = np.bincount(clause_doc[background], minlength=int(clause_doc.max(initial=0)) + 1) > 0
    return np.where((roles == ROLES.index(MEASURE)) & with_background[clause_doc], -weight, 0.0)
