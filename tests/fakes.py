"""A keyword embedder: hashed character bigrams. Deterministic and hand-checkable; used only where
the test is about the index machinery, never to stand in for the shipped model's behaviour."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


class BigramEmbedder:
    def __init__(self, dim: int = 256, model_id: str = "fake-bigram-256") -> None:
        self.dim = dim
        self.model_id = model_id

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(text, text[1:], strict=False):
            h = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_queries(texts)
