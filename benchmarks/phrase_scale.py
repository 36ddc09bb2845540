"""The phrase view at scale: build cost, memory, latency and recall of the phrase index at 100,000 clauses.

    nice -n 10 python benchmarks/phrase_scale.py          # 100,000 clauses (~1.1 M phrase vectors)
    nice -n 10 python benchmarks/phrase_scale.py --quick  # 10,000 clauses

rag/retrieve.py searches two FAISS indexes per query: the chunk index for `candidates` (50) rows and
the phrase index for 50 * round(phrases / clauses) rows, reduced to the best phrase per clause.
benchmarks/bench.py measured only the chunk view at 100k clauses; this script measures the phrase view.

1. Vectors: N chunk vectors (one chunk per clause) and round(N * ratio) phrase vectors, where ratio =
   phrases / clauses of the bundled index (indexes/default/meta.json). Every clause gets one phrase,
   the rest go to uniformly random clauses. Seeded random unit vectors of dim 384: the hardest case
   for HNSW (see bench.py), and phrases of one clause are not closer to each other than to others.
2. Each index is rag.index.new_faiss's (flat up to HNSW_ABOVE rows, else HNSW), added in 20 batches
   so that progress can be printed, written to a temporary folder, then loaded with
   rag.index._read_faiss, as a server would (efSearch = HNSW_EF_SEARCH). "build s" includes writing
   the file; "RSS on load" is the current RSS after loading minus before.
3. Per query (half random unit vectors, half perturbed phrase vectors, made by bench.query_sets),
   each stage runs as rag.retrieve._clause_scores runs it: gather the row mask, allocate `out`, then
   _best_per_clause(out, index, vec, row_clause, row_ok, depth), which searches HNSW with efSearch at
   least the rows it asks for. Next to the deployed stages, "d<rows> ef<n>" stages search with that
   efSearch for the call (ef256 = the loaded value, which the phrase view used before that rule),
   exact (flat) phrase search and the chunk stage; all timed in one loop, in rotating order.
   benchmarks/phrase_scale.md was measured before that rule: its "as deployed" phrase row is ef256.
4. Recall: each stage's top 10 / 50 clauses (after the best-per-clause reduction) against exact
   search over the same vectors, deep enough to be exact (50 * the most phrases any clause has).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/phrase_scale.py` without installing the package

from bench import (  # noqa: E402  (this folder is on sys.path when a script in it runs)
    BUDGET_MS,
    DIM,
    interleaved,
    loadavg,
    peak_rss_mb,
    query_sets,
    rss_now_mb,
    summary,
    timed,
    unit_rows,
)

from rag.index import (  # noqa: E402
    HNSW_EF_SEARCH,
    _read_faiss,
    new_faiss,
)
from rag.retrieve import RetrievalParams, _best_per_clause, _keep_best  # noqa: E402

HERE = Path(__file__).resolve().parent
META = ROOT / "indexes" / "default" / "meta.json"
MAX_RSS_MB = 12_000  # stop rather than push a shared machine into swapless OOM
Stage = Callable[[np.ndarray], np.ndarray]


def random_unit_rows(rng: np.random.Generator, rows: int, block: int = 100_000) -> np.ndarray:
    """rows x DIM unit vectors, made block by block so that no full-size temporary copy exists."""
    out = np.empty((rows, DIM), dtype=np.float32)
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        out[start:stop] = unit_rows(rng.standard_normal((stop - start, DIM), dtype=np.float32))
    return out


def write_index(path: Path, vectors: np.ndarray, label: str, batches: int = 20) -> str:
    """The index rag.index writes for these vectors, added in batches so that progress can be shown."""
    import faiss

    index, kind = new_faiss(DIM, len(vectors))
    start, step = time.perf_counter(), -(-len(vectors) // batches)
    for first in range(0, len(vectors), step):
        index.add(vectors[first:first + step])
        done, elapsed, rss = index.ntotal, time.perf_counter() - start, rss_now_mb()
        print(f"  {label}: {done:,}/{len(vectors):,} rows, {elapsed:.0f} s, linear ETA "
              f"{elapsed * (len(vectors) - done) / done:.0f} s, RSS {rss:.0f} MB", file=sys.stderr, flush=True)
        if rss > MAX_RSS_MB:
            sys.exit(f"RSS {rss:.0f} MB > {MAX_RSS_MB} MB: stopped")
    faiss.write_index(index, str(path))
    return kind


def build_and_load(vectors: np.ndarray, folder: Path, label: str) -> tuple[Any, dict[str, Any]]:
    """Build and write the index as rag.index does, then load it with rag.index._read_faiss: (index, figures)."""
    path = folder / f"{label}.faiss"
    build_s, kind = timed(write_index, path, vectors, label)
    peak_after_build = peak_rss_mb()
    before = rss_now_mb()
    load_s, index = timed(_read_faiss, path, len(vectors), DIM, kind)
    figures = {"kind": kind, "rows": len(vectors), "build_s": round(build_s, 1),
               "size_mb": round(path.stat().st_size / 2**20, 1), "load_s": round(load_s, 2),
               "rss_on_load_mb": round(rss_now_mb() - before, 1), "peak_rss_after_build_mb": round(peak_after_build)}
    path.unlink()
    print(f"  {label}: {figures}", file=sys.stderr, flush=True)
    return index, figures


def stage(index: Any, row_clause: np.ndarray, mask: np.ndarray, depth: int, ef: int | None) -> Stage:
    """One view's part of rag.retrieve._clause_scores. ef=None: as deployed (_best_per_clause chooses
    efSearch); otherwise that efSearch for this call only, the loaded index left as it is."""
    import faiss

    def run(vec: np.ndarray) -> np.ndarray:
        out = np.full(len(mask), -np.inf, dtype=np.float64)
        row_ok = mask[row_clause]
        if ef is None:
            _best_per_clause(out, index, vec, row_clause, row_ok, depth)
        else:
            scores, rows = index.search(vec, depth, params=faiss.SearchParametersHNSW(efSearch=ef))  # type: ignore[attr-defined]
            _keep_best(out, scores[0], rows[0], row_clause, row_ok)
        return out
    return run


def flat_of(index: Any) -> Any:
    """Exact search over the same vectors: an HNSW index's own flat storage, or the flat index itself."""
    import faiss

    return faiss.downcast_index(index.storage) if hasattr(index, "hnsw") else index


