"""list[Hit] -> Answer: an extractive answer with [n] markers, or an honest abstention.

No LLM is needed. From the retrieved clauses the composer picks the sentences that answer the
question (a 多少/比例/目标 question prefers the sentence that carries the figure) and joins them
with short connectives, each followed by its marker; the cited clauses' full text goes with the
answer. When the documents do not cover the question it says so, and lists the nearest clauses
only as "可能相关".

Abstention uses two signals, because dense cosine alone does not separate in-corpus from
off-topic questions (notes/embedding-model.md): how much of the question's weighted vocabulary
the best clause contains (IDF over the indexed chunks; a word the corpus never uses weighs most),
and the dense cosine of the best clause. Their thresholds are calibrated on the QA set's
unanswerable questions (evaluation/tune.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .index import ClauseIndex
from .retrieve import Hit

_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")
_FIGURE_QUESTION = re.compile(
    r"多少|几[个项家种年]|比例|比重|占比|目标|规模|哪年|何时|什么时候|数量|产能|金额|百分之|%")
_FIGURE = re.compile(r"\d|[一二三四五六七八九十百千万亿]+[个项家种吨%]")


@dataclass(frozen=True)
class AnswerParams:
    """Abstention and citation settings (calibrated on the QA set; see evaluation/tune.py)."""

    min_coverage: float = 0.45      # abstain below this share of the question's weighted words…
    min_dense: float = 0.86         # …unless the best clause is at least this close in meaning
    secondary_ratio: float = 0.85   # cite a further clause when its support is this close to the best
    max_citations: int = 3


@dataclass(frozen=True)
class Evidence:
    """Why the composer answered or abstained; shown in --json output and used in calibration."""

    coverage: float
    dense: float
    routed: bool


@dataclass(frozen=True)
class Answer:
    """An answer with its citations. citations[i] is marker [i+1]."""

    question: str
    text: str
    citations: tuple[Hit, ...]
    abstained: bool
    related: tuple[Hit, ...] = ()
    evidence: Evidence | None = None
    notes: tuple[str, ...] = ()
    mode: str = "extractive"
    resolved_question: str = ""
    quotes: tuple[tuple[str, ...], ...] = field(default=())  # sentences quoted per citation
    retrieved: tuple[Hit, ...] = ()   # everything retrieval returned; citations are drawn only from these


class Weights:
    """IDF of BM25 tokens over the indexed chunks, and token sets of clauses (cached)."""

    def __init__(self, index: ClauseIndex) -> None:
        self.index = index
        bm = index.bm25
        df = np.diff(np.asarray(bm.scores["indptr"]))
        n = int(bm.scores["num_docs"])
        self._idf = {tok: math.log(1 + n / (df[i] + 0.5)) for tok, i in bm.vocab_dict.items() if i < len(df)}
        self._unknown = math.log(1 + n / 0.5)
        self._clause_tokens: dict[str, frozenset[str]] = {}

    def idf(self, token: str) -> float:
        """IDF of a token; the largest value for a word the corpus never uses."""
        return self._idf.get(token, self._unknown)

    def clause_tokens(self, hit: Hit) -> frozenset[str]:
        """The BM25 tokens of a clause's text (with its headings)."""
        cid = hit.clause.clause_id
        if cid not in self._clause_tokens:
            text = " ".join(hit.clause.path) + " " + hit.clause.text
            self._clause_tokens[cid] = frozenset(self.index.tokenizer.tokens(text))
        return self._clause_tokens[cid]

    def coverage(self, query_tokens: Sequence[str], tokens: frozenset[str]) -> float:
        """Share of the query's IDF weight found in `tokens`."""
        unique = set(query_tokens)
        total = sum(self.idf(t) for t in unique)
        return sum(self.idf(t) for t in unique if t in tokens) / total if total else 0.0


def evidence(question: str, hits: Sequence[Hit], weights: Weights) -> Evidence:
    """The abstention signals for a question and its hits."""
    if not hits:
        return Evidence(0.0, 0.0, False)
    q_tokens = weights.index.tokenizer.tokens(question)
    top = hits[0]
    cov = max(weights.coverage(q_tokens, weights.clause_tokens(h)) for h in hits[:3])
    return Evidence(round(cov, 4), round(max(h.dense for h in hits[:3]), 4), top.via == "clause-number")


