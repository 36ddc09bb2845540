"""The QA set, the metrics, and the systems measured side by side in one run.

Retrieval metrics (Hit@1/3/5, Recall@5, MRR@10, nDCG@10) come from ranx; answer metrics
(first-citation accuracy, citation precision, key-fact coverage, abstention precision/recall)
are computed here. Unanswerable questions count only in the abstention metrics.

Questions are split by a hash of their id into "dev" (used to tune fusion and abstention) and
"test" (never used for tuning); the report gives both, and all.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from .answer import Answer
from .clauses import Clause
from .corpus import Corpus
from .errors import RagError

TYPES = ("factual", "paraphrase", "keyword", "clause-number", "multi-clause", "cross-document", "unanswerable")
RANKING_METRICS = {"hit@1": "hit_rate@1", "hit@3": "hit_rate@3", "hit@5": "hit_rate@5", "recall@5": "recall@5",
                   "mrr@10": "mrr@10", "ndcg@10": "ndcg@10"}


class EvaluationError(RagError):
    """The QA set is malformed or does not match the corpus."""


@dataclass(frozen=True)
class QAItem:
    """One hand-written question."""

    qid: str
    question: str
    type: str
    gold: tuple[str, ...]
    answer: str
    facts: tuple[str, ...]
    where: str            # "file:line"

    @property
    def answerable(self) -> bool:
        """False for the questions the documents do not answer."""
        return self.type != "unanswerable"

    @property
    def split(self) -> str:
        """"dev" or "test", fixed by the id."""
        return "dev" if int(hashlib.sha1(self.qid.encode()).hexdigest(), 16) % 2 == 0 else "test"


def load_qa(folder: Path, corpus: Corpus) -> list[QAItem]:
    """Every *.jsonl in `folder`, checked against the corpus; errors name file and line."""
    clauses = {c.clause_id: c for c in corpus.clauses}
    items: list[QAItem] = []
    seen: dict[str, str] = {}
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise EvaluationError(f"{folder}: no *.jsonl question files")
    for path in files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            items.append(_parse_item(line, where, clauses, seen))
    return items


def _parse_item(line: str, where: str, clauses: dict[str, Clause], seen: dict[str, str]) -> QAItem:
    try:
        r = json.loads(line)
    except ValueError as exc:
        raise EvaluationError(f"{where}: not valid JSON ({exc})") from None
    for key in ("id", "question", "type", "gold", "answer", "facts"):
        if key not in r:
            raise EvaluationError(f"{where}: field '{key}' is missing")
    qid = r["id"]
    if qid in seen:
        raise EvaluationError(f"{where}: id '{qid}' is also used at {seen[qid]}")
    seen[qid] = where
    if r["type"] not in TYPES:
        raise EvaluationError(f"{where}: type '{r['type']}' is not one of {', '.join(TYPES)}")
    gold = tuple(r["gold"])
    for cid in gold:
        if cid not in clauses:
            raise EvaluationError(f"{where}: gold clause '{cid}' is not in the corpus")
    if (r["type"] == "unanswerable") != (not gold):
        raise EvaluationError(f"{where}: unanswerable questions, and only they, have an empty gold list")
    for fact in r["facts"]:
        if not any(fact in clauses[cid].text for cid in gold):
            raise EvaluationError(f"{where}: fact '{fact}' is in none of its gold clauses")
    return QAItem(qid, r["question"], r["type"], gold, r["answer"], tuple(r["facts"]), where)


# ---------------------------------------------------------------- retrieval


Ranker = Callable[[str], Sequence[str]]   # question -> clause ids, best first


def rank_all(items: Sequence[QAItem], ranker: Ranker) -> tuple[dict[str, list[str]], list[float]]:
    """Run a ranker over the answerable questions; also return per-question latencies (s)."""
    runs: dict[str, list[str]] = {}
    latencies: list[float] = []
    for it in items:
        if not it.answerable:
            continue
        t = time.perf_counter()
        runs[it.qid] = list(ranker(it.question))
        latencies.append(time.perf_counter() - t)
    return runs, latencies


def retrieval_metrics(items: Sequence[QAItem], runs: dict[str, list[str]]) -> dict[str, float]:
    """The ranking metrics (ranx), averaged over the answerable questions in `items`."""
    judged = [it for it in items if it.answerable and it.qid in runs]
    if not judged:
        return {name: 0.0 for name in RANKING_METRICS}
    qrels = Qrels({it.qid: dict.fromkeys(it.gold, 1) for it in judged})
    run_dict = {}
    for it in judged:
        ranked = runs[it.qid][:10]
        # ranx needs a non-empty run per query; a sentinel id never matches any gold.
        run_dict[it.qid] = {cid: float(len(ranked) - i) for i, cid in enumerate(ranked)} or {"<none>": 0.0}
    scores = ranx_evaluate(qrels, Run(run_dict), list(RANKING_METRICS.values()))
    return {name: round(float(scores[m]), 4) for name, m in RANKING_METRICS.items()}


def by_type(items: Sequence[QAItem], fn: Callable[[Sequence[QAItem]], dict[str, float]]) -> dict[str, dict[str, float]]:
    """A metric function applied to each question type separately."""
    groups: defaultdict[str, list[QAItem]] = defaultdict(list)
    for it in items:
        groups[it.type].append(it)
    return {t: fn(groups[t]) for t in TYPES if groups.get(t)}


# ---------------------------------------------------------------- answers


def answer_metrics(items: Sequence[QAItem], answers: dict[str, Answer],
                   retrieved: dict[str, list[str]] | None = None) -> dict[str, float]:
    """First-citation accuracy, citation precision, key-fact coverage, abstention precision/recall.

    - first_citation_accuracy: answerable questions whose first citation is a gold clause
      (an abstention counts as wrong), over all answerable questions.
    - citation_precision: cited clauses that are gold, over all clauses cited for answerable questions.
    - citation_recall: gold clauses cited, over all gold clauses of answerable questions (what a stricter
      citation rule gives up).
    - fact_coverage: key facts found verbatim in the answer text, over all key facts.
    - abstention_precision / _recall: over abstentions / over unanswerable questions.
    - answerable_abstained: share of answerable questions that abstained (should stay <= 5%).
    - uncited_retrieval_violations: citations not among the retrieved clauses (must be 0).
    """
    ans = [it for it in items if it.answerable and it.qid in answers]
    neg = [it for it in items if not it.answerable and it.qid in answers]
    first_ok = sum(1 for it in ans if answers[it.qid].citations
                   and answers[it.qid].citations[0].clause.clause_id in it.gold)
    cited = [(it, h.clause.clause_id) for it in ans for h in answers[it.qid].citations]
    facts = [(it, f) for it in ans for f in it.facts]
    abstained = [it for it in items if it.qid in answers and answers[it.qid].abstained]
    violations = 0
    if retrieved is not None:
        violations = sum(1 for it in items if it.qid in answers for h in answers[it.qid].citations
                         if h.clause.clause_id not in retrieved.get(it.qid, []))

    def ratio(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "first_citation_accuracy": ratio(first_ok, len(ans)),
        "citation_precision": ratio(sum(1 for it, cid in cited if cid in it.gold), len(cited)),
        "citation_recall": ratio(sum(1 for it, cid in cited if cid in it.gold), sum(len(it.gold) for it in ans)),
        "fact_coverage": ratio(sum(1 for it, f in facts if f in answers[it.qid].text), len(facts)),
        "abstention_precision": ratio(sum(1 for it in abstained if not it.answerable), len(abstained)),
        "abstention_recall": ratio(sum(1 for it in neg if answers[it.qid].abstained), len(neg)),
        "answerable_abstained": ratio(sum(1 for it in ans if answers[it.qid].abstained), len(ans)),
        "uncited_retrieval_violations": float(violations),
    }


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50/p95 in milliseconds."""
    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    arr = np.array(latencies) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1)}


def qa_summary(items: Sequence[QAItem]) -> dict[str, Any]:
    """Counts by type and split, for the report."""
    counts: defaultdict[str, int] = defaultdict(int)
    for it in items:
        counts[it.type] += 1
    return {"questions": len(items), "by_type": dict(counts),
            "dev": sum(1 for it in items if it.split == "dev"), "test": sum(1 for it in items if it.split == "test")}


def item_record(it: QAItem) -> dict[str, Any]:
    """A QA item as JSON."""
    return asdict(it)
