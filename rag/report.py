"""One evaluation run: every system on the same questions, then report.json, report.md and a plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .answer import Answer
from .ask import Asker, AskSettings
from .baseline import GenericRag, make_windows, window_stats
from .errors import QueryError
from .evaluate import (
    TYPES,
    QAItem,
    Ranker,
    answer_metrics,
    by_type,
    latency_summary,
    load_qa,
    qa_summary,
    rank_all,
    retrieval_metrics,
)
from .retrieve import search
from .runtime import Runtime

SYSTEMS = ("bm25", "dense", "generic-rag", "hybrid")
SYSTEM_NAMES = {"bm25": "BM25（jieba）", "dense": "向量检索（e5）", "generic-rag": "通用RAG（750字窗口）",
                "hybrid": "本系统（条款+混合检索）"}
HEADLINE = ("hit@1", "hit@3", "recall@5", "mrr@10", "ndcg@10")


def rankers(rt: Runtime) -> dict[str, Ranker]:
    """The systems compared, each as question -> clause ids."""
    def mode(m: str) -> Ranker:
        def rank(q: str) -> list[str]:
            try:
                return [h.clause.clause_id for h in search(rt.index, rt.embedder, q, k=10, mode=m)]
            except QueryError:
                return []
        return rank

    generic = GenericRag(rt.corpus, rt.embedder, rt.index.tokenizer)
    return {"bm25": mode("lexical"), "dense": mode("dense"),
            "generic-rag": lambda q: [c.clause_id for c in generic.search(q, 10)], "hybrid": mode("hybrid")}


def _split(items: Sequence[QAItem], name: str) -> list[QAItem]:
    return list(items) if name == "all" else [it for it in items if it.split == name]


def run_evaluation(rt: Runtime, qa_dir: Path, settings: AskSettings | None = None) -> dict[str, Any]:
    """Measure every system and the answers on the QA set; return the report as a dict."""
    items = load_qa(qa_dir, rt.corpus)
    report: dict[str, Any] = {"qa": qa_summary(items), "systems": {}, "answers": {}}
    all_runs: dict[str, dict[str, list[str]]] = {}
    for name, ranker in rankers(rt).items():
        runs, lat = rank_all(items, ranker)
        all_runs[name] = runs
        entry: dict[str, Any] = {s: retrieval_metrics(_split(items, s), runs) for s in ("all", "dev", "test")}

        def metrics(group: Sequence[QAItem], runs: dict[str, list[str]] = runs) -> dict[str, float]:
            return retrieval_metrics(group, runs)

        entry["by_type"] = by_type([it for it in items if it.answerable], metrics)
        entry["latency"] = latency_summary(lat)
        report["systems"][name] = entry
    asker = Asker(rt, settings)
    answers: dict[str, Answer] = {}
    retrieved: dict[str, list[str]] = {}
    for it in items:
        a = asker.ask(it.question)
        answers[it.qid] = a
        retrieved[it.qid] = [h.clause.clause_id for h in a.retrieved]
    report["answers"] = {s: answer_metrics(_split(items, s), answers, retrieved) for s in ("all", "dev", "test")}
    report["answers"]["by_type"] = by_type(items, lambda g: answer_metrics(g, answers, retrieved))
    report["answers"]["failures"] = [
        {"id": it.qid, "type": it.type, "question": it.question, "gold": list(it.gold),
         "cited": [h.clause.clause_id for h in answers[it.qid].citations], "abstained": answers[it.qid].abstained}
        for it in items
        if (it.answerable and (answers[it.qid].abstained or not answers[it.qid].citations
                               or answers[it.qid].citations[0].clause.clause_id not in it.gold))
        or (not it.answerable and not answers[it.qid].abstained)
    ]
    report["baseline_only"] = _baseline_only(items, all_runs, rt)
    report["settings"] = asdict(settings or AskSettings())
    report["generic_windows"] = window_stats(make_windows(rt.corpus))
    return report


def _baseline_only(items: Sequence[QAItem], runs: dict[str, dict[str, list[str]]], rt: Runtime) -> list[dict[str, Any]]:
    """Answerable questions where a baseline's first hit is gold and the pipeline's is not."""
    cite = {c.clause_id: c.citation for c in rt.corpus.clauses}

    def show(ids: list[str], gold: tuple[str, ...]) -> list[str]:
        return [cite[i] + ("*" if i in gold else "") for i in ids[:3]]

    out = []
    for it in items:
        if not it.answerable:
            continue
        ours = runs["hybrid"][it.qid]
        for name in SYSTEMS[:-1]:
            theirs = runs[name][it.qid]
            if theirs and theirs[0] in it.gold and (not ours or ours[0] not in it.gold):
                out.append({"system": name, "id": it.qid, "type": it.type, "question": it.question,
                            "pipeline": show(ours, it.gold), "baseline": show(theirs, it.gold)})
    return out


def check_thresholds(report: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[str]:
    """Headline metrics below their committed floor (or above a ceiling, for *_max keys)."""
    failures = []
    for section, floors in thresholds.items():
        got = report["answers"]["all"] if section == "answers" else report["systems"][section]["all"]
        for metric, floor in floors.items():
            if metric.endswith("_max"):
                name = metric[:-4]
                if got[name] > floor:
                    failures.append(f"{section}.{name} = {got[name]} > {floor}")
            elif got[metric] < floor:
                failures.append(f"{section}.{metric} = {got[metric]} < {floor}")
    return failures


def write_report(report: dict[str, Any], out: Path) -> list[Path]:
    """report.json, report.md and report.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "report.json", out / "report.md", out / "report.png"]
    paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    plot(report, paths[2])
    return paths


