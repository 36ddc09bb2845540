"""Lexical tokens for BM25: jieba with a user dictionary mined from the corpus itself.

jieba's general dictionary cuts domain terms apart (钒钛磁铁矿 -> 钒钛/磁铁矿, 探矿权 -> 探矿/权).
The corpus tells us its own terms: strings that recur across clauses and that stand as a unit
(several different characters appear before and after them; they are not mostly part of a
longer recurring string), plus terms the documents put in quotes (“订单式”). Those go into a
private `jieba.Tokenizer` (never the global one). Search-mode cutting then emits the whole term
and its dictionary sub-words, so "钒钛" still matches "钒钛磁铁矿".

Numbers are kept whole ("75.34%", "655", "2025") so that figures in a query match exactly, and
every run of Chinese characters also yields its character bigrams.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import jieba

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_TOKEN_RUN = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)*%?)|(?P<en>[A-Za-z][A-Za-z₀-₉0-9]*)|(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff]+)")
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_QUOTED = re.compile(r"[“\"]([\u4e00-\u9fff]{2,8})[”\"]")
# Function words and question words that carry no topic; single content characters
# (钒, 钛, 锂, 磷) are kept on purpose.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 有 对 为 将 把 被 等 个 之 其 并 中 上 下 也 都 就 而 以 于 由 从 向 到 "
    "吗 呢 吧 啊 么 什么 哪些 哪个 怎么 怎样 如何 多少 是否 有没有 有何 是不是 要求 请问 一下 我们 我 你 "
    "哪里 为什么 应该 需要 可以 能否 能 会 这 那 这个 那个 这些 那些 一 二 三 方面 相关 有关 关于 "
    "政策 规定 文件 条款 内容 提到 提出 说 讲".split()
)
_MIN_DF = 3          # a term must recur in at least this many clauses
_MIN_LEN, _MAX_LEN = 3, 6

jieba.setLogLevel(logging.WARNING)


def mine_terms(texts: Sequence[str]) -> list[str]:
    """Recurring, self-contained strings of 3-6 Chinese characters, plus quoted terms.

    A candidate must recur in several clauses, be preceded and followed by varied characters,
    start and end on jieba's own word boundaries in most of its occurrences (so that "业创新",
    cut out of 产业创新, is no term), and be cut into two or more words by jieba's dictionary
    (otherwise jieba knows it already).
    """
    base = jieba.Tokenizer()
    base.initialize()
    df: Counter[str] = Counter()
    occurrences: Counter[str] = Counter()
    aligned: Counter[str] = Counter()
    left: defaultdict[str, set[str]] = defaultdict(set)
    right: defaultdict[str, set[str]] = defaultdict(set)
    for text in texts:
        seen: set[str] = set()
        for run_match in _CJK_RUN.finditer(text):
            run = run_match.group(0)
            bounds = {0}
            for w in base.cut(run, HMM=False):
                bounds.add(max(bounds) + len(w))
            for n in range(_MIN_LEN, _MAX_LEN + 1):
                for i in range(len(run) - n + 1):
                    g = run[i:i + n]
                    seen.add(g)
                    occurrences[g] += 1
                    aligned[g] += i in bounds and i + n in bounds
                    left[g].add(run[i - 1] if i else "^")
                    right[g].add(run[i + n] if i + n < len(run) else "$")
        df.update(seen)
    terms = set()
    for g, count in df.items():
        if count < _MIN_DF or aligned[g] < 0.5 * occurrences[g]:
            continue
        if len(left[g]) < 2 or len(right[g]) < 2:
            continue  # always preceded or followed by the same character: a fragment
        if g[0] in STOPWORDS or g[-1] in STOPWORDS or len(list(base.cut(g, HMM=False))) < 2:
            continue
        terms.add(g)
    for text in texts:
        terms.update(_QUOTED.findall(text))
    return sorted(terms)


def fold_subscripts(text: str) -> str:
    """Subscript digits as ASCII: "V₂O₅" as the documents write it is "V2O5" as users type it."""
    return text.translate(_SUBSCRIPT_DIGITS)


def topic_word(word: str) -> bool:
    """Whether a word can name a topic: any word of two or more characters, and a single character only
    when jieba's dictionary knows it as a noun (钒, 钛, 锂, 磷, 煤, 税), not as a verb, adjective,
    pronoun or numeral (要, 定, 拿, 大, 各, 多). The corpus seldom uses such characters as words of their
    own, so as topic words they would weigh as much as a term it never mentions."""
    return len(word) > 1 or _char_tags().get(word, "n").startswith("n")


def word_tag(word: str) -> str:
    """jieba's part-of-speech tag of a word of its dictionary ("n", "ns", "v"…; "" for a word it lacks or one
    longer than four characters). A single character costs nothing; a longer word loads the word table once."""
    return (_char_tags() if len(word) == 1 else _word_tags()).get(word, "")


def function_word(word: str) -> bool:
    """Whether jieba's dictionary knows a word of two to four characters only as a function word: a locative
    (里面, 以后), pronoun (那边, 自己), adverb (已经, 其实), conjunction (还是), particle (的话), preposition
    (对于), numeral (几年, 一块) or time word (现在, 目前, 今年: when something is asked, not what about)."""
    return word in _function_words()


def starts_with_noun(text: str) -> bool:
    """Whether the longest word of jieba's dictionary (up to 4 characters) that `text` starts with is a
    noun: "生产线有…" does, "涉及哪些…", "明确了…" do not."""
    tags = _word_tags()
    word = next((text[:n] for n in range(min(4, len(text)), 0, -1) if text[:n] in tags), "")
    return tags.get(word, "").startswith("n")


@functools.cache
def _dictionary() -> str:
    """jieba's dictionary file, one "word frequency tag" per line (read once)."""
    with jieba.get_dict_file() as f:
        return str(f.read().decode("utf-8"))


