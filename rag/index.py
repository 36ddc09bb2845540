"""ClauseIndex: build / save / load. A folder a person can read:

    indexes/<name>/index.faiss    row i == line i of chunks.jsonl
    indexes/<name>/chunks.jsonl   one retrieval chunk per line (ensure_ascii=False)
    indexes/<name>/phrases.faiss  row i == line i of phrases.jsonl
    indexes/<name>/phrases.jsonl  one phrase per line: the finer dense view (rag/chunks.py)
    indexes/<name>/clauses.jsonl  one clause per line, as cited
    indexes/<name>/terms.txt      the jieba user dictionary mined from the corpus
    indexes/<name>/vocab.txt      every word the corpus uses, one per line (rag/expand.py)
    indexes/<name>/vocab.faiss    row i == line i of vocab.txt: the words' vectors, for query expansion
    indexes/<name>/bm25/          bm25s index over the chunks' jieba tokens
    indexes/<name>/meta.json      model, dim, counts, corpus checksum, format version, file checksums

Loading compares what meta.json promises with what is there and with the current corpus and
model, and refuses (IndexMismatch, naming the command that rebuilds) instead of serving a stale
or damaged index. Writes go to a temporary folder that is renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from .chunks import Chunk, Phrase, chunk_corpus, phrase_corpus
from .clauses import Clause
from .corpus import Corpus
from .embed import Embedder
from .errors import IndexMismatch
from .expand import Vocabulary, corpus_words
from .roles import clause_roles
from .tokenize import Tokenizer, mine_terms

# 2: BM25 tokens include character bigrams; 3: phrase vectors; 4: vocabulary vectors; 5: subscript digits as ASCII
FORMAT_VERSION = 5
REBUILD = "请运行 `python -m rag build` 重建索引"
# Exact search is fast below this many chunks; above it an HNSW graph keeps latency flat.
HNSW_ABOVE = 20_000
# efSearch 256: best recall with p50 < 50 ms for a whole query at 100k clauses (benchmarks/bench.py).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 256
# BM25's term saturation and length normalisation, the bm25s (Lucene) defaults: a 5 x 4 grid (evaluation/tune.py,
# bm25_grid) found no better setting on the QA set's dev split.
BM25_K1, BM25_B = 1.5, 0.75
_FILES = ("index.faiss", "chunks.jsonl", "phrases.faiss", "phrases.jsonl", "clauses.jsonl", "terms.txt",
          "vocab.txt", "vocab.faiss")


@dataclass(frozen=True)
class IndexMeta:
    """What meta.json records."""

    format_version: int
    model: str
    dim: int
    count: int                 # chunks == FAISS rows == lines of chunks.jsonl
    clauses: int
    corpus_sha256: str
    faiss_type: str            # "flat" | "hnsw"
    phrases: int               # rows of phrases.faiss == lines of phrases.jsonl
    phrase_faiss_type: str
    vocab: int                 # rows of vocab.faiss == lines of vocab.txt
    files: dict[str, str]      # file -> sha256
    built_at: str


@dataclass(frozen=True)
class ClauseIndex:
    """A loaded index: the corpus it was built from, its chunks, and both searchable structures."""

    folder: Path
    meta: IndexMeta
    corpus: Corpus
    chunks: tuple[Chunk, ...]
    chunk_clause: np.ndarray   # chunk row -> position of its clause in `clauses`
    clauses: tuple[Clause, ...]
    clause_doc: np.ndarray     # clause position -> position of its document in corpus.documents
    faiss_index: Any
    bm25: Any
    tokenizer: Tokenizer
    phrases: tuple[Phrase, ...]
    phrase_clause: np.ndarray  # phrase row -> position of its clause in `clauses`
    phrase_index: Any
    vocab: Vocabulary          # the corpus's words and their vectors (query expansion, rag/expand.py)
    clause_role: np.ndarray    # clause position -> its role by the headings above it (rag/roles.py)


def build_index(corpus: Corpus, embedder: Embedder, folder: Path, hnsw_above: int = HNSW_ABOVE) -> Path:
    """Embed and index every chunk of the corpus into `folder`, replacing it atomically."""
    chunks = chunk_corpus(corpus.documents)
    tokenizer = Tokenizer(mine_terms([c.text for c in corpus.clauses]))
    vectors = embedder.encode_passages([c.index_text for c in chunks])
    phrases = phrase_corpus(corpus.documents)
    # Phrases are embedded as queries: a question against one short statement is a symmetric match
    # (the e5 authors' advice for sentence similarity). Measured on the dev split, the query prompt and
    # the passage prompt rank alike for phrases (dev Hit@1 0.87 vs 0.84 in a one-off comparison through
    # the C engine; script not kept); queries it is.
    phrase_vectors = embedder.encode_queries([p.text for p in phrases])
    # Words as the query prompt embeds them: they are matched against a question's words embedded alone.
    words = corpus_words([c.index_text for c in chunks], tokenizer)
    word_vectors = embedder.encode_queries(words) if words else np.zeros((0, embedder.dim), dtype=np.float32)
    tmp = folder.parent / f".{folder.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        faiss_type = _write_faiss(tmp / "index.faiss", vectors, hnsw_above)
        _write_jsonl(tmp / "chunks.jsonl", [asdict(c) for c in chunks])
        phrase_faiss_type = _write_faiss(tmp / "phrases.faiss", phrase_vectors, hnsw_above)
        _write_jsonl(tmp / "phrases.jsonl", [asdict(p) for p in phrases])
        _write_jsonl(tmp / "clauses.jsonl", [_clause_json(c) for c in corpus.clauses])
        (tmp / "terms.txt").write_text("\n".join(tokenizer.terms) + "\n", encoding="utf-8")
        (tmp / "vocab.txt").write_text("".join(w + "\n" for w in words), encoding="utf-8")
        _write_faiss(tmp / "vocab.faiss", word_vectors, hnsw_above=len(word_vectors))  # always exact
        model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        model.index([tokenizer.tokens(c.index_text) for c in chunks], show_progress=False)
        model.save(str(tmp / "bm25"), show_progress=False)
        files = {name: _sha256(tmp / name) for name in _FILES}
        files.update({f"bm25/{p.name}": _sha256(p) for p in sorted((tmp / "bm25").iterdir())})
        meta = IndexMeta(FORMAT_VERSION, embedder.model_id, embedder.dim, len(chunks),
                         len(corpus.clauses), corpus.sha256, faiss_type, len(phrases), phrase_faiss_type,
                         len(words), files, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        # meta.json last: a folder without it is an interrupted build, never a usable index.
        (tmp / "meta.json").write_text(json.dumps(asdict(meta), ensure_ascii=False, indent=2),
                                       encoding="utf-8")
        _swap_into_place(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _swap_into_place(tmp: Path, folder: Path) -> None:
    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    if folder.exists():
        folder.rename(old)
    try:
        tmp.rename(folder)
    except OSError:
        if old.exists():
            old.rename(folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def new_faiss(dim: int, rows: int, hnsw_above: int = HNSW_ABOVE) -> tuple[Any, str]:
    """An empty FAISS index for `rows` vectors, and its kind: exact up to hnsw_above rows, HNSW above.
    Inner product equals cosine on L2-normalised vectors."""
    if rows > hnsw_above:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return index, "hnsw"
    return faiss.IndexFlatIP(dim), "flat"


def _write_faiss(path: Path, vectors: np.ndarray, hnsw_above: int) -> str:
    index, kind = new_faiss(vectors.shape[1], len(vectors), hnsw_above)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    return kind


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _clause_json(c: Clause) -> dict[str, Any]:
    return {"clause_id": c.clause_id, "doc_id": c.doc_id, "citation": c.citation,
            "path": list(c.path), "text": c.text}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_meta(folder: Path) -> IndexMeta:
    """meta.json of an index folder, or IndexMismatch saying what is wrong and how to rebuild."""
    if not folder.is_dir():
        raise IndexMismatch(f"索引目录不存在：{folder}；{REBUILD}")
    path = folder / "meta.json"
    if not path.is_file():
        raise IndexMismatch(f"{path} 不存在（上次构建未完成？）；{REBUILD}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise IndexMismatch(f"{path} 无法读取（{exc}）；{REBUILD}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    # An older format has other fields: say which version it is rather than which field is missing.
    if version != FORMAT_VERSION:
        raise IndexMismatch(f"{path}：索引格式版本 {version}，当前程序需要 {FORMAT_VERSION}；{REBUILD}")
    try:
        return IndexMeta(**data)
    except TypeError as exc:
        raise IndexMismatch(f"{path} 无法读取（{exc}）；{REBUILD}") from None


def check_index(folder: Path, corpus: Corpus, model: str | None = None) -> IndexMeta:
    """Verify files, counts, corpus and model against meta.json; return it when all agree."""
    meta = read_meta(folder)
    for name, digest in meta.files.items():
        path = folder / name
        if not path.is_file():
            raise IndexMismatch(f"{path} 缺失；{REBUILD}")
        if _sha256(path) != digest:
            raise IndexMismatch(f"{path} 与 meta.json 记录的校验和不符（文件已损坏或被修改）；{REBUILD}")
    if meta.corpus_sha256 != corpus.sha256:
        raise IndexMismatch(f"{folder}：索引建于另一版本的语料（语料文件或清单已修改）；{REBUILD}")
    if model is not None and meta.model != model:
        raise IndexMismatch(f"{folder}：索引由模型 {meta.model} 构建，当前模型为 {model}；{REBUILD}")
    return meta


def load_index(folder: Path, corpus: Corpus, embedder: Embedder, meta: IndexMeta | None = None) -> ClauseIndex:
    """Load and verify an index for this corpus and this embedder.

    `meta` is what check_index() returned for the same folder, corpus and model; given it, the file
    checksums are not computed a second time.
    """
    if meta is None or meta.model != embedder.model_id:
        meta = check_index(folder, corpus, embedder.model_id)
    if meta.dim != embedder.dim:
        raise IndexMismatch(f"{folder}：索引向量维度 {meta.dim}，模型维度 {embedder.dim}；{REBUILD}")
    chunks = tuple(Chunk(**{**r, "span": tuple(r["span"])}) for r in _read_jsonl(folder / "chunks.jsonl"))
    records = _read_jsonl(folder / "clauses.jsonl")
    if len(chunks) != meta.count or len(records) != meta.clauses:
        raise IndexMismatch(
            f"{folder}：meta.json 记录 {meta.count} 个分块、{meta.clauses} 个条款，"
            f"文件中有 {len(chunks)} 个分块、{len(records)} 个条款；{REBUILD}")
    clauses = corpus.clauses
    if [r["clause_id"] for r in records] != [c.clause_id for c in clauses] or any(
            r["text"] != c.text or r["citation"] != c.citation for r, c in zip(records, clauses, strict=True)):
        raise IndexMismatch(f"{folder}：clauses.jsonl 的条款与语料不一致；{REBUILD}")
    index = _read_faiss(folder / "index.faiss", meta.count, meta.dim, meta.faiss_type)
    phrases = tuple(Phrase(r["clause_id"], tuple(r["span"]), r["text"]) for r in _read_jsonl(folder / "phrases.jsonl"))
    if len(phrases) != meta.phrases:
        raise IndexMismatch(f"{folder}：meta.json 记录 {meta.phrases} 个短句，文件中有 {len(phrases)} 个；{REBUILD}")
    phrase_index = _read_faiss(folder / "phrases.faiss", meta.phrases, meta.dim, meta.phrase_faiss_type)
    position = {c.clause_id: i for i, c in enumerate(clauses)}
    if any(ch.clause_id not in position for ch in chunks) or any(p.clause_id not in position for p in phrases):
        raise IndexMismatch(f"{folder}：分块或短句指向语料中没有的条款；{REBUILD}")
    chunk_clause = np.array([position[ch.clause_id] for ch in chunks], dtype=np.int64)
    phrase_clause = np.array([position[p.clause_id] for p in phrases], dtype=np.int64)
    terms = (folder / "terms.txt").read_text(encoding="utf-8").split()
    words = tuple((folder / "vocab.txt").read_text(encoding="utf-8").split())
    if len(words) != meta.vocab:
        raise IndexMismatch(f"{folder}：meta.json 记录 {meta.vocab} 个词，vocab.txt 中有 {len(words)} 个；{REBUILD}")
    text = "\n".join(ch.index_text for ch in chunks)
    vocab = Vocabulary(words, _read_faiss(folder / "vocab.faiss", meta.vocab, meta.dim, "flat"), text,
                       corpus.lexicon.used_in(text))
    bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
    doc_position = {d.doc_id: i for i, d in enumerate(corpus.documents)}
    clause_doc = np.array([doc_position[c.doc_id] for c in clauses], dtype=np.int64)
    return ClauseIndex(folder, meta, corpus, chunks, chunk_clause, clauses, clause_doc, index, bm25, Tokenizer(terms),
                       phrases, phrase_clause, phrase_index, vocab, clause_roles(clauses))


def _read_faiss(path: Path, rows: int, dim: int, kind: str) -> Any:
    index: Any
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexMismatch(f"{path} 无法读取（{str(exc).splitlines()[0]}）；{REBUILD}") from None
    if index.ntotal != rows or index.d != dim:
        raise IndexMismatch(f"{path}：{index.ntotal} 行 × {index.d} 维，"
                            f"meta.json 记录 {rows} 行 × {dim} 维；{REBUILD}")
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise IndexMismatch(f"{path}:{lineno}: 不是有效的 JSON 行；{REBUILD}") from None
    return rows
