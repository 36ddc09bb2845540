"""Numerals and the heading markers of Chinese policy and regulation texts.

The normaliser (to decide where a paragraph starts) and the parser (to build the tree) both
read headings through this one module, so the two can never disagree about what a heading is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "零〇一二两三四五六七八九十百千"
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def cn_to_int(s: str) -> int:
    """Parse a Chinese ("十二", "一百零五", "二〇") or Arabic ("12", "１２") numeral."""
    s = s.translate(_FULLWIDTH_DIGITS)
    if s.isdigit():
        return int(s)
    if not s or any(c not in _CN_DIGITS and c not in _CN_UNITS for c in s):
        raise ValueError(f"not a numeral: {s!r}")
    if not any(c in _CN_UNITS for c in s):  # positional form: 二〇二五
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, digit = 0, 0
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        else:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
    return total + digit


def int_to_cn(n: int) -> str:
    """Write 1..9999 the way policy texts number things: 十二, 二十, 一百零五."""
    if n <= 0 or n >= 10000:
        raise ValueError(f"out of range: {n}")
    digits = "零一二三四五六七八九"
    parts: list[str] = []
    zero_pending = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // value) % 10
        if d == 0:
            zero_pending = bool(parts)
            continue
        if zero_pending:
            parts.append("零")
            zero_pending = False
        if not (unit == "十" and d == 1 and not parts):  # 十二, not 一十二
            parts.append(digits[d])
        parts.append(unit)
    return "".join(parts)


@dataclass(frozen=True)
class Kind:
    """One kind of heading marker. Lower rank nests outside higher rank."""

    code: str          # used in clause ids: "ch3.sec2.it2"
    rank: int
    inline: bool       # True when the heading line normally carries the clause text itself

    def label(self, n: int) -> str:
        """The marker as printed in the text and in citations."""
        return _LABELS[self.code](n)


_LABELS = {
    "vol": lambda n: f"第{int_to_cn(n)}编",
    "ch": lambda n: f"第{int_to_cn(n)}章",
    "sec": lambda n: f"第{int_to_cn(n)}节",
    "art": lambda n: f"第{int_to_cn(n)}条",
    "pt": lambda n: f"{int_to_cn(n)}、",
    "it": lambda n: f"（{int_to_cn(n)}）",
    "n": lambda n: f"{n}.",
    "sub": lambda n: f"（{n}）",
}

VOLUME = Kind("vol", 0, inline=False)
CHAPTER = Kind("ch", 1, inline=False)
SECTION = Kind("sec", 2, inline=False)
ARTICLE = Kind("art", 3, inline=True)
PART = Kind("pt", 4, inline=False)
ITEM = Kind("it", 5, inline=True)
NUMBERED = Kind("n", 6, inline=True)
SUBITEM = Kind("sub", 7, inline=True)
KINDS = (VOLUME, CHAPTER, SECTION, ARTICLE, PART, ITEM, NUMBERED, SUBITEM)
KIND_BY_CODE = {k.code: k for k in KINDS}

_N = f"[{CN_NUM}]{{1,6}}"
# A 第X条 followed by these is a cross-reference ("第二条规定的"), never a heading.
_XREF_TAIL = "规定|的|所|中|之|至|第|、|和|或|及|项|款|关于"
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (VOLUME, re.compile(rf"第({_N}|\d{{1,3}})编(?=\s|[^\s，。、；]|$)")),
    (CHAPTER, re.compile(rf"第({_N}|\d{{1,3}})章(?=\s|[^\s，。、；]|$)")),
    (SECTION, re.compile(rf"第({_N}|\d{{1,3}})节(?=\s|[^\s，。、；]|$)")),
    (ARTICLE, re.compile(rf"第({_N}|\d{{1,3}})条(?!{_XREF_TAIL})")),
    (PART, re.compile(rf"({_N})、")),
    (ITEM, re.compile(rf"[（(]({_N})[）)]")),
    (NUMBERED, re.compile(r"(\d{1,3})[.．、](?![\d%])")),
    (SUBITEM, re.compile(r"[（(](\d{1,3})[）)]")),
)

# Enumerations inside a clause: 一是…二是…; only at the start of a sentence.
ENUM_RE = re.compile(rf"(?:(?<=^)|(?<=[。；：:;]))\s*(?P<num>[{CN_NUM}]{{1,3}})是")
TERMINATORS = "。！？；：!?;:"
CLOSERS = "”’」』）》】)\"'"


@dataclass(frozen=True)
class Heading:
    """A heading marker found at the start of a paragraph."""

    kind: Kind
    number: int
    marker_end: int     # offset just after the marker ("（一）" / "第一章")
    title: str          # "强化战略和规划引领" / "编制背景"; "" when none
    body_start: int     # offset where the clause's own text starts after the title; len(text) if none

    @property
    def heading_only(self) -> bool:
        """True when the paragraph is just a heading line (no clause text after the title)."""
        return self.body_start < 0


def match_heading(text: str) -> Heading | None:
    """Recognise a heading marker at the very start of a paragraph, or return None."""
    for kind, pattern in _PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        try:
            number = cn_to_int(m.group(1))
        except ValueError:
            continue
        if number == 0:
            continue
        rest = text[m.end():]
        lead = len(rest) - len(rest.lstrip())
        start = m.end() + lead
        if kind is ARTICLE:
            # 第X条 is followed directly by its text; an article has no title of its own.
            return Heading(kind, number, m.end(), "", start)
        title, body = _split_title(text, start)
        if body < 0 and len(text) - start > 60:
            # A 60+ character "heading" with no sentence end is running text, not a heading.
            continue
        return Heading(kind, number, m.end(), title, body)
    return None


def _split_title(text: str, start: int) -> tuple[str, int]:
    """Split "强化战略和规划引领。强化…" into the title and the offset of the text after it.

    Returns body offset -1 when the paragraph is only a title (no sentence terminator).
    """
    end = -1
    for i in range(start, min(len(text), start + 40)):
        if text[i] in "。！？；":
            end = i
            break
    if end < 0:
        if any(c in text[start:] for c in "。！？；"):
            return "", start       # long lead sentence: no separate title
        return text[start:].strip(), -1
    return text[start:end].strip(), end + 1


def is_heading_line(text: str) -> bool:
    """A paragraph that is only a heading (第一章 编制背景, 一、优化勘查布局…), no clause text."""
    h = match_heading(text)
    return h is not None and h.heading_only and len(text) <= 60
