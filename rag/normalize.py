"""Raw extracted text -> clean text: every normalisation rule lives here, each one tested.

Two kinds of rules:
- Layout: which physical lines form one paragraph (hard wraps and page breaks are joined,
  real paragraphs never are), and which paragraphs are the news lead, title, 文号, 主送机关,
  body and closing.
- Characters, inside a paragraph: U+FFFD, full-width letters and digits, stray English
  connectives, half-width punctuation, spaces around numbers.

The clean text keeps, for every character, the offset in the raw text it came from
(`CleanText.origin`), so a clause can always be traced back to the file as received.
"""

from __future__ import annotations

import bisect
import re
import statistics
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import opencc

from .markers import CLOSERS, ENUM_RE, TERMINATORS, cn_to_int, is_heading_line, match_heading

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
FW_PUNCT = "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65“”‘’—…·"
_CJK_RE = re.compile(f"[{CJK}]")
# Punctuation that can only continue a sentence: a line starting with it joins the line before.
_CONTINUING = "，。、；：！？）》」』”’%,.;:!?)"
LEAD_MARKERS = ("以下为原文", "以下是原文", "原文如下", "附原文", "以下为全文", "全文如下")
_DOC_NUMBER_RE = re.compile(r"^[^\s，。；：]{1,16}[〔\[［(（]\d{4}[〕\]］)）]\s*\d{1,4}\s*号$")
_DATE_RE = re.compile(
    r"^(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*[\d〇零一二三四五六七八九十]{1,3}\s*月"
    r"\s*[\d〇零一二三四五六七八九十]{1,3}\s*日$"
)
_WRAP_RATIO = 0.9   # a line this close to the wrap width that ends with 。 may still wrap


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of the clean text and the part of the document it belongs to."""

    start: int
    end: int
    role: str        # lead | title | doc_number | addressee | body | closing
    raw_line: int    # 1-based line of the raw file where the paragraph starts


@dataclass(frozen=True)
class Edit:
    """One change a character rule made, for the normalisation report."""

    rule: str
    raw_line: int
    before: str
    after: str


@dataclass(frozen=True)
class CleanText:
    """Clean text, paragraph roles, and the map back to the raw text."""

    text: str
    origin: tuple[int, ...]          # origin[i]: raw offset of clean character i
    paragraphs: tuple[Paragraph, ...]
    edits: tuple[Edit, ...]
    raw_line_starts: tuple[int, ...]

    def raw_offset(self, clean_offset: int) -> int:
        """The raw offset a clean offset came from."""
        if not self.origin:
            return 0
        return self.origin[min(clean_offset, len(self.origin) - 1)]

    def raw_line(self, clean_offset: int) -> int:
        """The 1-based raw line a clean offset came from."""
        return bisect.bisect_right(self.raw_line_starts, self.raw_offset(clean_offset))

    def body(self) -> tuple[Paragraph, ...]:
        """The paragraphs of the official text proper (no lead, title block or closing)."""
        return tuple(p for p in self.paragraphs if p.role == "body")

    def role_text(self, role: str) -> str:
        """The text of all paragraphs of one role, joined."""
        return "".join(self.text[p.start:p.end] for p in self.paragraphs if p.role == role)


@dataclass(frozen=True)
class _Line:
    text: str          # stripped
    start: int         # raw offset of text[0]
    number: int        # 1-based raw line number
    blank_before: bool


# ---------------------------------------------------------------- layout


def normalize(raw: str, title: str | None = None) -> CleanText:
    """Normalise a raw document. `title` (from the manifest) helps find where the official text starts."""
    lines, line_starts = _split_lines(raw)
    roles = _assign_roles(lines, title)
    width = _wrap_width([ln for ln, r in zip(lines, roles, strict=True) if r == "body"])
    groups = _group_paragraphs(lines, roles, width)
    out_text: list[str] = []
    out_origin: list[int] = []
    paragraphs: list[Paragraph] = []
    edits: list[Edit] = []
    for role, members in groups:
        chars: list[str] = []
        origin: list[int] = []
        for ln in members:
            chars.extend(ln.text)
            origin.extend(range(ln.start, ln.start + len(ln.text)))
        text, org = _clean_chars("".join(chars), origin, members[0].number, edits)
        if not text:
            continue
        if out_text:
            out_text.append("\n")
            out_origin.append(out_origin[-1] + 1)
        start = sum(len(t) for t in out_text)
        out_text.append(text)
        out_origin.extend(org)
        paragraphs.append(Paragraph(start, start + len(text), role, members[0].number))
    return CleanText("".join(out_text), tuple(out_origin), tuple(paragraphs), tuple(edits),
                     tuple(line_starts))


def _split_lines(raw: str) -> tuple[list[_Line], list[int]]:
    lines: list[_Line] = []
    starts: list[int] = []
    offset = 0
    blank = False
    for number, physical in enumerate(raw.split("\n"), start=1):
        starts.append(offset)
        body = physical.rstrip("\r")
        stripped = body.strip(" \t\u3000\xa0\ufeff\u200b")
        if stripped:
            lead = body.index(stripped[0])
            lines.append(_Line(stripped, offset + lead, number, blank))
            blank = False
        else:
            blank = True
        offset += len(physical) + 1
    return lines, starts


def _compact(s: str) -> str:
    return re.sub(r"[\s\ufffd]", "", s)


def _assign_roles(lines: list[_Line], title: str | None) -> list[str]:
    """Give each non-empty line its role: lead, title, doc_number, addressee, body, closing."""
    n = len(lines)
    roles = ["body"] * n
    start = 0
    for i, ln in enumerate(lines):
        if ln.text.strip("：:") in LEAD_MARKERS:
            roles[: i + 1] = ["lead"] * (i + 1)
            start = i + 1
            break
    title_at = _find_title(lines, start, title)
    if title_at is not None:
        first, last = title_at
        roles[start:first] = ["lead"] * (first - start)
        roles[first:last] = ["title"] * (last - first)
        start = last
    elif start < n and _looks_like_title(lines[start].text):
        roles[start] = "title"
        start += 1
    if start < n and _DOC_NUMBER_RE.match(lines[start].text):
        roles[start] = "doc_number"
        start += 1
    if start < n and lines[start].text.endswith(("：", ":")) and "。" not in lines[start].text \
            and len(lines[start].text) <= 100:
        roles[start] = "addressee"
        start += 1
    end = n
    if end > start and _DATE_RE.match(lines[end - 1].text):
        roles[end - 1] = "closing"
        end -= 1
        for _ in range(3):
            t = lines[end - 1].text if end > start else ""
            if t and len(t) <= 30 and t[-1] not in TERMINATORS and match_heading(t) is None:
                roles[end - 1] = "closing"
                end -= 1
            else:
                break
    return roles


def _find_title(lines: list[_Line], start: int, title: str | None) -> tuple[int, int] | None:
    """Lines [first, last) whose text, joined, is the manifest title."""
    if not title:
        return None
    want = _compact(title)
    for i in range(start, len(lines)):
        got = ""
        for j in range(i, min(i + 4, len(lines))):
            got += _compact(lines[j].text)
            if got == want:
                return i, j + 1
            if not want.startswith(got):
                break
    return None


def _looks_like_title(text: str) -> bool:
    return len(text) <= 80 and text[-1] not in TERMINATORS and match_heading(text) is None


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ends_sentence(text: str) -> bool:
    return text.rstrip(CLOSERS)[-1:] in tuple(TERMINATORS)


def _wrap_width(lines: list[_Line]) -> float | None:
    """The width at which the extractor hard-wrapped lines, or None when it did not. A heading line ends without
    a 。 because it is a heading, not because it was wrapped: three one-line headings ("一、发展现状") once set a
    width of 12 that joined every such heading to the clause below it."""
    widths = [
        _display_width(a.text)
        for a, b in zip(lines, lines[1:], strict=False)
        if not b.blank_before and not _ends_sentence(a.text) and not is_heading_line(a.text)
    ]
    return statistics.median(widths) if len(widths) >= 3 else None


def _continues(prev: _Line, paragraph_so_far: str, nxt: _Line, width: float | None) -> bool:
    """Whether `nxt` continues the paragraph that `prev` ends (a wrap or page break)."""
    if nxt.text[0] in _CONTINUING:
        return True
    full_width_line = width is not None and _display_width(prev.text) >= _WRAP_RATIO * width
    if is_heading_line(prev.text) and not full_width_line:
        return False
    heading = match_heading(nxt.text)
    if _ends_sentence(prev.text):
        if nxt.blank_before:
            # A page break between two sentences of one enumeration (…。 / 六是…) is no new paragraph.
            return _continues_enumeration(paragraph_so_far, nxt.text)
        if heading is not None:
            return False
        return full_width_line
    # prev stops mid-sentence: only a heading line after a blank line can start a paragraph here.
    return not (nxt.blank_before and heading is not None and is_heading_line(nxt.text))


def _continues_enumeration(paragraph: str, nxt: str) -> bool:
    m = ENUM_RE.match(nxt)
    if not m:
        return False
    numbers = [cn_to_int(x.group("num")) for x in ENUM_RE.finditer(paragraph)]
    return bool(numbers) and cn_to_int(m.group("num")) == numbers[-1] + 1


def _group_paragraphs(lines: list[_Line], roles: list[str],
                      width: float | None) -> list[tuple[str, list[_Line]]]:
    groups: list[tuple[str, list[_Line]]] = []
    for ln, role in zip(lines, roles, strict=True):
        if groups and groups[-1][0] == role and role in ("body", "lead", "title"):
            members = groups[-1][1]
            joined = role == "title" or _continues(
                members[-1], "".join(m.text for m in members), ln, width)
            if joined:
                members.append(ln)
                continue
        groups.append((role, [ln]))
    return groups


# ---------------------------------------------------------------- characters


_Repl = Callable[[re.Match[str]], str]


def _sub(text: str, origin: list[int], pattern: re.Pattern[str], repl: _Repl, rule: str,
         line: int, edits: list[Edit]) -> tuple[str, list[int]]:
    """re.sub that keeps the raw origin of every character and records each change."""
    out: list[str] = []
    org: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        new = repl(m)
        if new == m.group(0):
            continue
        out.append(text[pos:m.start()])
        org.extend(origin[pos:m.start()])
        out.append(new)
        if len(new) == m.end() - m.start():
            org.extend(origin[m.start():m.end()])
        else:
            org.extend([origin[m.start()] if m.start() < len(origin) else origin[-1]] * len(new))
        edits.append(Edit(rule, line, m.group(0), new))
        pos = m.end()
    out.append(text[pos:])
    org.extend(origin[pos:])
    return "".join(out), org


_FFFD = re.compile("\ufffd+")
# Full-width letters and digits, and a full-width decimal point or percent sign after a digit ("７５．３４％").
_FW_ALNUM = re.compile("[Ａ-Ｚａ-ｚ０-９]+|(?<=[0-9０-９])[．％]")
_STRAY_EN = re.compile(f"(?<=[{CJK}]) *\\b(and|or|AND|OR)\\b *(?=[{CJK}])")
_STRAY_MAP = {"and": "和", "or": "或"}
_PAREN_PAIR = re.compile(r"\(([^()（）\n]{0,60})\)")
_LONE_OPEN = re.compile(f"\\((?=[{CJK}])")
_LONE_CLOSE = re.compile(r"\)")
_HALF_PUNCT = re.compile(r"(?<!\d),(?!\d)|;|(?<!\d):(?!\d)|\?|!")
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_SPACES = re.compile(f"(?<=[{CJK}{FW_PUNCT}₀-₉])[ \t\u3000\xa0]+|[ \t\u3000\xa0]+(?=[{CJK}{FW_PUNCT}])")
_HEADING_SPACE = re.compile(r"^第[零〇一二两三四五六七八九十百千\d]+[编章节条]$")
_MULTI_SPACE = re.compile(r"[ \t\u3000\xa0]{2,}")


def _ascii(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", m.group(0))


def fold_width(text: str) -> str:
    """Full-width letters and digits as ASCII ("２０３０年" -> "2030年", "７５．３４％" -> "75.34%"), as the
    documents are cleaned: a question typed in an input method's full-width mode must match them."""
    return _FW_ALNUM.sub(_ascii, text)


