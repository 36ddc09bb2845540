"""Clean text -> a tree of headings and the citable clauses under it.

A clause is the unit this product cites: a numbered item （一） / 1. / （1）, an article 第X条
(its 款 and 项 stay inside it), an unnumbered paragraph directly under a 章/节 heading, or the
preamble. Its citation is written the way a person writes it: 《指南》第三章第二节（二）,
《若干意见》（五）, 《办法》第十二条 (an item numbered continuously through the whole document
needs no parent to be unique, so none is written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ClauseParseError
from .manifest import DocMeta
from .markers import (
    ARTICLE,
    ENUM_RE,
    KIND_BY_CODE,
    Kind,
    cn_to_int,
    int_to_cn,
    match_heading,
)
from .normalize import CleanText, Paragraph

# Kinds whose number alone can identify a clause when numbered continuously through a document.
_SELF_CITING = {"art", "it", "n", "sub"}


@dataclass(frozen=True)
class SubUnit:
    """A citable part inside a clause: an enumeration 一是, a 款, a 项."""

    label: str
    span: tuple[int, int]


@dataclass(frozen=True)
class Clause:
    """One citable clause."""

    doc_id: str
    clause_id: str                       # "sichuan-vti-re-guide:ch3.sec2.it2"
    label: str                           # "（二）" / "第十二条" / "第一段" / "序言"
    title: str                           # "做大做精钒钛产业" / "坚持创新驱动" / ""
    path: tuple[str, ...]                # headings, outermost first, the clause's own last
    citation: str                        # "《指南》第三章第二节（二）"
    text: str
    span: tuple[int, int]                # offsets into the document's clean text
    keys: tuple[tuple[str, int], ...]    # structural address (("ch", 3), ("sec", 2), ("it", 2))
    subunits: tuple[SubUnit, ...] = ()

    def part_at(self, start: int, end: int) -> SubUnit | None:
        """The innermost sub-unit that holds text[start:end] (offsets into self.text), or None."""
        a, b = start + self.span[0], end + self.span[0]
        inside = [s for s in self.subunits if s.span[0] <= a and b <= s.span[1]]
        return min(inside, key=lambda s: s.span[1] - s.span[0], default=None)

    def part_text(self, part: SubUnit | None) -> str:
        """The text of a sub-unit; the whole clause when part is None."""
        if part is None:
            return self.text
        return self.text[part.span[0] - self.span[0]:part.span[1] - self.span[0]].strip()

    def part_citation(self, part: SubUnit | None) -> str:
        """《办法》第二条第二款 / 《办法》第三条第（二）项 / 《指南》第三章第二节（二）一是; the clause's own
        citation when part is None."""
        if part is None:
            return self.citation
        if self.keys and self.keys[-1][0] == "art" and part.label.startswith("（"):
            return f"{self.citation}第{part.label}项"
        return self.citation + part.label


@dataclass(frozen=True)
class Node:
    """A heading of the document tree, with the clauses directly under it."""

    kind: str                            # "root" or a marker kind code
    keys: tuple[tuple[str, int], ...]
    heading: str                         # "第三章 主要任务" / "（二）做大做精钒钛产业"
    span: tuple[int, int]
    children: tuple[Node, ...]
    clause_ids: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    """A parsed document: metadata, clean text, tree and clauses."""

    meta: DocMeta
    clean: CleanText
    title: str
    doc_number: str
    addressee: str
    lead: str                            # non-citable context above the official text (news lead)
    closing: tuple[str, ...]             # issuer / date lines
    root: Node
    clauses: tuple[Clause, ...]

    @property
    def doc_id(self) -> str:
        """The document's stable id."""
        return self.meta.doc_id


@dataclass
class _Build:
    kind: Kind | None
    number: int
    keys: tuple[tuple[str, int], ...]
    heading_para: Paragraph | None
    heading_only: bool
    heading: str
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    children: list[_Build] = field(default_factory=list)
    last_child: dict[str, int] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return -1 if self.kind is None else self.kind.rank


def parse_document(meta: DocMeta, clean: CleanText) -> Document:
    """Build the heading tree and the clauses of one normalised document."""
    where = f"{meta.doc_id} ({meta.file.name})"
    root, continuous = _build_tree(clean, where)
    clauses: list[Clause] = []
    node = _emit(root, (), clean, meta, continuous, clauses)
    if not any(c.keys[0][0] != "preamble" for c in clauses):
        raise ClauseParseError(
            f"{where}: no clause structure found (no 第X章/第X条/一、/（一）/1. headings in the body)")
    return Document(
        meta=meta, clean=clean,
        title=clean.role_text("title") or meta.title,
        doc_number=clean.role_text("doc_number") or meta.doc_number,
        addressee=clean.role_text("addressee"),
        lead="\n".join(clean.text[p.start:p.end] for p in clean.paragraphs if p.role == "lead"),
        closing=tuple(clean.text[p.start:p.end] for p in clean.paragraphs if p.role == "closing"),
        root=node, clauses=tuple(clauses),
    )


