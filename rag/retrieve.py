"""query -> list[Hit]: clause-number lookup first, then three rankings fused.

The rankings: dense over whole clauses (a clause scores as its best chunk), dense over phrases (a
clause scores as its best phrase; rag/chunks.py) and BM25 over chunks, where each question word the
corpus never uses also counts its nearest corpus words at a lower weight (rag/expand.py). Fusion sums each view's
standardised scores over clauses: score = w_dense * z_dense + w_phrase * z_phrase + w_lexical * z_lexical,
z = (s - mean) / sd over the view's candidates (RetrievalParams.fusion "rrf" gives reciprocal rank fusion,
w / (k + rank), which served first). The fusion and its parameters were chosen on the dev split of the
evaluation questions (evaluation/tune.py), not guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from .citations import (
    mentioned_documents,
    missing_clause,
    named_part,
    parse_reference,
    resolve,
    without_document_names,
)
from .clauses import Clause, SubUnit
from .embed import Embedder
from .errors import QueryError
from .index import ClauseIndex
from .normalize import fold_query
from .roles import role_prior

MAX_QUERY_CHARS = 500
# A query that may name several clause numbers ("（十五）和（十九）", "第十五至十九条").
_SEVERAL = re.compile(r"[和与及、，,至到或—~～-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_SEARCHABLE = re.compile(r"[\w\u3400-\u9fff]")


@dataclass(frozen=True)
class RetrievalParams:
    """Fusion settings (tuned on the QA set; see README)."""

    # Chosen on the dev split (evaluation/tune.py); figures in the README.
    # "zscore": each view's candidate scores standardised ((s - mean) / sd) and summed with the weights;
    # "rrf": reciprocal rank fusion, w / (rrf_k + rank). Ranks treat a dense cosine 0.002 ahead (noise for
    # e5-small, whose cosines crowd into 0.85-0.95) like a BM25 score six times higher; z-scores keep margins.
    fusion: str = "zscore"
    rrf_k: float = 5.0
    w_dense: float = 0.5
    w_phrase: float = 0.75
    w_lexical: float = 1.0
    candidates: int = 20       # chunks taken from each ranking before fusion
    # A question that names one document ("指南有没有…") leans to it, by this many standard deviations (or,
    # with rrf, this weight at rank 1). Kept as a weak prior for users who name the document.
    w_named_doc: float = 0.5
    # Query expansion (rag/expand.py): each question word the corpus never uses adds the BM25 scores of its
    # `expansion_depth` nearest corpus words at cosine >= expansion_min_cosine, times w_expansion (0 turns it off).
    expansion_depth: int = 2
    expansion_min_cosine: float = 0.88
    w_expansion: float = 0.5
    # The lexicon's words for the users' words in the question (corpus/lexicon.tsv, rag/lexicon.py) add their BM25
    # scores times w_lexicon: a listed synonym counts at least as the user's word itself (which the documents do not
    # write). Chosen on dev (evaluation/tune.py lexicon grid: 0, 0.5, 1, 1.5, 2; 2 best, 1 one question behind).
    w_lexicon: float = 2.0
    # A question that asks how things stand lowers the measures of a document with a background part, and one
    # that asks what is done or allowed lowers the background clauses, by this many standard deviations (rag/roles.py).
    w_role: float = 2.0


@dataclass(frozen=True)
class Hit:
    """One retrieved clause."""

    clause: Clause
    doc_title: str
    score: float               # fused score (clause-number matches rank above every fused score)
    rank: int                  # 1-based
    dense: float               # cosine of the clause's best chunk (0.0 when not among candidates)
    lexical: float             # BM25 of the clause's best chunk
    via: str                   # "clause-number" | "hybrid" | "dense" | "lexical"
    phrase: float              # cosine of the clause's best phrase (0.0 when not among candidates)
    part: SubUnit | None = None  # the 款/项/一是 a clause-number query named inside the clause


def clean_query(query: str) -> str:
    """Strip control characters and surrounding space, fold full-width letters and digits to ASCII and traditional
    characters to simplified, as the documents are written (normalize.fold_query); refuse what cannot be searched."""
    q = fold_query(_CONTROL.sub(" ", unicodedata.normalize("NFC", query or ""))).strip()
    if not q:
        raise QueryError("查询为空：请输入问题或关键词")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(f"查询过长（{len(q)} 字）：请缩短到 {MAX_QUERY_CHARS} 字以内")
    if not _SEARCHABLE.search(q):
        raise QueryError("查询中没有可检索的文字（只有标点或符号）")
    return q


def allowed_clauses(index: ClauseIndex, doc: str | None = None, scope: str | None = None) -> np.ndarray:
    """Boolean mask over index.clauses for a document filter and a 章/节/部分 scope."""
    mask = np.ones(len(index.clauses), dtype=bool)
    if doc:
        index.corpus.document(doc)  # raises, naming the documents there are
        mask &= index.clause_doc == [d.doc_id for d in index.corpus.documents].index(doc)
    if scope:
        docs = [index.corpus.document(doc)] if doc else list(index.corpus.documents)
        ref = parse_reference(scope, docs)
        if ref is None:
            raise QueryError(f"无法识别的范围：{scope}（例如：第三章、第三章第二节、二、）")
        inside = {c.clause_id for c in resolve(ref, docs)}
        if not inside:
            raise QueryError(f"范围“{scope}”在所选文件中不存在")
        mask &= np.array([c.clause_id in inside for c in index.clauses])
    return mask


def search(index: ClauseIndex, embedder: Embedder, query: str, k: int = 5, doc: str | None = None,
           scope: str | None = None, params: RetrievalParams | None = None, mode: str = "hybrid") -> list[Hit]:
    """The k best clauses for a query. mode: "hybrid" (default), "dense" or "lexical" (baselines)."""
    p = params or RetrievalParams()
    q = clean_query(query)
    if k < 1:
        raise QueryError("k 必须是正整数")
    mask = allowed_clauses(index, doc, scope)
    parts = _route(index, q, mask) if mode == "hybrid" else {}
    routed = list(parts)
    # A full title or a 文号 says which document is meant (named_document), not what is asked: the clauses that
    # repeat the title's words (a preamble) must not win on it. The short titles stay: "指南里…" helped the dense
    # views find the guide's clauses (measured: stripping them too lost 4 first citations on the QA set).
    topic = without_document_names(q, index.corpus.documents, short_titles=False) if mode == "hybrid" else q
    dense, lexical, phrase = _clause_scores(index, embedder, topic if _SEARCHABLE.search(topic) else q, mask, p, mode)
    fused = fuse(dense, lexical, mask, p, mode, phrase)
    if mode == "hybrid":
        fused = with_priors(fused, priors(index, q, p))
    order = order_candidates(fused, mask, routed)
    hits: list[Hit] = []
    top = float(np.max(fused)) if len(fused) else 0.0
    for i in order:
        if len(hits) >= k:
            break
        via = "clause-number" if i in routed else mode
        score = top + 1.0 + (len(routed) - routed.index(i)) * 1e-3 if via == "clause-number" else float(fused[i])
        c = index.clauses[i]
        hits.append(Hit(c, index.corpus.document(c.doc_id).title, score, len(hits) + 1,
                        float(max(dense[i], 0.0)), float(max(lexical[i], 0.0)), via, float(max(phrase[i], 0.0)),
                        parts.get(i)))
    return hits


def gap_note(gap: str, hits: Sequence[Hit]) -> str:
    """The note above search results on what a query's clause numbers name that the documents lack (`gap`:
    unmatched_reference), saying what the results below it are."""
    found = hits and hits[0].via == "clause-number"
    return f"注：{gap}；以下是{'找到的条款' if found else '按内容检索的结果'}。"


def unmatched_reference(index: ClauseIndex, query: str, hits: Sequence[Hit]) -> str:
    """What a clause number in `query` names that the documents lack (citations.missing), "" when it names
    none or the router found all it names ("（十五）和（十九）": the router finds （十五）, and （十九） is said)."""
    if hits and hits[0].via == "clause-number" and not _SEVERAL.search(query):
        return ""  # one address, found: nothing is parsed or looked up a second time
    return missing_clause(query, index.corpus.documents)


def order_candidates(fused: np.ndarray, mask: np.ndarray, routed: list[int]) -> list[int]:
    """Routed clauses first, then the allowed clauses with a positive fused score, best first.

    Only the candidates (at most two rankings' worth) are sorted: sorting every clause of a
    100k-clause corpus in Python cost ~19 ms per query (benchmarks/bench.py).
    """
    routed_set = set(routed)
    cand = np.flatnonzero(mask & (fused > 0))
    ranked = cand[np.argsort(-fused[cand], kind="stable")]
    return routed + [int(i) for i in ranked if int(i) not in routed_set]


def named_document(index: ClauseIndex, q: str) -> np.ndarray:
    """1 for the clauses of the one document a question names, if it names one; 0 elsewhere."""
    named = mentioned_documents(q, index.corpus.documents)
    if len(named) != 1:
        return np.zeros(len(index.clauses))
    position = [d.doc_id for d in index.corpus.documents].index(named[0].doc_id)
    return (index.clause_doc == position).astype(float)


@dataclass(frozen=True)
class QuestionPriors:
    """What the question itself says about where to look, each at unit weight: the document it names
    (named_document) and the role of clause it asks about (rag/roles.py: -1 for the clauses of the other role)."""

    named: np.ndarray
    role: np.ndarray

    @classmethod
    def of(cls, index: ClauseIndex, q: str) -> QuestionPriors:
        return cls(named_document(index, q), role_prior(index.clause_role, index.clause_doc, q, 1.0))

    def weighed(self, p: RetrievalParams) -> np.ndarray:
        """The priors at the weights of `p`, on the fused scale (prior_weight)."""
        return self.named * prior_weight(p.w_named_doc, p) + self.role * prior_weight(p.w_role, p)


def priors(index: ClauseIndex, q: str, p: RetrievalParams) -> np.ndarray:
    """The question's priors (QuestionPriors) at the weights of `p`."""
    return QuestionPriors.of(index, q).weighed(p)


def with_priors(fused: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The candidates' fused scores plus a prior, shifted so that every candidate stays positive (order_candidates
    keeps positive scores only: a lowered clause ranks lower, it is not dropped); 0 elsewhere."""
    candidate = fused > 0
    out = np.where(candidate, fused + prior, 0.0)
    if candidate.any() and (low := float(out[candidate].min())) < 1e-3:
        out[candidate] += 1e-3 - low
    return out


def prior_weight(weight: float, p: RetrievalParams) -> float:
    """A prior's weight on the fused scale: standard deviations with z-score fusion, the weight at rank 1 with RRF."""
    return weight if p.fusion == "zscore" else weight / (p.rrf_k + 1)


def _route(index: ClauseIndex, q: str, mask: np.ndarray) -> dict[int, SubUnit | None]:
    """Clauses named by number in the query, in document order, each with the part named inside it."""
    ref = parse_reference(q, index.corpus.documents)
    if ref is None:
        return {}
    position = {c.clause_id: i for i, c in enumerate(index.clauses)}
    return {position[c.clause_id]: named_part(ref, c) for c in resolve(ref, index.corpus.documents)
            if mask[position[c.clause_id]]}


def _clause_scores(index: ClauseIndex, embedder: Embedder, q: str, mask: np.ndarray, p: RetrievalParams,
                   mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-clause scores: (best-chunk cosine, best-chunk BM25, best-phrase cosine); -inf where not a candidate."""
    n = len(index.clauses)
    dense = np.full(n, -np.inf, dtype=np.float64)
    lexical = np.full(n, -np.inf, dtype=np.float64)
    phrase = np.full(n, -np.inf, dtype=np.float64)
    chunk_ok = mask[index.chunk_clause]
    if mode in ("hybrid", "dense"):
        vec = embedder.encode_queries([q])
        _best_per_clause(dense, index.faiss_index, vec, index.chunk_clause, chunk_ok, p.candidates)
        # A clause has several phrases: look deeper so that `candidates` clauses are still reached.
        _best_per_clause(phrase, index.phrase_index, vec, index.phrase_clause, mask[index.phrase_clause],
                         p.candidates * max(1, round(len(index.phrases) / max(len(index.clauses), 1))))
    if mode in ("hybrid", "lexical"):
        lexical = lexical_scores(index, embedder, q, chunk_ok, p, expand=mode == "hybrid")
    return dense, lexical, phrase


def lexical_scores(index: ClauseIndex, embedder: Embedder, q: str, chunk_ok: np.ndarray, p: RetrievalParams,
                   expand: bool = True) -> np.ndarray:
    """Per-clause best-chunk BM25 of the query's tokens, plus w_expansion times that of the corpus words standing in
    for its unknown words (rag/expand.py) and w_lexicon times that of the lexicon's words for its users' words
    (rag/lexicon.py); neither when `expand` is False (the BM25 baseline stays plain BM25). -inf where not among the
    `candidates` best chunks."""
    lexical = np.full(len(index.clauses), -np.inf, dtype=np.float64)
    tokens = index.tokenizer.tokens(q)
    vocab = index.vocab
    extra = (vocab.expansion(q, index.tokenizer, embedder, p.expansion_depth, p.expansion_min_cosine)
             if expand and p.w_expansion > 0 else [])
    synonyms = ([w for w in vocab.lexicon.stand_ins(q) if w not in extra]
                if expand and p.w_lexicon > 0 else [])
    if tokens or extra or synonyms:
        bm = index.bm25.get_scores(tokens) if tokens else np.zeros(len(index.chunks))
        if extra:
            bm = bm + p.w_expansion * index.bm25.get_scores(extra)
        if synonyms:
            bm = bm + p.w_lexicon * index.bm25.get_scores(synonyms)
        bm = np.where(chunk_ok, bm, 0.0)
        top = np.argsort(-bm, kind="stable")[: p.candidates]
        _keep_best(lexical, bm[top], top, index.chunk_clause, bm > 0)
    return lexical


def _best_per_clause(out: np.ndarray, faiss_index: Any, vec: np.ndarray, row_clause: np.ndarray,
                     row_ok: np.ndarray, depth: int) -> None:
    """out[clause] = the best inner product among its rows in the top `depth` (more when filtered)."""
    want = min(faiss_index.ntotal, max(depth, 1) * (1 if row_ok.all() else 4))
    if hasattr(faiss_index, "hnsw"):
        # HNSW finds good neighbours only about efSearch deep. The phrase view asks for ~550 rows: at 1.1 M
        # phrase rows and efSearch 256 a query's source clause was in the top 10 for 85% of queries, at
        # efSearch = rows asked for 99%, +4 ms (benchmarks/phrase_scale.md). Per call, so thread-safe.
        ef = faiss.SearchParametersHNSW(efSearch=max(faiss_index.hnsw.efSearch, want))  # type: ignore[attr-defined]
        scores, rows = faiss_index.search(vec, want, params=ef)
    else:
        scores, rows = faiss_index.search(vec, want)
    _keep_best(out, scores[0], rows[0], row_clause, row_ok)


def _keep_best(out: np.ndarray, scores: np.ndarray, rows: np.ndarray, row_clause: np.ndarray,
               row_ok: np.ndarray) -> None:
    """out[clause] = max(out[clause], score) for each found row (r >= 0) that row_ok allows."""
    for s, r in zip(scores, rows, strict=True):
        if r >= 0 and row_ok[r]:
            ci = row_clause[r]
            out[ci] = max(out[ci], float(s))


def rrf_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each finite score (ties in index order); inf where -inf. Sorts only the finite ones."""
    ranks = np.full(len(scores), np.inf)
    idx = np.flatnonzero(np.isfinite(scores))
    ranks[idx[np.argsort(-scores[idx], kind="stable")]] = np.arange(1, len(idx) + 1)
    return ranks


def standardize(scores: np.ndarray, rest: float | None = None) -> np.ndarray:
    """(score - mean) / sd. With `rest` None the statistics are the finite scores' (a view's candidates, cut
    from a longer list) and a non-candidate counts as the lowest candidate; with a number, every non-candidate
    has that score and counts too (BM25 that matched fewer chunks than it may keep: all others score 0).
    All zero when nothing differs."""
    finite = np.isfinite(scores)
    if not finite.any():
        return np.zeros(len(scores))
    filled = np.where(finite, scores, scores[finite].min() if rest is None else rest)
    values = filled[finite] if rest is None else filled
    sd = float(values.std())
    return (filled - values.mean()) / sd if sd > 0 else np.zeros(len(scores))


def fuse(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, p: RetrievalParams, mode: str,
         phrase: np.ndarray | None = None) -> np.ndarray:
    """Fused clause scores: positive for a candidate of any view, 0 elsewhere and outside the mask.
    "dense" fuses the two dense views without BM25."""
    if mode == "lexical":
        fused = np.where(np.isfinite(lexical), lexical, 0.0)
    elif p.fusion == "zscore":
        # BM25 kept every chunk that matched when it kept fewer than `candidates` clauses: the rest score 0.
        uncut = 0.0 if np.isfinite(lexical).sum() < p.candidates else None
        given = [(p.w_dense, dense, None), (p.w_phrase, phrase, None),
                 (p.w_lexical, lexical if mode != "dense" else None, uncut)]
        views = [(w, s, rest) for w, s, rest in given if s is not None and w > 0]
        candidate = np.zeros(len(dense), dtype=bool)
        total = np.zeros(len(dense))
        for w, s, rest in views:
            candidate |= np.isfinite(s)
            total += w * standardize(s, rest)
        # Shifted so that every candidate is positive (order_candidates keeps positive scores only).
        fused = np.where(candidate, total - (total[candidate].min() if candidate.any() else 0.0) + 1e-3, 0.0)
    else:
        fused = p.w_dense / (p.rrf_k + rrf_ranks(dense))
        if phrase is not None:
            fused = fused + p.w_phrase / (p.rrf_k + rrf_ranks(phrase))
        if mode != "dense":
            fused = fused + p.w_lexical / (p.rrf_k + rrf_ranks(lexical))
    return np.where(mask, fused, 0.0)