def should_abstain(ev: Evidence, params: AnswerParams) -> bool:
    """True when the documents do not appear to address the question."""
    if ev.routed:
        return False
    return ev.coverage < params.min_coverage and ev.dense < params.min_dense


def compose_answer(question: str, hits: Sequence[Hit], weights: Weights,
                   params: AnswerParams | None = None) -> Answer:
    """The extractive answer (or abstention) for a question and its retrieved clauses."""
    p = params or AnswerParams()
    ev = evidence(question, hits, weights)
    if not hits or should_abstain(ev, p):
        return _abstain(question, hits, ev)
    if ev.routed:
        return _routed_answer(question, hits, ev, p)
    q_tokens = weights.index.tokenizer.tokens(question)
    support = [weights.coverage(q_tokens, weights.clause_tokens(h)) for h in hits]
    best = max(support[0], 1e-9)
    cited_idx = [0] + [i for i in range(1, min(len(hits), 5))
                       if support[i] >= p.secondary_ratio * best and support[i] > 0][: p.max_citations - 1]
    wants_figure = bool(_FIGURE_QUESTION.search(question))
    lines: list[str] = []
    cited: list[Hit] = []
    quotes: list[tuple[str, ...]] = []
    for n, i in enumerate(cited_idx, start=1):
        h = hits[i]
        picked = _pick_sentences(h, q_tokens, weights, wants_figure, 2 if n == 1 else 1)
        cited.append(h)
        quotes.append(tuple(picked))
        lead = f"根据{h.clause.citation}" if n == 1 else f"此外，{h.clause.citation}提出"
        lines.append(f"{lead}：{''.join(picked)}[{n}]")
    return Answer(question, "\n".join(lines), tuple(cited), False, evidence=ev, quotes=tuple(quotes))


def _routed_answer(question: str, hits: Sequence[Hit], ev: Evidence, p: AnswerParams) -> Answer:
    """A question that names clauses by number: quote the opening of each named clause."""
    named = [h for h in hits if h.via == "clause-number"]
    cited = named[: max(p.max_citations, 1)]
    quotes = [tuple(_sentences(h.clause.text)[:2]) for h in cited]
    lines = [f"{h.clause.citation}的内容如下[{i}]：{''.join(q)}"
             for i, (h, q) in enumerate(zip(cited, quotes, strict=True), 1)]
    if len(named) > len(cited):
        lines.append(f"（另有{len(named) - len(cited)}个条款符合该编号，见检索结果。）")
    return Answer(question, "\n".join(lines), tuple(cited), False, evidence=ev, quotes=tuple(quotes))


def _abstain(question: str, hits: Sequence[Hit], ev: Evidence) -> Answer:
    text = "现有文件中没有找到关于这个问题的规定，无法给出有依据的答案。"
    related = tuple(hits[:3])
    if related:
        text += "\n可能相关（仅供参考，并非对问题的回答）：" + "；".join(h.clause.citation for h in related)
    return Answer(question, text, (), True, related=related, evidence=ev)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _pick_sentences(hit: Hit, q_tokens: Sequence[str], weights: Weights, wants_figure: bool, n: int) -> list[str]:
    """The n sentences of a clause that best answer the question, in their original order."""
    sentences = _sentences(hit.clause.text)
    if len(sentences) > 1 and hit.clause.title and sentences[0].rstrip("。").endswith(hit.clause.title):
        body = sentences[1:]  # "（二）做大做精钒钛产业。" is the item's title, not an answer
    else:
        body = sentences
    scored = []
    for pos, s in enumerate(body):
        cov = weights.coverage(q_tokens, frozenset(weights.index.tokenizer.tokens(s)))
        bonus = 0.3 if wants_figure and _FIGURE.search(s) else 0.0
        scored.append((cov + bonus - 0.01 * pos, pos))
    keep = sorted(pos for _, pos in sorted(scored, reverse=True)[:n])
    return [body[i] for i in keep] or sentences[:1]