_T2S = opencc.OpenCC("t2s")


def fold_query(text: str) -> str:
    """A user's text as the documents are written: full-width letters and digits as ASCII (fold_width) and
    traditional characters as simplified (OpenCC t2s: "鈦資源量佔全國多少" -> "钛资源量占全国多少"). Not applied to the
    documents, whose text is quoted as it stands; t2s changes none of the bundled clauses nor any QA question."""
    return str(_T2S.convert(fold_width(text)))


def _paren(m: re.Match[str]) -> str:
    inner = m.group(1)
    s, e = m.string, m
    outside = s[e.start() - 1: e.start()] + s[e.end(): e.end() + 1]
    if _CJK_RE.search(inner) or _CJK_RE.search(outside):
        return f"（{inner}）"
    return m.group(0)


def _lone_close(m: re.Match[str]) -> str:
    """A ")" that closes a full-width "（" or follows a Chinese character becomes "）"."""
    before = m.string[: m.start()]
    opened = before.rfind("（") > max(before.rfind("）"), before.rfind("("))
    if opened or _CJK_RE.match(before[-1:]) or before[-1:] in FW_PUNCT:
        return "）"
    return m.group(0)


def _clean_chars(text: str, origin: list[int], line: int,
                 edits: list[Edit]) -> tuple[str, list[int]]:
    """Apply the character rules, in order, to one paragraph."""
    text, origin = _sub(text, origin, _FFFD, lambda m: "", "replacement-character", line, edits)
    text, origin = _sub(text, origin, _FW_ALNUM, _ascii, "full-width-alphanumeric", line, edits)
    text, origin = _sub(text, origin, _STRAY_EN, lambda m: _STRAY_MAP[m.group(1).lower()],
                        "stray-english-connective", line, edits)
    text, origin = _sub(text, origin, _PAREN_PAIR, _paren, "punctuation-width", line, edits)
    text, origin = _sub(text, origin, _LONE_OPEN, lambda m: "（", "punctuation-width", line, edits)
    text, origin = _sub(text, origin, _LONE_CLOSE, _lone_close, "punctuation-width", line, edits)
    if len(_CJK_RE.findall(text)) >= 0.3 * max(1, len(text)):
        text, origin = _sub(text, origin, _HALF_PUNCT, lambda m: _HALF_TO_FULL[m.group(0)],
                            "punctuation-width", line, edits)

    def space(m: re.Match[str]) -> str:
        return " " if _HEADING_SPACE.match(m.string[: m.start()]) else ""

    text, origin = _sub(text, origin, _SPACES, space, "spacing", line, edits)
    text, origin = _sub(text, origin, _MULTI_SPACE, lambda m: " ", "spacing", line, edits)
    return text, origin
