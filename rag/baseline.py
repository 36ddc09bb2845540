"""The "generic RAG" baseline: chunks the way general systems do, with no clause structure.

Fixed windows of about 750 characters with 150 characters of overlap, cut at 。！？ and, for a
sentence longer than a window, at other punctuation. The windows are searched with the same
model and the same dense + BM25 fusion as the product, so the comparison isolates what the
clause structure (and the clause-number router) adds. A window's hits are mapped to clauses by
character overlap, largest overlap first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import faiss
import numpy as np

from .clauses import Clause
from .corpus import Corpus
from .embed import Embedder
from .index import BM25_B, BM25_K1
from .retrieve import RetrievalParams, clean_query, rrf_ranks, standardize
from .tokenize import Tokenizer

WINDOW, OVERLAP = 750, 150
_SENTENCE = re.compile(r"[^。！？]*[。！？]+|[^。！？]+$")
_CLAUSE_PUNCT = re.compile(r"[^，；：、]*[，；：、]+|[^，；：、]+$")


@dataclass(frozen=True)
class Window:
    doc_id: str
    span: tuple[int, int]     # offsets into the document's clean text
    text: str


def make_windows(corpus: Corpus, size: int = WINDOW, overlap: int = OVERLAP) -> list[Window]:
    """Fixed windows over each document's whole clean text (title, lead and all)."""
    out: list[Window] = []
    for doc in corpus.documents:
        text = doc.clean.text
        units = _units(text, size)
        start_i = 0
        while start_i < len(units):
            a = units[start_i][0]
            j = start_i
            while j < len(units) and units[j][1] - a <= size:
                j += 1
            j = max(j, start_i + 1)
            b = units[j - 1][1]
            out.append(Window(doc.doc_id, (a, b), text[a:b]))
            if j >= len(units):
                break
            # Step back so that about `overlap` characters repeat in the next window.
            k = j
            while k > start_i + 1 and b - units[k - 1][0] < overlap:
                k -= 1
            start_i = k if k < j else j
    return out


def _units(text: str, size: int) -> list[tuple[int, int]]:
    """Sentence spans; a sentence longer than a window is cut at other punctuation, then hard."""
    units: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        a, b = m.span()
        if b - a <= size:
            units.append((a, b))
            continue
        for n in _CLAUSE_PUNCT.finditer(text, a, b):
            x, y = n.span()
            while y - x > size:
                units.append((x, x + size))
                x += size
            if y > x:
                units.append((x, y))
    return [(a, b) for a, b in units if b > a]


class GenericRag:
    """Windows indexed in memory (FAISS flat + bm25s), searched with the product's fusion."""

    def __init__(self, corpus: Corpus, embedder: Embedder, tokenizer: Tokenizer,
                 params: RetrievalParams | None = None) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.params = params or RetrievalParams()
        self.windows = make_windows(corpus)
        vectors = embedder.encode_passages([w.text for w in self.windows])
        self.faiss = faiss.IndexFlatIP(embedder.dim)
        self.faiss.add(vectors)
        self.bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        self.bm25.index([tokenizer.tokens(w.text) for w in self.windows], show_progress=False)
        self._overlaps = [self._clauses_in(w) for w in self.windows]

    def _clauses_in(self, w: Window) -> list[Clause]:
        doc = self.corpus.document(w.doc_id)
        scored = []
        for c in doc.clauses:
            overlap = min(w.span[1], c.span[1]) - max(w.span[0], c.span[0])
            if overlap > 0:
                scored.append((-overlap, c.span[0], c))
        return [c for _, _, c in sorted(scored, key=lambda t: (t[0], t[1]))]

    def search(self, query: str, k: int = 10) -> list[Clause]:
        """Clauses in the order their windows rank (dense and BM25 over windows, fused as the pipeline fuses)."""
        q = clean_query(query)
        n = len(self.windows)
        p = self.params
        scores, rows = self.faiss.search(self.embedder.encode_queries([q]), n)
        dense = np.full(n, -np.inf)
        dense[rows[0]] = scores[0]
        tokens = self.tokenizer.tokens(q)
        lexical = np.full(n, -np.inf)
        if tokens:
            bm = self.bm25.get_scores(tokens)
            lexical = np.where(bm > 0, bm, -np.inf)
        if p.fusion == "zscore":
            # Every window is scored by both (no candidate cut): a window BM25 does not match scores 0.
            fused = p.w_dense * standardize(dense) + p.w_lexical * standardize(lexical, 0.0)
        else:
            fused = p.w_dense / (p.rrf_k + rrf_ranks(dense)) + p.w_lexical / (p.rrf_k + rrf_ranks(lexical))
        out: list[Clause] = []
        seen: set[str] = set()
        for row in np.argsort(-fused, kind="stable"):
            for c in self._overlaps[row]:
                if c.clause_id not in seen:
                    seen.add(c.clause_id)
                    out.append(c)
            if len(out) >= k:
                break
        return out[:k]


def window_stats(windows: Sequence[Window]) -> dict[str, float]:
    """Count and mean length, for the report."""
    lengths = [len(w.text) for w in windows]
    return {"windows": len(lengths), "mean_chars": float(np.mean(lengths)) if lengths else 0.0}
