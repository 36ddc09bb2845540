"""Index build / save / load, and every way a damaged or stale index is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import ROOT
from rag.corpus import Corpus, load_corpus
from rag.errors import IndexMismatch, QueryError
from rag.index import FORMAT_VERSION, build_index, load_index
from rag.retrieve import (
    RetrievalParams,
    _best_per_clause,
    fuse,
    order_candidates,
    rrf_ranks,
    search,
    standardize,
)

from .fakes import BigramEmbedder

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Path:
    folder = tmp_path_factory.mktemp("idx") / "default"
    build_index(corpus, BigramEmbedder(), folder)
    return folder


@pytest.fixture
def copy(built: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "default"
    shutil.copytree(built, folder)
    return folder


def test_folder_is_readable_and_consistent(built: Path, corpus: Corpus) -> None:
    meta = json.loads((built / "meta.json").read_text(encoding="utf-8"))
    lines = (built / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert meta["count"] == len(lines) and meta["clauses"] == len(corpus.clauses) == 75
    assert meta["model"] == "fake-bigram-256" and meta["dim"] == 256 and meta["faiss_type"] == "flat"
    assert meta["corpus_sha256"] == corpus.sha256
    assert "钒钛" in lines[30]  # ensure_ascii=False: a person can read it
    assert "钒钛磁铁矿" in (built / "terms.txt").read_text(encoding="utf-8").split()


def test_round_trip_gives_the_same_hits(built: Path, corpus: Corpus, tmp_path: Path) -> None:
    emb = BigramEmbedder()
    first = load_index(built, corpus, emb)
    again = tmp_path / "again"
    build_index(corpus, emb, again)
    second = load_index(again, corpus, emb)
    for q in ["探矿权 续期", "钛资源量占全国多少", "稀土冶炼分离", "（十五）"]:
        a = [(h.clause.clause_id, round(h.score, 9)) for h in search(first, emb, q, k=5)]
        b = [(h.clause.clause_id, round(h.score, 9)) for h in search(second, emb, q, k=5)]
        assert a == b


def test_clause_number_router_puts_the_named_clause_first(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    for q, cid in [("第三章第二节（二）", "sichuan-vti-re-guide:ch3.sec2.it2"),
                   ("若干意见第十五条", "sichuan-mining-opinions-2025:pt5.it15"),
                   ("第15条", "sichuan-mining-opinions-2025:pt5.it15"),
                   ("指南第一章第一节第一条", "sichuan-vti-re-guide:ch1.sec1.it1")]:
        hits = search(idx, emb, q, k=3)
        assert hits[0].clause.clause_id == cid and hits[0].via == "clause-number" and hits[0].part is None
    [hit] = search(idx, emb, "第三章第二节（二）三是", k=1)
    assert hit.clause.clause_id == "sichuan-vti-re-guide:ch3.sec2.it2" and hit.part and hit.part.label == "三是"


def test_filters_by_document_and_scope(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    hits = search(idx, emb, "稀土", k=10, doc="sichuan-mining-opinions-2025")
    assert hits and all(h.clause.doc_id == "sichuan-mining-opinions-2025" for h in hits)
    hits = search(idx, emb, "稀土", k=10, doc="sichuan-vti-re-guide", scope="第三章")
    assert hits and all(h.clause.keys[0] == ("ch", 3) for h in hits)
    with pytest.raises(Exception, match="no document with id 'nope'"):
        search(idx, emb, "稀土", doc="nope")


@pytest.mark.parametrize(("query", "message"), [
    ("", "查询为空"), ("   \t\n", "查询为空"), ("钒" * 10_000, "查询过长"), ("？？！！。。", "没有可检索的文字"),
    ("\x00\x01\x02", "查询为空")])
def test_bad_queries_are_refused_with_a_reason(built: Path, corpus: Corpus, query: str, message: str) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    with pytest.raises(QueryError, match=message):
        search(idx, emb, query)


def test_control_characters_and_english_only_still_search(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    assert search(idx, emb, "探矿权\x00续期\x07")[0].clause.citation == "《若干意见》（六）"
    assert search(idx, emb, "CCUS")[0].clause.citation == "《指南》第三章第五节（一）"


def test_numbers_match_exactly(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    assert search(idx, emb, "655万吨")[0].clause.citation == "《指南》第一章第二节（三）"
    assert search(idx, emb, "75.34%")[0].clause.citation == "《指南》第一章第一节（一）"


def test_missing_folder(tmp_path: Path, corpus: Corpus) -> None:
    with pytest.raises(IndexMismatch, match=r"索引目录不存在.*python -m rag build"):
        load_index(tmp_path / "nothing", corpus, BigramEmbedder())


def test_truncated_faiss_file(copy: Path, corpus: Corpus) -> None:
    data = (copy / "index.faiss").read_bytes()
    (copy / "index.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexMismatch, match=r"index\.faiss 与 meta\.json 记录的校验和不符.*rag build"):
        load_index(copy, corpus, BigramEmbedder())


def test_truncated_phrase_faiss_file(copy: Path, corpus: Corpus) -> None:
    data = (copy / "phrases.faiss").read_bytes()
    (copy / "phrases.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexMismatch, match=r"phrases\.faiss 与 meta\.json 记录的校验和不符.*rag build"):
        load_index(copy, corpus, BigramEmbedder())


@pytest.mark.parametrize(("name", "message"), [("phrases.jsonl", r"短句.*rag build"),
                                              ("vocab.txt", r"vocab\.txt 中有 .*rag build")])
def test_a_file_missing_a_line_even_with_matching_checksums(copy: Path, corpus: Corpus, name: str,
                                                            message: str) -> None:
    path = copy / name
    path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
    meta["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (copy / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexMismatch, match=message):
        load_index(copy, corpus, BigramEmbedder())


def test_index_of_an_older_format_names_its_version(copy: Path, corpus: Corpus) -> None:
    meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
    # Format 3 had no vocabulary; the format before this one has every field this one has.
    for version, fields in ((3, {k: v for k, v in meta.items() if k != "vocab"}), (FORMAT_VERSION - 1, meta)):
        (copy / "meta.json").write_text(json.dumps({**fields, "format_version": version}), encoding="utf-8")
        with pytest.raises(IndexMismatch,
                           match=rf"索引格式版本 {version}，当前程序需要 {FORMAT_VERSION}；请运行 `python -m rag build`"):
            load_index(copy, corpus, BigramEmbedder())


def test_vocabulary_holds_the_corpus_words_with_their_vectors(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    words = idx.vocab.words
    assert list(words) == sorted(set(words)) and {"探矿权", "稀土", "磁铁矿"} <= idx.vocab.known
    # 钒钛 is no jieba word of 钒钛磁铁矿, but the corpus uses it: it is not unknown, and gets no stand-ins.
    assert "钒钛" not in idx.vocab.known and idx.vocab.unknown_words("钒钛和银行", idx.tokenizer) == ["银行"]
    assert idx.vocab.index.ntotal == len(words) == idx.meta.vocab
    row = words.index("探矿权")
    assert np.allclose(idx.vocab.index.reconstruct(row), emb.encode_queries(["探矿权"])[0], atol=1e-6)


def test_expansion_embeds_each_unknown_word_once(built: Path, corpus: Corpus) -> None:
    class Counting(BigramEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[list[str]] = []

        def encode_queries(self, texts):  # type: ignore[no-untyped-def]
            self.calls.append(list(texts))
            return super().encode_queries(texts)

    emb = Counting()
    idx = load_index(built, corpus, emb)
    question = "找矿的银行和贷款"
    unknown = idx.vocab.unknown_words(question, idx.tokenizer)
    assert "银行" in unknown and not set(unknown) & idx.vocab.known
    first = idx.vocab.expansion(question, idx.tokenizer, emb, 2, 0.0)
    again = idx.vocab.expansion(question, idx.tokenizer, emb, 2, 0.0)
    assert first == again and set(first) <= idx.vocab.known and len(first) == 2 * len(unknown)
    assert [w for call in emb.calls for w in call].count("银行") == 1
    assert idx.vocab.expansion(question, idx.tokenizer, emb, 2, 1.01) == []  # no neighbour is that close
    assert idx.vocab.expansion("探矿权 续期", idx.tokenizer, emb, 2, 0.0) == []  # nothing unknown


def test_a_clause_scores_as_its_best_phrase(built: Path, corpus: Corpus) -> None:
    emb = BigramEmbedder()
    idx = load_index(built, corpus, emb)
    phrase = next(p for p in idx.phrases if p.clause_id == "sichuan-vti-re-guide:ch3.sec2.it2" and len(p.text) > 20)
    hits = search(idx, emb, phrase.text, k=75, mode="dense")
    hit = next(h for h in hits if h.clause.clause_id == phrase.clause_id)
    assert hit.phrase == pytest.approx(1.0, abs=1e-5)  # the query is that phrase, word for word
    assert hit.phrase > hit.dense                       # the whole clause is further from it


def test_clause_file_missing_a_line(copy: Path, corpus: Corpus) -> None:
    lines = (copy / "chunks.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (copy / "chunks.jsonl").write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(IndexMismatch, match=r"chunks\.jsonl"):
        load_index(copy, corpus, BigramEmbedder())


def test_manifest_from_another_model(copy: Path, corpus: Corpus) -> None:
    with pytest.raises(IndexMismatch, match="索引由模型 fake-bigram-256 构建，当前模型为 other"):
        load_index(copy, corpus, BigramEmbedder(model_id="other"))


def test_index_of_another_corpus(copy: Path, corpus: Corpus, tmp_path: Path) -> None:
    other = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", other)
    guide = other / "docs" / "sichuan-vti-re-guide.txt"
    guide.write_text(guide.read_text(encoding="utf-8").replace("75.34%", "76.34%"), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="索引建于另一版本的语料"):
        load_index(copy, load_corpus(other), BigramEmbedder())


def test_interrupted_build_leaves_no_usable_index(copy: Path, corpus: Corpus) -> None:
    (copy / "meta.json").unlink()  # a build that stopped before its last write
    with pytest.raises(IndexMismatch, match="上次构建未完成"):
        load_index(copy, corpus, BigramEmbedder())


def test_failed_rebuild_keeps_the_old_index(copy: Path, corpus: Corpus) -> None:
    class Exploding(BigramEmbedder):
        def encode_passages(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("disk full")

    before = {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()}
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(corpus, Exploding(), copy)
    assert {p.name: p.read_bytes() for p in copy.iterdir() if p.is_file()} == before
    assert load_index(copy, corpus, BigramEmbedder()).meta.count > 0
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]


def test_large_corpus_switches_to_hnsw(tmp_path: Path, corpus: Corpus) -> None:
    folder = tmp_path / "hnsw"
    build_index(corpus, BigramEmbedder(), folder, hnsw_above=10)
    idx = load_index(folder, corpus, BigramEmbedder())
    assert idx.meta.faiss_type == "hnsw"
    assert search(idx, BigramEmbedder(), "探矿权 续期")[0].clause.citation == "《若干意见》（六）"
    assert isinstance(idx.chunk_clause, np.ndarray)


def test_hnsw_search_looks_as_deep_as_the_rows_it_asks_for() -> None:
    """The phrase view asks HNSW for more rows than its efSearch; it must still find the nearest ones."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    hnsw = faiss.IndexHNSWFlat(32, 8, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(x)
    hnsw.hnsw.efSearch = 16  # as loaded: shallower than the 300 rows asked below
    flat = faiss.IndexFlatIP(32)
    flat.add(x)
    rows, ok = np.arange(len(x)), np.ones(len(x), dtype=bool)
    deep, shallow = [], []
    for v in x[:20] + 0.5 * rng.standard_normal((20, 32)).astype(np.float32):
        v = (v / np.linalg.norm(v))[None, :].astype(np.float32)
        exact = set(flat.search(v, 300)[1][0].tolist())
        out = np.full(len(x), -np.inf)
        _best_per_clause(out, hnsw, v, rows, ok, 300)
        deep.append(len(exact & set(np.flatnonzero(np.isfinite(out)).tolist())) / 300)
        shallow.append(len(exact & set(hnsw.search(v, 300)[1][0].tolist())) / 300)
    assert np.mean(deep) > 0.9 > np.mean(shallow) + 0.1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.just(-np.inf), st.floats(0.0, 10.0)), min_size=1, max_size=60),
       st.lists(st.one_of(st.just(-np.inf), st.floats(0.0, 10.0)), min_size=1, max_size=60),
       st.lists(st.booleans(), min_size=1, max_size=60), st.data())
