"""Query words the corpus never uses -> the corpus words nearest in meaning, as extra BM25 terms.

Users ask in their own words: 银行, 贷款, 公司, 打算 where the documents say 金融机构, 信贷/融资, 企业, 计划.
BM25 scores such a word 0 (no clause has it), and e5-small's whole-question vector does not always
make up for it. So at build time every word the corpus uses (jieba search-mode words of two or more
Chinese characters) is embedded once, and at query time each topic word of the question that occurs
nowhere in the corpus text is embedded alone and stands, for BM25 only, for its nearest corpus words
above a cosine floor. Their BM25 scores are added with a weight below 1: a neighbour stands in for the user's word,
it is not the user's word. Neighbours are looked up in the corpus's own vocabulary, so nothing here is
fitted to any question; the floor, the number of neighbours and the weight were chosen on the QA set's
dev split (evaluation/tune.py, figures in the README).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embed import Embedder
from .lexicon import Lexicon
from .tokenize import STOPWORDS, Tokenizer, function_word, topic_word

_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
# Distinct unknown words remembered per process (each costs one ~5 ms embedding on 2 cores).
_CACHE_MAX = 50_000


def corpus_words(texts: Iterable[str], tokenizer: Tokenizer) -> list[str]:
    """Every jieba search-mode word of two or more Chinese characters in `texts`, sorted."""
    return sorted({w for t in texts for w in tokenizer.search_words(t) if _WORD.fullmatch(w) and w not in STOPWORDS})


@dataclass(frozen=True)
class Vocabulary:
    """The corpus's words and a FAISS inner-product index over their vectors (row i == words[i])."""

    words: tuple[str, ...]
    index: Any
    # The text the words come from: a word that occurs in it is no unknown word, however jieba cuts it there
    # (钒钛 is no jieba word of 钒钛磁铁矿, but the corpus uses it, and BM25's character bigrams match it).
    text: str = field(repr=False)
    # The words users say for the corpus's words (rag/lexicon.py), less those of its words the corpus never uses.
    lexicon: Lexicon = field(default_factory=Lexicon)
    known: frozenset[str] = field(init=False)
    # word -> its (neighbour, cosine) list, best first; filled as questions come.
    _cache: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict, init=False, repr=False,
                                                            compare=False)
    # Any, not threading.Lock: the LangChain retriever's pydantic schema walks these fields (rag/lc.py).
    _lock: Any = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset(self.words))

    def forget(self) -> None:
        """Empty the word cache (benchmarks measure the first time a process meets a word)."""
        with self._lock:
            self._cache.clear()

    def unknown_words(self, question: str, tokenizer: Tokenizer) -> list[str]:
        """The question's topic words (two or more Chinese characters, no function word) that never occur in the
        corpus text, in order, each once."""
        out: list[str] = []
        for w in tokenizer.words(question):
            # `known` first: a set look-up spares most words the scan of the whole text.
            if (_WORD.fullmatch(w) and w not in self.known and w not in STOPWORDS and w not in out
                    and topic_word(w) and not function_word(w) and w not in self.text):
                out.append(w)
        return out

    def neighbours(self, words: Sequence[str], embedder: Embedder, depth: int) -> list[tuple[tuple[str, float], ...]]:
        """For each word, its `depth` nearest corpus words with their cosines, best first."""
        with self._lock:
            missing = [w for w in words if len(self._cache.get(w, ())) < depth]
        if missing and len(self.words):
            vectors = embedder.encode_queries(missing)
            scores, rows = self.index.search(np.ascontiguousarray(vectors, dtype=np.float32),
                                             min(depth, len(self.words)))
            with self._lock:
                if len(self._cache) + len(missing) > _CACHE_MAX:
                    self._cache.clear()
                for w, s, r in zip(missing, scores, rows, strict=True):
                    self._cache[w] = tuple((self.words[j], float(c)) for j, c in zip(r, s, strict=True) if j >= 0)
        with self._lock:
            return [self._cache.get(w, ())[:depth] for w in words]

    def stand_ins(self, question: str, tokenizer: Tokenizer, embedder: Embedder, depth: int,
                  min_cosine: float) -> list[tuple[str, tuple[str, ...]]]:
        """Each unknown word of the question with the corpus words that stand in for it: up to `depth`, each at
        least `min_cosine` from it (words with none are left out)."""
        unknown = self.unknown_words(question, tokenizer)
        if not unknown or depth < 1:
            return []
        pairs = zip(unknown, self.neighbours(unknown, embedder, depth), strict=True)
        found = [(w, tuple(v for v, cos in near if cos >= min_cosine)) for w, near in pairs]
        return [(w, near) for w, near in found if near]

    def expansion(self, question: str, tokenizer: Tokenizer, embedder: Embedder, depth: int,
                  min_cosine: float) -> list[str]:
        """The corpus words that stand in for the question's unknown words (stand_ins), in order."""
        return [v for _, near in self.stand_ins(question, tokenizer, embedder, depth, min_cosine) for v in near]