def summary_table(report: dict[str, Any], split: str = "all") -> str:
    """The headline retrieval table in Markdown."""
    lines = ["| 系统 | " + " | ".join(HEADLINE) + " |", "|---" * (len(HEADLINE) + 1) + "|"]
    for name in SYSTEMS:
        m = report["systems"][name][split]
        lines.append(f"| {SYSTEM_NAMES[name]} | " + " | ".join(f"{m[k]:.3f}" for k in HEADLINE) + " |")
    return "\n".join(lines)


def baseline_wins(report: dict[str, Any]) -> list[str]:
    """Question types on which a baseline's MRR@10 beats the full pipeline's."""
    wins = []
    ours = report["systems"]["hybrid"]["by_type"]
    for base in SYSTEMS[:-1]:
        for t, m in report["systems"][base]["by_type"].items():
            if m["mrr@10"] > ours[t]["mrr@10"]:
                wins.append(f"{SYSTEM_NAMES[base]} beats the pipeline on {t}: MRR@10 {m['mrr@10']:.3f} vs "
                            f"{ours[t]['mrr@10']:.3f} (Hit@1 {m['hit@1']:.3f} vs {ours[t]['hit@1']:.3f})")
    return wins


def answers_table(report: dict[str, Any]) -> str:
    """The answer metrics in Markdown, for all questions and both splits."""
    keys = ["first_citation_accuracy", "citation_precision", "citation_recall", "fact_coverage", "abstention_precision",
            "abstention_recall", "answerable_abstained", "uncited_retrieval_violations"]
    lines = ["| 指标 | 全部 | dev | test |", "|---|---|---|---|"]
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{report['answers'][s][k]:.3f}" for s in ("all", "dev", "test")) + " |")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    """The full Markdown report."""
    qa = report["qa"]
    parts = [
        "# 评测报告 / Evaluation report", "",
        f"QA set: {qa['questions']} questions ({', '.join(f'{t} {n}' for t, n in qa['by_type'].items())}); "
        f"split by id hash into dev {qa['dev']} (used for tuning) and test {qa['test']} (never tuned on).", "",
        "## Retrieval, all answerable questions", "", summary_table(report), "",
        "## Retrieval, test split only", "", summary_table(report, "test"), "",
        "## MRR@10 by question type", "",
        "| 类型 | " + " | ".join(SYSTEM_NAMES[s] for s in SYSTEMS) + " |", "|---" * (len(SYSTEMS) + 1) + "|",
    ]
    for t in TYPES:
        if t == "unanswerable":
            continue
        cells = [report["systems"][s]["by_type"].get(t, {}).get("mrr@10") for s in SYSTEMS]
        parts.append(f"| {t} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
    parts += ["", "## Where a baseline wins", ""]
    parts += [f"- {w}" for w in baseline_wins(report)] or ["- nowhere"]
    parts += ["", "Questions a baseline gets right at rank 1 and the pipeline does not (gold marked *):", ""]
    for d in report.get("baseline_only", []):
        parts.append(f"- {d['system']} `{d['id']}` ({d['type']}) {d['question']}: pipeline {d['pipeline']}, "
                     f"{d['system']} {d['baseline']}")
    parts += [
              "", "## Answers (extractive, no LLM)", "", answers_table(report), "",
              "## Answer failures", ""]
    for f in report["answers"]["failures"]:
        parts.append(f"- `{f['id']}` ({f['type']}) {f['question']} — gold {f['gold']}, cited {f['cited']}, "
                     f"abstained {f['abstained']}")
    return "\n".join(parts) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Two panels: headline metrics by system; MRR@10 by question type and system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    width = 0.8 / len(SYSTEMS)
    x = np.arange(len(HEADLINE))
    for i, s in enumerate(SYSTEMS):
        axes[0].bar(x + i * width, [report["systems"][s]["all"][m] for m in HEADLINE], width, label=s)
    axes[0].set_xticks(x + width * (len(SYSTEMS) - 1) / 2, HEADLINE)
    axes[0].set_ylim(0, 1)
    axes[0].set_title("Retrieval (answerable questions)")
    axes[0].legend(loc="lower right", fontsize=8)
    types = [t for t in TYPES if t != "unanswerable"]
    x = np.arange(len(types))
    for i, s in enumerate(SYSTEMS):
        vals = [report["systems"][s]["by_type"].get(t, {}).get("mrr@10", 0.0) for t in types]
        axes[1].bar(x + i * width, vals, width, label=s)
    axes[1].set_xticks(x + width * (len(SYSTEMS) - 1) / 2, types, rotation=20, fontsize=8)
    axes[1].set_ylim(0, 1)
    axes[1].set_title("MRR@10 by question type")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
