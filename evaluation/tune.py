"""Tune fusion, BM25 and abstention on the dev split of the QA set; report the test split untouched.

    .venv/bin/python evaluation/tune.py            # prints the grids and the chosen settings

Per question the dense and BM25 clause scores are computed once; each setting is then only a
numpy re-fusion, so the grids are cheap. The chosen values are written into the defaults of
rag.retrieve.RetrievalParams and rag.answer.AnswerParams by hand, with the figures in the README.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import bm25s
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer import AnswerParams, Weights, compose_answer, evidence, should_abstain
from rag.config import Settings
from rag.evaluate import QAItem, answer_metrics, load_qa, retrieval_metrics
from rag.index import BM25_B, BM25_K1, ClauseIndex
from rag.retrieve import (
    Hit,
    QuestionPriors,
    RetrievalParams,
    _clause_scores,
    _route,
    allowed_clauses,
    fuse,
    lexical_scores,
    order_candidates,
    priors,
    search,
    with_priors,
)
from rag.runtime import Runtime, load_runtime

QA = Path(__file__).resolve().parent / "qa"
# Well under the 5% the product allows: thresholds chosen at the edge on dev abstained on 5.7% of the test
# split's answerable questions when this was first measured (README).
ANSWERABLE_ABSTAINED_MAX = 0.02
# A stricter citation rule may drop a right further citation and the key facts it quoted: at most this share of
# the key facts found without the rule may be lost.
FACTS_GIVEN_UP_MAX = 0.01


def fusion_grid(rt: Runtime, items: list[QAItem]) -> RetrievalParams:
    """Grid over the fusion (z-score sum or RRF with its k), the two dense weights, the candidate depth,
    the named-document bonus and (z-score only) the role prior; best dev MRR@10 (then Hit@1) wins."""
    answerable = [it for it in items if it.answerable]
    cache = {}
    depths = (20, 50)
    for it in answerable:
        mask = allowed_clauses(rt.index)
        # The candidates each depth really gives (z-scores depend on how many there are, not only on ranks).
        scores = {n: _clause_scores(rt.index, rt.embedder, it.question, mask, RetrievalParams(candidates=n),
                                    "hybrid") for n in depths}
        cache[it.qid] = (list(_route(rt.index, it.question, mask)), scores, mask,
                         QuestionPriors.of(rt.index, it.question))
    ids = [c.clause_id for c in rt.index.clauses]

    def runs_for(p: RetrievalParams) -> dict[str, list[str]]:
        runs = {}
        for qid, (routed, scores, mask, question_priors) in cache.items():
            d, lx, ph = scores[p.candidates]
            fused = with_priors(fuse(d, lx, mask, p, "hybrid", ph), question_priors.weighed(p))
            order = order_candidates(fused, mask, routed)
            runs[qid] = [ids[i] for i in order[:10]]
        return runs

    dev = [it for it in answerable if it.split == "dev"]
    test = [it for it in answerable if it.split == "test"]
    rows = []
    grid = [RetrievalParams(fusion="rrf", rrf_k=k, w_dense=wd, w_phrase=wp, w_lexical=1.0, candidates=cand,
                            w_named_doc=wn)
            for k, wd, wp, cand, wn in itertools.product([3, 5, 10, 20, 40, 60], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                                                         [0.0, 0.4, 0.6, 0.8, 1.0, 1.2], depths, [0.0, 0.5, 1.0])]
    grid += [RetrievalParams(fusion="zscore", w_dense=wd, w_phrase=wp, w_lexical=1.0, candidates=cand, w_named_doc=wn,
                             w_role=wr)
             for wd, wp, cand, wn, wr in itertools.product([0.0, 0.25, 0.5, 0.75, 1.0],
                                                           [0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
                                                           depths, [0.0, 0.5, 1.0], [0.0, 1.0, 2.0, 3.0])]
    for p in grid:
        runs = runs_for(p)
        rows.append((retrieval_metrics(dev, runs), retrieval_metrics(test, runs), p))
    rows.sort(key=lambda r: (r[0]["mrr@10"], r[0]["hit@1"]), reverse=True)
    print("fusion  rrf_k w_dense w_phrase cand w_doc w_role | dev hit@1 mrr@10 recall@5 | test hit@1 mrr@10 recall@5")
    best_rrf = next(r for r in rows if r[2].fusion == "rrf")
    for d, t, p in [*rows[:12], best_rrf]:
        print(f"{p.fusion:6} {p.rrf_k:5.0f} {p.w_dense:7.2f} {p.w_phrase:8.2f} {p.candidates:4d} "
              f"{p.w_named_doc:5.1f} {p.w_role:6.1f} | "
              f"{d['hit@1']:.3f} {d['mrr@10']:.3f} {d['recall@5']:.3f}"
              f" | {t['hit@1']:.3f} {t['mrr@10']:.3f} {t['recall@5']:.3f}")
    for label, view in (("whole-clause dense alone", RetrievalParams(w_dense=1.0, w_phrase=0.0, w_lexical=0.0)),
                        ("phrase dense alone", RetrievalParams(w_dense=0.0, w_phrase=1.0, w_lexical=0.0)),
                        ("BM25 alone", RetrievalParams(w_dense=0.0, w_phrase=0.0, w_lexical=1.0))):
        d = retrieval_metrics(dev, runs_for(view))
        print(f"{label} (clause-number router included): dev hit@1 {d['hit@1']:.3f} mrr@10 {d['mrr@10']:.3f}")
    default = RetrievalParams()
    d, t = retrieval_metrics(dev, runs_for(default)), retrieval_metrics(test, runs_for(default))
    print(f"current defaults {default}: dev mrr@10 {d['mrr@10']:.3f} hit@1 {d['hit@1']:.3f} | "
          f"test mrr@10 {t['mrr@10']:.3f} hit@1 {t['hit@1']:.3f}")
    return rows[0][2]


Scored = tuple[tuple[float, float, float], dict[str, float], dict[str, float]]  # (dev key, dev, test)


def lexical_side(rt: Runtime, items: list[QAItem], base: RetrievalParams,
                 settings: Iterable[tuple[ClauseIndex, RetrievalParams]]) -> list[Scored]:
    """Dev and test retrieval metrics of settings that change only the BM25 side (its index or the query
    expansion): the dense views are computed once per question with `base`. The dev key, MRR@10, Hit@1 and
    Recall@5 to 3 places, orders them (less than 0.001 of dev MRR@10 is less than one question moving from
    rank 2 to rank 3)."""
    answerable = [it for it in items if it.answerable]
    dev = [it for it in answerable if it.split == "dev"]
    test = [it for it in answerable if it.split == "test"]
    ids = [c.clause_id for c in rt.index.clauses]
    mask = allowed_clauses(rt.index)
    chunk_ok = mask[rt.index.chunk_clause]
    cache = {}
    for it in answerable:
        d, _, ph = _clause_scores(rt.index, rt.embedder, it.question, mask, base, "dense")
        cache[it.qid] = (it.question, d, ph, list(_route(rt.index, it.question, mask)),
                         priors(rt.index, it.question, base))
    rows = []
    for index, p in settings:
        runs = {}
        for qid, (q, d, ph, routed, bonus) in cache.items():
            lexical = lexical_scores(index, rt.embedder, q, chunk_ok, p)
            fused = with_priors(fuse(d, lexical, mask, p, "hybrid", ph), bonus)
            runs[qid] = [ids[i] for i in order_candidates(fused, mask, routed)[:10]]
        dm, tm = retrieval_metrics(dev, runs), retrieval_metrics(test, runs)
        rows.append(((round(dm["mrr@10"], 3), round(dm["hit@1"], 3), round(dm["recall@5"], 3)), dm, tm))
    return rows


def pick(labels: list[str], rows: list[Scored], shipped: str, title: str, show: int | None = None) -> str:
    """Print the settings best first (the first `show`, and the first setting) and return the label of the
    best on dev; among ties, the shipped one when it is there, else the middle one."""
    print(f"\n{title} | dev hit@1 mrr@10 recall@5 | test hit@1 mrr@10 recall@5")
    order = sorted(range(len(rows)), key=lambda i: rows[i][0], reverse=True)
    for i in (order[:show] + [0]) if show else order:
        _, dm, tm = rows[i]
        print(f"  {labels[i]} | {dm['hit@1']:.3f} {dm['mrr@10']:.3f} {dm['recall@5']:.3f} | "
              f"{tm['hit@1']:.3f} {tm['mrr@10']:.3f} {tm['recall@5']:.3f}")
    best = max(r[0] for r in rows)
    ties = [labels[i] for i, r in enumerate(rows) if r[0] == best]
    chosen = shipped if shipped in ties else ties[len(ties) // 2]
    print(f"{len(ties)} settings tie on dev: {'; '.join(ties)}. Chosen: {chosen}")
    return chosen


def expansion_grid(rt: Runtime, items: list[QAItem], base: RetrievalParams) -> RetrievalParams:
    """Grid over query expansion (rag/expand.py) on top of the fusion `base`: the cosine floor, the neighbours per
    unknown word and their BM25 weight (0 = off). Each setting recomputes BM25 only (the words' neighbours are
    cached after the first). Best dev MRR@10, then Hit@1, then Recall@5 wins (lexical_side, pick)."""
    grid = [replace(base, w_expansion=0.0)] + [
        replace(base, expansion_min_cosine=c, expansion_depth=d, w_expansion=w)
        for c, d, w in itertools.product([0.86, 0.88, 0.90, 0.92], [1, 2, 3], [0.3, 0.5, 0.7, 1.0])]
    labels = [f"{p.expansion_min_cosine:.2f} {p.expansion_depth} {p.w_expansion:.1f}" for p in grid]
    rows = lexical_side(rt, items, base, [(rt.index, p) for p in grid])
    s = RetrievalParams()
    chosen = pick(labels, rows, f"{s.expansion_min_cosine:.2f} {s.expansion_depth} {s.w_expansion:.1f}",
                  "expansion: min_cosine depth weight", show=12)
    return grid[labels.index(chosen)]


def lexicon_grid(rt: Runtime, items: list[QAItem], base: RetrievalParams) -> RetrievalParams:
    """Grid over the BM25 weight of the lexicon's words (corpus/lexicon.tsv, rag/lexicon.py; 0 = off) on top of
    `base`. Best dev MRR@10, then Hit@1, then Recall@5 wins (lexical_side, pick)."""
    grid = [replace(base, w_lexicon=w) for w in (0.0, 0.5, 1.0, 1.5, 2.0)]
    labels = [f"{p.w_lexicon:.1f}" for p in grid]
    rows = lexical_side(rt, items, base, [(rt.index, p) for p in grid])
    chosen = pick(labels, rows, f"{RetrievalParams().w_lexicon:.1f}", "lexicon: weight")
    return grid[labels.index(chosen)]


def bm25_grid(rt: Runtime, items: list[QAItem]) -> tuple[float, float]:
    """Grid over BM25's k1 and b (the index is built with rag.index.BM25_K1, BM25_B), the shipped fusion and
    expansion on top; each setting re-indexes the chunks' tokens in memory. Best dev MRR@10, then Hit@1, then
    Recall@5 wins (lexical_side, pick)."""
    tokens = [rt.index.tokenizer.tokens(c.index_text) for c in rt.index.chunks]
    grid = list(itertools.product([0.6, 0.9, 1.2, 1.5, 2.0], [0.3, 0.5, 0.75, 0.9]))
    def settings() -> Iterator[tuple[ClauseIndex, RetrievalParams]]:
        for k1, b in grid:  # one BM25 model in memory at a time
            model = bm25s.BM25(k1=k1, b=b)
            model.index(tokens, show_progress=False)
            yield replace(rt.index, bm25=model), RetrievalParams()

    labels = [f"{k1:.1f} {b:.2f}" for k1, b in grid]
    chosen = pick(labels, lexical_side(rt, items, RetrievalParams(), settings()), f"{BM25_K1:.1f} {BM25_B:.2f}",
                  "bm25: k1 b")
    return grid[labels.index(chosen)]


def retrieved(rt: Runtime, items: list[QAItem], params: RetrievalParams) -> dict[str, list[Hit]]:
    """The 5 clauses each question retrieves with `params`, as the answer composer gets them."""
    return {it.qid: search(rt.index, rt.embedder, it.question, k=5, params=params) for it in items}


def abstention_grid(rt: Runtime, items: list[QAItem], hits: dict[str, list[Hit]]) -> AnswerParams:
    """Grid over the abstention thresholds on dev: most unanswerable questions caught while at most
    ANSWERABLE_ABSTAINED_MAX of answerable ones abstain; among those, the fewest answerable ones abstaining.
    When the shipped setting is among the settings that still tie it is kept (dev gives no reason to move it;
    the middle of a wide plateau moved each time questions were added); otherwise the middle one."""
    weights = Weights(rt.index)
    feats = [(it, evidence(it.question, hits[it.qid], weights)) for it in items]
    rows = []
    for cov, dense, kind in itertools.product(np.arange(0.0, 0.55, 0.05), np.arange(0.84, 0.90, 0.002),
                                              [0.3, 0.5, 0.7]):
        p = AnswerParams(min_coverage=round(float(cov), 3), min_dense=round(float(dense), 3), kind_support=kind)
        stats = {}
        for split in ("dev", "test"):
            group = [(it, ev) for it, ev in feats if it.split == split]
            neg = [ev for it, ev in group if not it.answerable]
            pos = [ev for it, ev in group if it.answerable]
            stats[split] = (sum(should_abstain(ev, p) for ev in neg) / max(len(neg), 1),
                            sum(should_abstain(ev, p) for ev in pos) / max(len(pos), 1))
        if stats["dev"][1] <= ANSWERABLE_ABSTAINED_MAX:
            rows.append(((stats["dev"][0], -stats["dev"][1]), p, stats))
    best = max((r[0] for r in rows), default=(0.0, 0.0))
    ties = [r for r in rows if r[0] == best]
    print("\nabstention: min_coverage min_dense kind_support | dev recall answerable-abstained | test ...")
    for _, p, st in ties[:: max(1, len(ties) // 10)]:
        print(f"  {p.min_coverage:.2f} {p.min_dense:.3f} {p.kind_support:.1f} | {st['dev'][0]:.3f} {st['dev'][1]:.3f}"
              f" | {st['test'][0]:.3f} {st['test'][1]:.3f}")
    shipped = AnswerParams()
    if any(p == shipped for _, p, _ in ties):
        chosen = shipped
        print(f"{len(ties)} settings tie on dev; the shipped one is among them and is kept: {chosen}")
    else:
        chosen = ties[len(ties) // 2][1] if ties else shipped
        print(f"{len(ties)} settings tie on dev; the middle one: {chosen}")
    p = AnswerParams()
    for split in ("dev", "test"):
        held = [should_abstain(ev, p) for it, ev in feats if it.split == split and not it.answerable]
        lost = [should_abstain(ev, p) for it, ev in feats if it.split == split and it.answerable]
        print(f"current {split}: abstention recall {np.mean(held):.3f}, answerable abstained {np.mean(lost):.3f}")
    print("unanswerable questions still answered with the current settings:")
    for it, ev in feats:
        if not it.answerable and not should_abstain(ev, p):
            print(f"  {it.split} {it.qid} {it.question}  {ev}")
    print("answerable questions that abstain with the current settings:")
    for it, ev in feats:
        if it.answerable and should_abstain(ev, p):
            print(f"  {it.split} {it.qid} {it.question}  {ev}")
    return chosen


def citation_grid(rt: Runtime, items: list[QAItem], hits: dict[str, list[Hit]]) -> AnswerParams:
    """Grid over how close to the first citation a further one must rank (AnswerParams.secondary_score): the best
    dev F1 of citation precision and recall among the settings that keep the key facts found within
    FACTS_GIVEN_UP_MAX of what citing by topic coverage alone finds (secondary_score 0)."""
    weights = Weights(rt.index)
    answerable = [it for it in items if it.answerable]
    rows = []
    for score in np.arange(0.0, 0.96, 0.05):
        p = AnswerParams(secondary_score=round(float(score), 2))
        answers = {it.qid: compose_answer(it.question, hits[it.qid], weights, p) for it in answerable}
        stats = {}
        for split in ("dev", "test"):
            m = answer_metrics([it for it in answerable if it.split == split], answers)
            prec, rec = m["citation_precision"], m["citation_recall"]
            stats[split] = (2 * prec * rec / (prec + rec) if prec + rec else 0.0, prec, rec, m["fact_coverage"])
        rows.append((p, stats))
    floor = rows[0][1]["dev"][3] - FACTS_GIVEN_UP_MAX
    print("\ncitations: secondary_score | dev F1 precision recall facts | test ...")
    for p, st in rows:
        cells = (" ".join(f"{v:.3f}" for v in st[split]) for split in ("dev", "test"))
        print(f"  {p.secondary_score:.2f} | " + " | ".join(cells))
    chosen = max((r for r in rows if r[1]["dev"][3] >= floor), key=lambda r: r[1]["dev"][0])[0]
    print(f"best citation F1 on dev keeping the key facts within {FACTS_GIVEN_UP_MAX}: {chosen}")
    return chosen


def main() -> None:
    rt = load_runtime(Settings.from_env())
    items = load_qa(QA, rt.corpus)
    params = fusion_grid(rt, items)
    print(f"\nbest fusion on dev: {params}")
    expansion_grid(rt, items, RetrievalParams())
    lexicon_grid(rt, items, RetrievalParams())
    bm25_grid(rt, items)
    # Abstention is calibrated on the retrieval that ships (the defaults), which may differ from the
    # grid's best where a simpler or more balanced setting is within noise of it (README).
    hits = retrieved(rt, items, RetrievalParams())
    abstention_grid(rt, items, hits)
    citation_grid(rt, items, hits)


if __name__ == "__main__":
    main()