def ranked(scores: np.ndarray, k: int = 50) -> tuple[list[int], int]:
    """(the k best clauses, best first; how many clauses have a score at all)."""
    found = np.flatnonzero(np.isfinite(scores))
    return found[np.argsort(-scores[found], kind="stable")[:k]].tolist(), len(found)


def exact_top(index: Any, queries: np.ndarray, row_clause: np.ndarray, depth: int, n: int) -> list[list[int]]:
    """Per query, the 50 best clauses by exact search, batched and deep enough to be exact."""
    flat = flat_of(index)
    scores, rows = flat.search(queries, min(depth, flat.ntotal))
    out = []
    for s, r in zip(scores, rows, strict=True):
        best = np.full(n, -np.inf)
        _keep_best(best, s, r, row_clause, np.ones(len(row_clause), dtype=bool))
        out.append(ranked(best)[0])
    return out


def overlap(found: list[int], exact: list[int], k: int) -> float:
    return len(set(found[:k]) & set(exact[:k])) / k


def measure(stages: dict[str, Stage], queries: dict[str, np.ndarray], exact: dict[str, dict[str, list[list[int]]]],
            source_clause: np.ndarray) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Every stage on every query, interleaved in rotating order; latency, recall, clauses reached."""
    names = list(stages)
    times: dict[str, list[float]] = {s: [] for s in names}
    found: dict[str, dict[str, list[list[int]]]] = {s: {q: [] for q in queries} for s in names}
    reached: dict[str, list[int]] = {s: [] for s in names}
    for set_name, name, seconds, out in interleaved(stages, queries, warmup=5):
        times[name].append(seconds)
        best, count = ranked(out)
        found[name][set_name].append(best)
        reached[name].append(count)
    results: dict[str, Any] = {}
    for name in names:
        view = name.split()[0]
        r: dict[str, Any] = {"latency": summary(times[name])}
        for set_name in queries:
            pairs = list(zip(found[name][set_name], exact[view][set_name], strict=True))
            for k in (10, 50):
                r[f"recall@{k}_{set_name}"] = round(float(np.mean([overlap(f, e, k) for f, e in pairs])), 4)
        r["clauses_reached_mean"] = round(float(np.mean(reached[name])), 1)
        hits = [int(c) in f[:10] for f, c in zip(found[name]["perturbed"], source_clause, strict=True)]
        # Perturbed queries are made from phrase vectors: the chunk view has no source to find.
        r["source_in_top10_perturbed"] = round(float(np.mean(hits)), 4) if view == "phrase" else None
        results[name] = r
    return results, times


def keep_best_cost(index: Any, queries: np.ndarray, row_clause: np.ndarray, n: int, depth: int) -> dict[str, float]:
    """_keep_best alone (the Python loop over `depth` rows), replayed on the deployed search's own results."""
    seconds = []
    ok = np.ones(len(row_clause), dtype=bool)
    for v in queries:
        scores, rows = index.search(v[None, :], depth)
        out = np.full(n, -np.inf)
        seconds.append(timed(_keep_best, out, scores[0], rows[0], row_clause, ok)[0])
    return summary(seconds)