def _build_tree(clean: CleanText, where: str) -> tuple[_Build, dict[str, bool]]:
    root = _Build(None, 0, (), None, True, "", "")
    stack = [root]
    last_global: dict[str, int] = {}
    last_line: dict[tuple[tuple[tuple[str, int], ...], str], int] = {}
    continuous: dict[str, bool] = {}
    for para in clean.body():
        text = clean.text[para.start:para.end]
        h = match_heading(text)
        if h is None:
            stack[-1].paragraphs.append(para)
            continue
        kind = h.kind
        while stack[-1].rank >= kind.rank:
            stack.pop()
        parent = stack[-1]
        prev = parent.last_child.get(kind.code, 0)
        glob = last_global.get(kind.code, 0)
        if h.number == prev + 1 and (prev or h.number == 1 or h.number == glob + 1):
            if prev == 0 and glob and h.number == 1:
                continuous[kind.code] = False
            elif prev == 0 and glob:
                continuous.setdefault(kind.code, True)
        elif prev == 0 and glob and h.number == glob + 1:
            continuous.setdefault(kind.code, True)
        else:
            expected = kind.label(prev + 1) if prev else (
                f"{kind.label(1)} or {kind.label(glob + 1)}" if glob else kind.label(1))
            got = kind.label(h.number)
            if prev and h.number <= prev:
                first = last_line.get((parent.keys, kind.code), para.raw_line)
                msg = f"{got} repeats or goes back (after {kind.label(prev)}, line {first})"
            else:
                msg = f"{got} where {expected} was expected"
                if prev and h.number > prev + 1:
                    msg = f"{got} follows {kind.label(prev)} (missing {kind.label(prev + 1)}?)"
            raise ClauseParseError(f"{where}:{para.raw_line}: {msg}")
        parent.last_child[kind.code] = h.number
        last_global[kind.code] = h.number
        last_line[(parent.keys, kind.code)] = para.raw_line
        title = h.title
        heading = kind.label(h.number) + (" " if kind.code in ("vol", "ch", "sec") else "") + title
        node = _Build(kind, h.number, parent.keys + ((kind.code, h.number),), para,
                      h.heading_only, heading.strip(), title)
        parent.children.append(node)
        stack.append(node)
    return root, continuous


def _emit(b: _Build, path: tuple[str, ...], clean: CleanText, meta: DocMeta,
          continuous: dict[str, bool], out: list[Clause]) -> Node:
    """Turn a built node into clauses (appended to `out`) and a frozen Node."""
    own_path = path + ((b.heading,) if b.heading else ())
    first_clause = len(out)
    children: list[Node]
    if b.kind is ARTICLE or (b.children and not b.heading_only and _introduces_list(b, clean)):
        # An article is cited whole: its 款 and 项 are sub-units, not clauses of their own.
        # So is an item whose text ends in "：" and whose children are the list it introduces.
        end = _last_end(b)
        _add(out, meta, clean, b.keys, _label(b), b.title, own_path,
             (b.heading_para.start if b.heading_para else end, end), continuous,
             extra_subunits=_article_subunits(b, clean))
        children = [_freeze_only(c, own_path, clean) for c in b.children]
    elif b.kind is not None and not b.heading_only:
        # An item that carries its own text: heading paragraph + continuation paragraphs.
        start = b.heading_para.start if b.heading_para else 0
        end = b.paragraphs[-1].end if b.paragraphs else (b.heading_para.end if b.heading_para else 0)
        _add(out, meta, clean, b.keys, _label(b), b.title, own_path, (start, end),
             continuous)
        children = [_emit(c, own_path, clean, meta, continuous, out) for c in b.children]
    else:
        if b.kind is None and b.paragraphs:
            _add(out, meta, clean, (("preamble", 1),), "序言", "", ("序言",),
                 (b.paragraphs[0].start, b.paragraphs[-1].end), continuous)
        elif len(b.paragraphs) == 1 and not b.children and b.kind is not None:
            p = b.paragraphs[0]
            _add(out, meta, clean, b.keys, _label(b), b.title, own_path, (p.start, p.end),
                 continuous)
        else:
            for i, p in enumerate(b.paragraphs, start=1):
                text = clean.text[p.start:p.end]
                label = f"第{int_to_cn(i)}段"
                lead = _lead_phrase(text)
                _add(out, meta, clean, b.keys + (("para", i),), label, lead,
                     own_path + (label + (f"（{lead}）" if lead else ""),), (p.start, p.end),
                     continuous)
        children = [_emit(c, own_path, clean, meta, continuous, out) for c in b.children]
    span_start = b.heading_para.start if b.heading_para else 0
    return Node(
        kind=b.kind.code if b.kind else "root", keys=b.keys, heading=b.heading,
        span=(span_start, _last_end(b)), children=tuple(children),
        clause_ids=tuple(c.clause_id for c in out[first_clause:]
                         if c.keys[: len(b.keys)] == b.keys and _direct(c.keys, b.keys)),
    )