def test_candidate_only_fusion_orders_like_a_full_sort(dense_l: list[float], lex_l: list[float],
                                                       mask_l: list[bool], data: st.DataObject) -> None:
    n = min(len(dense_l), len(lex_l), len(mask_l))
    dense, lexical, mask = np.array(dense_l[:n]), np.array(lex_l[:n]), np.array(mask_l[:n])
    routed = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=3))
    fused = fuse(dense, lexical, mask, RetrievalParams(), "hybrid")
    # reference: every clause sorted, in index order among ties, then filtered
    full = [int(i) for i in np.argsort(-fused, kind="stable") if mask[i] and fused[i] > 0 and int(i) not in routed]
    assert order_candidates(fused, mask, routed) == routed + full
    # every allowed candidate of either view takes part, and nothing else
    assert np.array_equal(fused > 0, mask & (np.isfinite(dense) | np.isfinite(lexical)))
    # ranks: the same as a full stable sort of the finite scores
    finite = np.flatnonzero(np.isfinite(dense))
    ref = np.full(n, np.inf)
    for r, i in enumerate(sorted(finite, key=lambda i: (-dense[i], i)), start=1):
        ref[i] = r
    assert np.array_equal(rrf_ranks(dense), ref)


def test_standardize_by_hand() -> None:
    z = standardize(np.array([1.0, 2.0, 3.0, -np.inf]))
    sd = np.sqrt(2 / 3)  # population sd of 1, 2, 3
    assert np.allclose(z, [-1 / sd, 0.0, 1 / sd, -1 / sd])  # a non-candidate counts as the lowest candidate
    assert not standardize(np.array([5.0, -np.inf])).any()  # one candidate of a cut list: no spread, no say
    # A list that kept every match: the others score `rest` and count (one match stands out).
    assert np.allclose(standardize(np.array([4.0, -np.inf, -np.inf, -np.inf]), 0.0), [np.sqrt(3), *[-1 / np.sqrt(3)] * 3])


def test_zscore_fusion_keeps_a_margin_that_ranks_throw_away() -> None:
    # Clause 0 leads the dense view by a cosine of 0.002, clause 1 the lexical view by a BM25 score 6x higher.
    dense = np.array([0.911, 0.909, 0.880, 0.870])
    lexical = np.array([6.0, 40.0, 5.0, 4.0])
    mask = np.ones(4, dtype=bool)
    z = fuse(dense, lexical, mask, RetrievalParams(fusion="zscore", w_dense=1.0, w_lexical=1.0), "hybrid")
    rrf = fuse(dense, lexical, mask, RetrievalParams(fusion="rrf", w_dense=1.0, w_lexical=1.0), "hybrid")
    assert int(np.argmax(z)) == 1
    assert rrf[0] == rrf[1]  # ranks 1 and 2 swap places: a tie whatever the margins