def run(n: int, n_queries: int, seed: int = 0) -> dict[str, Any]:
    meta = json.loads(META.read_text(encoding="utf-8"))
    ratio = meta["phrases"] / meta["clauses"]
    rows = round(n * ratio)
    candidates = RetrievalParams().candidates
    depth = candidates * max(1, round(rows / n))  # as rag.retrieve._clause_scores
    rng = np.random.default_rng(seed)
    phrase_clause = np.sort(np.concatenate([np.arange(n), rng.integers(0, n, rows - n)]))
    exact_depth = candidates * int(np.bincount(phrase_clause).max())
    chunk_clause = np.arange(n, dtype=np.int64)
    mask = np.ones(n, dtype=bool)  # allowed_clauses() without filters
    print(f"N {n:,}, ratio {ratio:.3f}, phrase rows {rows:,}, depth {depth}; making vectors", file=sys.stderr)
    phrases = random_unit_rows(rng, rows)
    queries, sources = query_sets(rng, phrases, n_queries // 2)
    out: dict[str, Any] = {"n": n, "ratio": round(ratio, 4), "phrase_rows": rows, "depth": depth,
                           "exact_depth": exact_depth, "dim": DIM, "queries": 2 * (n_queries // 2),
                           "ef_search_loaded": HNSW_EF_SEARCH, "rss_before_build_mb": round(rss_now_mb())}
    with tempfile.TemporaryDirectory(prefix="phrase-scale-") as tmp:
        phrase_index, out["phrase_index"] = build_and_load(phrases, Path(tmp), "phrases")
        del phrases  # a server holds only the loaded index
        chunk_index, out["chunk_index"] = build_and_load(random_unit_rows(rng, n), Path(tmp), "chunks")
    print("exact search for recall", file=sys.stderr)
    exact = {"phrase": {s: exact_top(phrase_index, q, phrase_clause, exact_depth, n) for s, q in queries.items()},
             "chunk": {s: exact_top(chunk_index, q, chunk_clause, candidates, n) for s, q in queries.items()}}
    stages = {f"chunk d{candidates} (as deployed)": stage(chunk_index, chunk_clause, mask, candidates, None),
              f"phrase d{depth} (as deployed)": stage(phrase_index, phrase_clause, mask, depth, None)}
    if out["phrase_index"]["kind"] == "hnsw":
        for ef, d in ((HNSW_EF_SEARCH, depth), (depth, depth), (128, depth), (64, depth),
                      (HNSW_EF_SEARCH, 2 * candidates), (HNSW_EF_SEARCH, candidates)):
            stages[f"phrase d{d} ef{ef}"] = stage(phrase_index, phrase_clause, mask, d, ef)
        stages[f"phrase d{depth} exact (flat)"] = stage(flat_of(phrase_index), phrase_clause, mask, depth, None)
    print(f"timing {len(stages)} stages x {out['queries']} queries", file=sys.stderr)
    out["stages"], times = measure(stages, queries, exact, phrase_clause[sources])
    deployed = [f"chunk d{candidates} (as deployed)", f"phrase d{depth} (as deployed)"]
    out["chunk_plus_phrase_deployed"] = summary(np.add(times[deployed[0]], times[deployed[1]]).tolist())
    out["keep_best_alone"] = keep_best_cost(phrase_index, queries["random"], phrase_clause, n, depth)
    out["peak_rss_mb"] = round(peak_rss_mb())
    return out


def _ms(s: dict[str, float]) -> str:
    return f"{s['p50_ms']:.2f} / {s['p95_ms']:.2f} / {s['mean_ms']:.2f}"


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [f"# Phrase view at {r['n']:,} clauses ({r['elapsed_s']:.0f} s)", "",
             f"{m['cpus']} CPUs, FAISS OpenMP threads {m['faiss_omp_threads']}; load average (1/5/15 min) "
             f"{m['loadavg_start']} at start, {m['loadavg_end']} at end. "
             f"Phrases per clause {r['ratio']} (bundled index) -> {r['phrase_rows']:,} phrase rows; phrase depth "
             f"{r['depth']}; efSearch as loaded {r['ef_search_loaded']}; {r['queries']} queries (half random, "
             f"half perturbed phrase vectors); seeded random unit vectors, dim {r['dim']}.", "",
             "| index | kind | rows | build s (incl. write) | file MB | load s | RSS on load MB "
             "| peak RSS after build MB |", "|---|---|---|---|---|---|---|---|"]
    for name in ("chunk_index", "phrase_index"):
        b = r[name]
        lines.append(f"| {name.split('_')[0]} | {b['kind']} | {b['rows']:,} | {b['build_s']:.1f} | {b['size_mb']:.1f} "
                     f"| {b['load_s']:.2f} | {b['rss_on_load_mb']:.0f} | {b['peak_rss_after_build_mb']} |")
    lines += ["", "| stage | p50 / p95 / mean (ms) | recall@10 rand / pert | recall@50 rand / pert "
              "| clauses reached | source in top 10 |", "|---|---|---|---|---|---|"]
    for name, s in r["stages"].items():
        src = "n/a" if s["source_in_top10_perturbed"] is None else f"{s['source_in_top10_perturbed']:.3f}"
        lines.append(f"| {name} | {_ms(s['latency'])} | {s['recall@10_random']:.3f} / {s['recall@10_perturbed']:.3f} "
                     f"| {s['recall@50_random']:.3f} / {s['recall@50_perturbed']:.3f} "
                     f"| {s['clauses_reached_mean']:.0f} | {src} |")
    lines += ["", f"Chunk + phrase stage (as deployed), summed per query: {_ms(r['chunk_plus_phrase_deployed'])} ms. "
              f"_keep_best alone over {r['depth']} rows: {_ms(r['keep_best_alone'])} ms. "
              f"Peak RSS of the process: {r['peak_rss_mb']} MB. Budget for a whole query: p50 < {BUDGET_MS:g} ms; "
              "embedding, BM25 and fusion are not measured here (see results.md).",
              "", "Stage names: d = rows asked of FAISS (depth), ef = efSearch for that call. Recall compares clause "
              "sets with exact search after the best-per-clause reduction."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="clauses (default 100,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 clauses")
    parser.add_argument("--queries", type=int, default=200, help="queries, half random and half perturbed")
    args = parser.parse_args()
    import faiss

    machine = {"cpus": len(os.sched_getaffinity(0)), "faiss_omp_threads": faiss.omp_get_max_threads(),
               "loadavg_start": loadavg()}
    started = time.perf_counter()
    results = run(10_000 if args.quick else args.n, args.queries)
    machine["loadavg_end"] = loadavg()
    results = {"machine": machine, "elapsed_s": round(time.perf_counter() - started, 1), **results}
    (HERE / "phrase_scale.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    md = report(results)
    (HERE / "phrase_scale.md").write_text(md, encoding="utf-8")
    print(md)


if __name__ == "__main__":
    main()