def _label(b: _Build) -> str:
    return b.kind.label(b.number) if b.kind else ""


def _introduces_list(b: _Build, clean: CleanText) -> bool:
    last = b.paragraphs[-1] if b.paragraphs else b.heading_para
    return last is not None and clean.text[last.start:last.end].rstrip().endswith(("：", ":"))


def _direct(keys: tuple[tuple[str, int], ...], parent: tuple[tuple[str, int], ...]) -> bool:
    rest = keys[len(parent):]
    return len(rest) == 0 or (len(rest) == 1 and rest[0][0] in ("para", "preamble"))


def _freeze_only(b: _Build, path: tuple[str, ...], clean: CleanText) -> Node:
    own_path = path + (b.heading,)
    return Node(b.kind.code if b.kind else "root", b.keys, b.heading,
                (b.heading_para.start if b.heading_para else 0, _last_end(b)),
                tuple(_freeze_only(c, own_path, clean) for c in b.children), ())


def _last_end(b: _Build) -> int:
    ends = [b.heading_para.end] if b.heading_para else [0]
    if b.paragraphs:
        ends.append(b.paragraphs[-1].end)
    if b.children:
        ends.append(_last_end(b.children[-1]))
    return max(ends)


def _lead_phrase(text: str) -> str:
    """The short lead of an unnumbered paragraph: 坚持创新驱动。 / 从国际看，"""
    m = re.match(r"^([^，。；：、“”《》]{2,10})。", text) or re.match(r"^([^，。；：、]{2,6})，", text)
    return m.group(1) if m else ""


def _article_subunits(b: _Build, clean: CleanText) -> list[SubUnit]:
    units: list[SubUnit] = []
    paras = ([b.heading_para] if b.heading_para else []) + b.paragraphs
    if len(paras) > 1:
        units += [SubUnit(f"第{int_to_cn(i)}款", (p.start, p.end)) for i, p in enumerate(paras, 1)]
    for c in b.children:
        if c.kind is not None:
            units.append(SubUnit(c.kind.label(c.number), (
                c.heading_para.start if c.heading_para else 0, _last_end(c))))
    return units


def _enumerations(text: str, offset: int) -> list[SubUnit]:
    """一是…二是… inside a clause, as sub-units; only a run that counts 一, 二, 三 … is kept."""
    marks = [(cn_to_int(m.group("num")), m.start("num")) for m in ENUM_RE.finditer(text)]
    run: list[tuple[int, int]] = []
    for n, pos in marks:
        if n == len(run) + 1:
            run.append((n, pos))
    units = []
    for i, (n, pos) in enumerate(run):
        end = run[i + 1][1] if i + 1 < len(run) else len(text)
        units.append(SubUnit(f"{int_to_cn(n)}是", (offset + pos, offset + len(text[:end].rstrip()))))
    return units


def _add(out: list[Clause], meta: DocMeta, clean: CleanText, keys: tuple[tuple[str, int], ...],
         label: str, title: str, path: tuple[str, ...], span: tuple[int, int],
         continuous: dict[str, bool], extra_subunits: list[SubUnit] | None = None) -> None:
    text = clean.text[span[0]:span[1]]
    subunits = tuple((extra_subunits or []) + _enumerations(text, span[0]))
    out.append(Clause(
        doc_id=meta.doc_id,
        clause_id=f"{meta.doc_id}:" + ".".join(f"{k}{n}" if k != "preamble" else k for k, n in keys),
        label=label, title=title, path=path,
        citation=meta.short_title + cite_keys(keys, continuous),
        text=text, span=span, keys=keys, subunits=subunits,
    ))


def cite_keys(keys: tuple[tuple[str, int], ...], continuous: dict[str, bool]) -> str:
    """Write a structural address as a person cites it: 第三章第二节（二）, （五）, 第十二条."""
    parts: list[str] = []
    for code, n in reversed(keys):
        if code == "preamble":
            parts.append("序言")
            break
        if code == "para":
            parts.append(f"第{int_to_cn(n)}段")
            continue
        parts.append(KIND_BY_CODE[code].label(n))
        # Numbered through the whole document (seen continuing under a second parent): unique.
        if code in _SELF_CITING and continuous.get(code, False):
            break
    return "".join(reversed(parts))
