"""corpus/lexicon.tsv -> Lexicon: the words users say for the documents' words (借钱 for 融资, 水电 for 水能).

Users ask in everyday words; policy documents write their own. Query expansion (rag/expand.py) finds stand-ins for
a word the corpus never uses among the e5 neighbours of the corpus vocabulary, but e5-small does not link every
pair (水电 → 家电 is as near as 水电 → 水能; 借钱 is near neither 融资 nor 信贷), and it never links a word the
corpus uses somewhere (环保 for 生态环境). The lexicon is the hand-kept list of such pairs, as a search engine keeps
a synonym file: each line gives the words people use and, after a tab, the documents' words they stand for. It is
kept with the corpus, because documents of another field bring other words; it is read at query time, so editing
it needs no index rebuild.

A user word that occurs anywhere in a question brings its documents' words into BM25 at weight w_lexicon (2, chosen
on dev: a listed synonym counts at least as the user's word itself, where an e5 stand-in counts half;
rag/retrieve.py), and coverage counts a question word as present where one of its documents' words is
(rag/answer.py). Only words the corpus uses are brought in: the index holds the lexicon less the others
(Lexicon.used_in).

    # comment
    借钱 借款 贷款	融资 信贷
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ManifestError

FILE_NAME = "lexicon.tsv"


@dataclass(frozen=True)
class Lexicon:
    """User words and the documents' words each stands for."""

    entries: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    _by_word: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_word: dict[str, set[str]] = {}
        for users, documents in self.entries:
            for u in users:
                by_word.setdefault(u, set()).update(documents)
        object.__setattr__(self, "_by_word", {u: frozenset(d) for u, d in by_word.items()})

    def equivalents(self, word: str) -> frozenset[str]:
        """The documents' words a user word stands for (empty for a word the lexicon does not list)."""
        return self._by_word.get(word, frozenset())

    def used_in(self, corpus_text: str) -> Lexicon:
        """The lexicon less the documents' words `corpus_text` never uses (and the lines left with none): worked out
        once when the index loads, so that a question does not scan the corpus text for each word."""
        kept = ((users, tuple(d for d in documents if d in corpus_text)) for users, documents in self.entries)
        return Lexicon(tuple((users, documents) for users, documents in kept if documents))

    def stand_ins(self, question: str) -> list[str]:
        """The documents' words for every user word the question contains, in order, once."""
        found: list[str] = []
        for users, documents in self.entries:
            if any(u in question for u in users):
                found.extend(d for d in documents if d not in found)
        return found


def load_lexicon(path: Path) -> Lexicon:
    """Read a lexicon file; an empty Lexicon when there is none. A malformed line raises ManifestError naming it."""
    if not path.is_file():
        return Lexicon()
    return Lexicon(tuple(_entries(path, path.read_text(encoding="utf-8").splitlines())))


def _entries(path: Path, lines: Iterable[str]) -> Iterable[tuple[tuple[str, ...], tuple[str, ...]]]:
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].split() or not parts[1].split():
            raise ManifestError(f"{path}:{n}: 每行应为“用户用词<Tab>文件用词”，两边各至少一个词，以空格分隔")
        yield tuple(parts[0].split()), tuple(parts[1].split())
