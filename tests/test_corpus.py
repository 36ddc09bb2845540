"""Manifest and file reading: encodings, bad files, bad entries; chunking."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.chunks import MIN_PHRASE_CHARS, chunk_corpus, clause_phrases, phrase_corpus
from rag.clauses import Clause, Document
from rag.config import ROOT
from rag.corpus import Corpus, load_corpus
from rag.errors import ClauseParseError, DocumentError, ManifestError

FIXTURES = Path(__file__).parent / "fixtures"

ENTRY = """
[[document]]
id = "{id}"
file = "{file}"
title = "{title}"
short_title = "{short}"
kind = "办法"
{extra}
"""


def make_corpus(tmp_path: Path, files: dict[str, bytes], entries: list[dict[str, str]]) -> Path:
    (tmp_path / "docs").mkdir(exist_ok=True)
    for name, data in files.items():
        (tmp_path / "docs" / name).write_bytes(data)
    text = "".join(ENTRY.format(**{"extra": "", **e}) for e in entries)
    (tmp_path / "manifest.toml").write_text(text, encoding="utf-8")
    return tmp_path


def banfa_entry(**kw: str) -> dict[str, str]:
    return {"id": "banfa", "file": "docs/banfa.txt", "title": "四川省示范资金管理办法",
            "short": "《办法》", **kw}


BANFA = (FIXTURES / "banfa.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("data", [
    BANFA.encode("utf-8"), b"\xef\xbb\xbf" + BANFA.encode("utf-8"), BANFA.encode("gbk"),
    BANFA.replace("\n", "\r\n").encode("utf-8")])
def test_utf8_bom_gbk_and_crlf_read_the_same(tmp_path: Path, data: bytes) -> None:
    corpus = load_corpus(make_corpus(tmp_path, {"banfa.txt": data}, [banfa_entry()]))
    assert [c.citation for c in corpus.clauses] == [f"《办法》第{n}条" for n in "一二三四五"]
    assert corpus.clauses[0].text.startswith("第一条 为规范示范资金管理")


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"banfa\.txt: file is empty"):
        load_corpus(make_corpus(tmp_path, {"banfa.txt": b" \n\n"}, [banfa_entry()]))


def test_binary_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"banfa\.txt: binary file"):
        load_corpus(make_corpus(tmp_path, {"banfa.txt": bytes(range(256)) * 4}, [banfa_entry()]))


def test_missing_file_named_in_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"document 'banfa': file 'docs/banfa.txt' not found"):
        load_corpus(make_corpus(tmp_path, {}, [banfa_entry()]))


def test_missing_field(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text('[[document]]\nid = "x"\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="document #1: field 'file' is missing"):
        load_corpus(tmp_path)


def test_bad_toml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text('[[document]]\nid = "x\n', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"manifest\.toml: not valid TOML: .*line 2"):
        load_corpus(tmp_path)


def test_duplicate_ids(tmp_path: Path) -> None:
    files = {"banfa.txt": BANFA.encode()}
    with pytest.raises(ManifestError, match="id is used twice"):
        load_corpus(make_corpus(tmp_path, files, [banfa_entry(), banfa_entry(short="《另一个》")]))


def test_skipped_numbering_in_a_corpus_file(tmp_path: Path) -> None:
    files = {"skip.txt": (FIXTURES / "skip.txt").read_bytes()}
    entry = {"id": "skip", "file": "docs/skip.txt", "title": "某市若干措施", "short": "《措施》"}
    with pytest.raises(ClauseParseError, match=r"skip \(skip\.txt\):9: （四） follows （二）"):
        load_corpus(make_corpus(tmp_path, files, [entry]))


def test_a_third_document_is_a_file_and_a_manifest_entry(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    shutil.copy(FIXTURES / "banfa.txt", tmp_path / "corpus" / "docs" / "banfa.txt")
    with open(tmp_path / "corpus" / "manifest.toml", "a", encoding="utf-8") as f:
        f.write(ENTRY.format(extra="", **banfa_entry()))
    before = load_corpus(ROOT / "corpus")
    after = load_corpus(tmp_path / "corpus")
    assert len(after.documents) == 3
    assert len(after.clauses) == len(before.clauses) + 5
    assert after.sha256 != before.sha256


def test_checksum_changes_with_a_file_byte(tmp_path: Path) -> None:
    base = make_corpus(tmp_path, {"banfa.txt": BANFA.encode()}, [banfa_entry()])
    first = load_corpus(base).sha256
    (base / "docs" / "banfa.txt").write_text(BANFA.replace("总则", "总 则"), encoding="utf-8")
    assert load_corpus(base).sha256 != first


def test_chunks_fit_the_embedder_and_keep_their_clause(corpus: Corpus) -> None:
    chunks = chunk_corpus(corpus.documents, max_chars=600)
    by_clause: dict[str, list[str]] = {}
    for ch in chunks:
        assert len(ch.text) <= 600
        by_clause.setdefault(ch.clause_id, []).append(ch.text)
        assert ch.context.startswith(("《指南》", "《若干意见》"))
    clauses = {c.clause_id: c for c in corpus.clauses}
    assert set(by_clause) == set(clauses)
    for cid, pieces in by_clause.items():
        assert "".join(pieces).replace("\n", "") == clauses[cid].text.replace("\n", "")


def test_long_clause_is_split_at_its_enumerations(corpus: Corpus) -> None:
    chunks = [ch for ch in chunk_corpus(corpus.documents, max_chars=300)
              if ch.clause_id == "sichuan-vti-re-guide:ch3.sec2.it2"]
    assert len(chunks) > 1
    assert all(ch.text.startswith(("（二）", "二是", "三是", "四是")) for ch in chunks)
    assert chunks[0].context == "《指南》 第三章 主要任务 第二节 优化产业布局 （二）做大做精钒钛产业"


@pytest.mark.parametrize("name", ["banfa", "numbered", "zhang_no_jie", "wrapped"])
def test_phrases_tile_fixture_clauses(parse_fixture: Callable[[str], Document], name: str) -> None:
    doc = parse_fixture(name)
    for c in doc.clauses:
        _assert_tiles(c, doc)


def test_phrases_tile_every_clause_of_the_seeds(corpus: Corpus) -> None:
    phrases = phrase_corpus(corpus.documents)
    assert len(phrases) > 3 * len(corpus.clauses)  # the finer view really is finer
    for doc in corpus.documents:
        for c in doc.clauses:
            _assert_tiles(c, doc)


def test_phrases_cut_at_commas_and_keep_short_pieces_with_the_next(corpus: Corpus) -> None:
    doc = corpus.document("sichuan-vti-re-guide")
    clause = next(c for c in doc.clauses if c.clause_id == "sichuan-vti-re-guide:ch3.sec2.it2")
    texts = [p.text for p in clause_phrases(clause, doc)]
    assert texts[0] == "（二）做大做精钒钛产业。"
    assert any(t.endswith("，") for t in texts)
    assert not any(t in ("一是", "二是，") for t in texts)


def _assert_tiles(clause: Clause, doc: Document) -> None:
    phrases = clause_phrases(clause, doc)
    assert phrases, clause.clause_id
    assert "".join(p.text for p in phrases).replace("\n", "").replace(" ", "") == \
        clause.text.replace("\n", "").replace(" ", "")
    previous_end = clause.span[0]
    for p in phrases:
        assert p.clause_id == clause.clause_id
        assert previous_end <= p.span[0] < p.span[1] <= clause.span[1]
        assert doc.clean.text[p.span[0]:p.span[1]] == p.text
        previous_end = p.span[1]
    assert all(len(p.text) >= MIN_PHRASE_CHARS for p in phrases[:-1])