@functools.cache
def _char_tags() -> dict[str, str]:
    """jieba's part-of-speech tag of each one-character word in its dictionary (~50 ms, once)."""
    return dict(re.findall(r"^(\S) \d+ (\S+)$", _dictionary(), re.M))


@functools.cache
def _function_words() -> frozenset[str]:
    """The words of jieba's dictionary of two to four characters tagged f, r, d, c, u, p, m or t (~17k words,
    ~0.15 s and ~2 MB, once)."""
    return frozenset(m[1] for m in re.finditer(r"^(\S{2,4}) \d+ [frdcupmt]\S*$", _dictionary(), re.M))


@functools.cache
def _word_tags() -> dict[str, str]:
    """jieba's part-of-speech tag of each word of up to four characters (~0.5 s and ~40 MB, once, when first
    asked; the tags are interned, there are only a few dozen of them)."""
    return {m[1]: sys.intern(m[2]) for m in re.finditer(r"^(\S{1,4}) \d+ (\S+)$", _dictionary(), re.M)}


class Tokenizer:
    """Turns text into BM25 tokens with a private jieba dictionary."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms = tuple(sorted(set(terms)))
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for t in self.terms:
            self._jieba.add_word(t)

    def words(self, text: str) -> list[str]:
        """Plain jieba words (not search mode), for rewriting questions."""
        return [w for w in self._jieba.cut(text, HMM=False) if w.strip()]

    def search_words(self, text: str) -> list[str]:
        """Search-mode jieba words: every dictionary word inside a longer one too (稀土资源 -> 稀土, 资源)."""
        return [w for w in self._jieba.cut_for_search(text, HMM=False) if w.strip()]

    def tokens(self, text: str) -> list[str]:
        """BM25 tokens: search-mode jieba words, whole numbers, lower-cased Latin words."""
        out: list[str] = []
        for m in _TOKEN_RUN.finditer(text):
            if m.group("num"):
                num = m.group("num").replace(",", "")
                out.append(num)
                if num.endswith("%"):
                    out.append(num[:-1])
            elif m.group("en"):
                # "V₂O₅" as the documents write it and "V2O5" as users type it are one token.
                out.append(fold_subscripts(m.group("en").lower()))
            else:
                run = m.group("cjk")
                out.extend(w for w in self._jieba.cut_for_search(run, HMM=False) if w not in STOPWORDS)
                # Character bigrams as well: a paraphrase shares parts of words with the clause
                # (降电价 / 降低用电成本) that whole-word tokens miss. Measured on the QA set's dev
                # split: MRR@10 0.861 -> 0.902 (evaluation/tune.py, README).
                out.extend(run[i:i + 2] for i in range(len(run) - 1))
        return out
