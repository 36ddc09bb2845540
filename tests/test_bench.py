"""Smoke test of benchmarks/bench.py: the synthetic benchmark runs on a tiny corpus and reports
sane figures. Speed itself is measured by the benchmark, never asserted here."""

from __future__ import annotations

import importlib.util
import math
from types import ModuleType

from rag.config import ROOT, Settings

from .fakes import BigramEmbedder


def _load_bench() -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: load the file itself.
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _positive_latency(s: dict[str, float]) -> None:
    assert s["n"] > 0
    assert 0 < s["p50_ms"] <= s["p95_ms"]
    assert s["mean_ms"] > 0 and math.isfinite(s["mean_ms"])


def test_synthetic_benchmark_on_a_tiny_corpus() -> None:
    bench = _load_bench()
    material = bench.corpus_material(Settings())
    # The fake embedder keeps the test fast and model-free; its dim must match the synthetic vectors.
    result = bench.synthetic_benchmark(2_000, 20, BigramEmbedder(dim=bench.DIM), material, efs=(32, 128))

    assert result["n"] == 2_000 and result["vocab"] > 100
    assert set(result["dense"]) == {"flat", "hnsw-ef32", "hnsw-ef128"}
    for name, r in result["dense"].items():
        _positive_latency(r["latency"])
        for key in ("recall@10_random", "recall@10_perturbed", "recall@50_random", "recall@50_perturbed",
                    "source_in_top10_perturbed"):
            assert 0.0 <= r[key] <= 1.0, (name, key)
    assert result["dense"]["flat"]["recall@10_random"] == 1.0  # exact search against itself
    assert result["dense"]["flat"]["source_in_top10_perturbed"] == 1.0  # the noisy copy's source is its neighbour
    for b in result["faiss"].values():
        assert b["build_s"] >= 0 and b["serialized_mb"] > 0
    # HNSW stores the vectors and a graph on top of them.
    assert result["faiss"]["hnsw"]["serialized_mb"] > result["faiss"]["flat"]["serialized_mb"]
    _positive_latency(result["bm25"]["latency"])
    e2e = result["end_to_end"]
    assert set(e2e["stages"]) == {"mask", "embed", "lexical"}
    for fusion in ("current",):
        for name, total in e2e["total"][fusion].items():
            _positive_latency(total)
            assert total["p50_ms"] >= e2e["variants"][name]["dense"]["p50_ms"]
    for rec in result["recommendation"].values():
        assert rec["ef_search"] in (32, 128, None)

    text = "\n".join(bench.dense_table(result) + bench.build_table(result) + bench.end_to_end_tables(result))
    assert "hnsw-ef128" in text and "recall@10" in text
