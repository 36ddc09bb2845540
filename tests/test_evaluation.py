"""The evaluation: QA-set validation, metric arithmetic by hand, and the CI gate on the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import ROOT
from rag.corpus import Corpus
from rag.evaluate import EvaluationError, QAItem, load_qa, retrieval_metrics
from rag.runtime import Runtime

QA = ROOT / "evaluation" / "qa"
HOLDOUT = ROOT / "evaluation" / "holdout"


def test_qa_set_is_valid_and_covers_every_clause(corpus: Corpus) -> None:
    items = load_qa(QA, corpus)
    assert len(items) >= 150
    assert sum(1 for it in items if not it.answerable) >= 20
    covered = {g for it in items for g in it.gold}
    assert covered == {c.clause_id for c in corpus.clauses}
    assert {it.type for it in items} == {"factual", "paraphrase", "keyword", "clause-number", "multi-clause",
                                         "cross-document", "unanswerable"}


def test_holdout_set_is_valid_and_apart_from_the_qa_set(corpus: Corpus) -> None:
    # Never tuned on or studied (README); the held-out gate below reads its aggregates only.
    held = load_qa(HOLDOUT, corpus)
    assert len(held) >= 70 and sum(1 for it in held if not it.answerable) >= 30
    assert not {it.qid for it in held} & {it.qid for it in load_qa(QA, corpus)}


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "x", "question": "q", "type": "factual", "gold": ["nope:1"], "answer": "", "facts": []}',
     "gold clause 'nope:1' is not in the corpus"),
    ('{"id": "x", "question": "q", "type": "guess", "gold": [], "answer": "", "facts": []}', "type 'guess'"),
    ('{"id": "x", "question": "q", "type": "unanswerable", "gold": ["sichuan-mining-opinions-2025:pt1.it1"], '
     '"answer": "", "facts": []}', "unanswerable questions, and only they"),
    ('{"id": "x", "question": "q", "type": "factual", "gold": ["sichuan-mining-opinions-2025:pt1.it1"], '
     '"answer": "", "facts": ["不存在的事实"]}', "fact '不存在的事实' is in none"),
    ('{"id": "x"', "not valid JSON"),
])
def test_bad_qa_lines_name_file_and_line(tmp_path: Path, corpus: Corpus, line: str, message: str) -> None:
    (tmp_path / "qa.jsonl").write_text("\n" + line + "\n", encoding="utf-8")
    with pytest.raises(EvaluationError, match=rf"qa\.jsonl:2: .*{message}"):
        load_qa(tmp_path, corpus)


def test_ranking_metrics_by_hand() -> None:
    items = [QAItem("a", "q", "factual", ("g1",), "", (), "x"),
             QAItem("b", "q", "multi-clause", ("g2", "g3"), "", (), "x"),
             QAItem("c", "q", "factual", ("g4",), "", (), "x")]
    runs = {"a": ["g1", "x", "y"], "b": ["x", "g3", "y", "z", "g2"], "c": ["x", "y", "z", "w", "v", "u"]}
    m = retrieval_metrics(items, runs)
    # hit@1: only a -> 1/3. hit@3: a and b -> 2/3. recall@5: a 1, b 2/2, c 0 -> 2/3.
    # MRR@10: a 1/1, b 1/2 (first gold at rank 2), c 0 -> 1.5/3 = 0.5.
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx(0.5, abs=1e-4)
    # nDCG@10 for b: DCG = 1/log2(3) + 1/log2(6); IDCG = 1 + 1/log2(3).
    import math
    ndcg_b = (1 / math.log2(3) + 1 / math.log2(6)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx((1 + ndcg_b + 0) / 3, abs=1e-4)


def test_check_thresholds_names_each_metric_past_its_floor_or_ceiling() -> None:
    from rag.report import check_thresholds

    report = {"systems": {"hybrid": {"all": {"hit@1": 0.91, "recall@5": 0.97}}},
              "answers": {"all": {"abstention_recall": 0.88, "answerable_abstained": 0.06}}}
    floors = {"hybrid": {"hit@1": 0.92, "recall@5": 0.96},
              "answers": {"abstention_recall": 0.87, "answerable_abstained_max": 0.05}}
    assert check_thresholds(report, floors) == ["hybrid.hit@1 = 0.91 < 0.92", "answers.answerable_abstained = 0.06 > 0.05"]


@pytest.mark.slow
@pytest.mark.parametrize(("questions", "floors"), [(QA, "thresholds.json"), (HOLDOUT, "thresholds-holdout.json")])
def test_gate_full_pipeline_against_committed_thresholds(tmp_path: Path, runtime: Runtime, questions: Path,
                                                        floors: str) -> None:
    """The CI gates: the whole evaluation on the real model and index, compared with the committed floors. The QA
    set's (evaluation/thresholds.json) hold what was tuned; the held-out sets' (thresholds-holdout.json) hold what new
    questions get, read as aggregates only (README)."""
    from rag.report import check_thresholds, run_evaluation, write_report

    # One runtime (model and index loaded once, tests/conftest.py) serves both gates.
    report = run_evaluation(runtime, questions)
    write_report(report, tmp_path)
    thresholds = json.loads((ROOT / "evaluation" / floors).read_text(encoding="utf-8"))
    assert check_thresholds(report, thresholds) == []
    systems = report["systems"]
    for baseline in ("bm25", "dense", "generic-rag"):
        for metric in ("mrr@10", "hit@1"):
            assert systems["hybrid"]["all"][metric] > systems[baseline]["all"][metric], (baseline, metric)
    assert (tmp_path / "report.png").stat().st_size > 10_000
