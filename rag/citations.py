"""Clause references in what people type: "指南 第三章第二节（二）", "若干意见第十五条", "（十五）".

`parse_reference` finds the structural address in a query; `resolve` looks it up in the corpus.
The CLI's `show` and the retriever's clause-number router both use these two functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .clauses import Clause, Document, SubUnit
from .markers import CN_NUM, KIND_BY_CODE, cn_to_int, int_to_cn
from .tokenize import starts_with_noun

_N = f"[{CN_NUM}]{{1,6}}|\\d{{1,3}}"
_TOKEN = re.compile(
    rf"第\s*(?P<k1>{_N})\s*(?P<u>编|章|节|条|款|段|部分|项)"
    rf"|[（(]\s*(?P<k2>[{CN_NUM}]{{1,4}})\s*[）)]"
    rf"|[（(]\s*(?P<k3>\d{{1,3}})\s*[）)]"
    rf"|(?<![\d.])(?P<k4>\d{{1,3}})[.．](?![\d])"
    rf"|(?P<k5>[{CN_NUM}]{{1,3}})是"
    rf"|(?<![{CN_NUM}])(?P<k6>[{CN_NUM}]{{1,3}})、"
    r"|(?P<pre>序言|前言|引言|导语|(?<![章节条款项）)])(?:开篇|开头))"
)
# "第十五点", as people call the points of an 意见, is its 第十五条.
_POINT = re.compile(rf"(第\s*(?:{_N})\s*)点")
# Two numbers sharing one unit: "第十五至十七条", "第十五、十六条" -> "第十五条至第十七条", "第十五条、第十六条".
_SHARED_UNIT = re.compile(rf"第\s*({_N})\s*(至|到|和|与|及|、)\s*第?\s*({_N})\s*(编|章|节|条|款|段|部分|项)")
_MAX_NUMBER = 9999  # int_to_cn writes 1..9999
# Keys that may also name a part inside a clause: 第二条第二款, 第三条第（二）项.
_PART_CODES = ("para", "it", "sub")
_ITEM_CODES = ("it", "sub", "n")
_UNIT_CODE = {"编": "vol", "章": "ch", "节": "sec", "条": "art", "款": "para", "段": "para",
              "部分": "pt", "项": "it"}
# 条/项/款 are also classifiers: "第一条生产线", "第三项技术", "第一款产品" are ordinals, not clause numbers.
# Such a token is read as an ordinal when a noun follows it directly; a clause number is followed by
# punctuation, another number, or words about the clause ("第十五条规定", "第五条涉及哪些", "第二条中关于…").
_ORDINAL_UNITS = frozenset("条项款")
_AFTER_REFERENCE = re.compile(r"$|[\s，。？?！!、；;：:（(第《》“”\"'）)]"
                              r"|[的是中里讲说写提有都怎对共呢吗]|内容|规定|条款|原文|全文|要点|部分|主要|具体|关于|包括"
                              r"|涉及|明确|针对|强调|要求|指出")
# Words around a reference that do not make the query about anything else.
_FILLER = re.compile(r"[\s《》“”\"'、，。？?！!：:]|的|是什么|讲了什么|说了什么|写了什么|规定|内容|条款|原文|全文"
                     r"|查看|显示|哪些|什么|怎么说|有关|关于|中|里|第"
                     r"|包括|要点|主要|部分|哪?几[条项款]|[讲说写提]到?了?")


@dataclass(frozen=True)
class Reference:
    """A clause address found in a query."""

    doc_hint: str                         # "指南" / "若干意见" / "" when no document was named
    keys: tuple[tuple[str, int], ...]     # (("ch", 3), ("sec", 2), ("it", 2))
    enumeration: int                      # 三是 -> 3; 0 when none
    rest: str                             # the query with the reference and the document name removed
    explicit: bool = False                # it has a 第X章/节/条… or a bracketed （X）, not only 一是 / 2. / 一、
    # Further addresses named beside the first, same document: "（十五）和（十六）", "第三章第二节（一）到（三）".
    siblings: tuple[tuple[tuple[str, int], ...], ...] = ()

    def paths(self) -> tuple[tuple[tuple[str, int], ...], ...]:
        """Every address the reference names, the first one first."""
        return (self.keys, *self.siblings)

    def alone(self, keys: tuple[tuple[str, int], ...]) -> Reference:
        """This reference naming only `keys`."""
        return replace(self, keys=keys, siblings=())


def parse_reference(query: str, documents: Sequence[Document]) -> Reference | None:
    """Find a clause address in a query, or None when it names no clause. Addresses joined by 和/、/至…
    ("（十五）和（十六）", "第三章第二节（一）到（三）") are siblings of the first, each completed by the levels
    above it that the one before names; a range names every number in it."""
    query = _last_numbered(_spelled_out(query), documents)
    matches = [m for m in _TOKEN.finditer(query) if not _ordinal(query, m)]
    full, enumeration = _addresses(query, matches)
    if not full:
        return None
    first, last = matches[0].start(), matches[-1].end()
    before, after = query[:first], re.sub(r"^\s*[条款项段]", "", query[last:])  # 第（七）项
    hint = _doc_hint(before, documents) or _doc_hint(after, documents)
    rest = before + after
    if hint:
        rest = rest.replace(hint, "")
    rest = _FILLER.sub("", rest)
    explicit = any(m.group("k1") or m.group("k2") or m.group("k3") for m in matches)
    return Reference(hint, full[0], enumeration, rest, explicit, tuple(full[1:]))


def _spelled_out(query: str) -> str:
    """"第十五点" as "第十五条", and "第十五至十七条" as "第十五条至第十七条"."""
    return _SHARED_UNIT.sub(r"第\1\4\2第\3\4", _POINT.sub(r"\g<1>条", query))


_LAST = re.compile(r"最后一(条|项|章|部分|编)")


def _last_numbered(query: str, documents: Sequence[Document]) -> str:
    """"若干意见最后一条" as "若干意见（十八）", "指南最后一章" as "指南第四章": the last clause, or the highest number
    of that level, in the one document the query names (or the only document); the query as it is when it names
    none or several."""
    m = _LAST.search(query)
    if not m:
        return query
    named = documents_named(_doc_hint(query, documents), documents)  # all of them when it names none
    if len(named) != 1:
        return query
    doc = named[0]
    code = _UNIT_CODE[m.group(1)]
    if code in ("art", "it"):  # the last clause, written out whole: the guide's （五） recurs under every 节
        last = doc.clauses[-1]
        if last.keys[0][0] == "preamble":
            return query
        return query[:m.start()] + last.citation.removeprefix(doc.meta.short_title) + query[m.end():]
    numbers = [n for c in doc.clauses for k, n in c.keys if k == code]
    if not numbers:
        return query
    return query[:m.start()] + _label((code, max(numbers))) + query[m.end():]


def _addresses(query: str, matches: Sequence[re.Match[str]]) -> tuple[list[tuple[tuple[str, int], ...]], int]:
    """The addresses the reference tokens of a query name, completed (_complete), and the enumeration (三是 -> 3)."""
    paths: list[list[tuple[str, int]]] = [[]]
    ranges: list[bool] = [False]
    enumeration = 0
    for i, m in enumerate(matches):
        if i and paths[-1] and (joint := _JOINT.fullmatch(query, matches[i - 1].end(), m.start())):
            paths.append([])
            ranges.append(joint.group("range") is not None)
        try:
            key = _key(m)
        except ValueError:
            continue
        if key is None:
            enumeration = cn_to_int(m.group("k5"))
        else:
            paths[-1].append(key)
    # No document numbers anything 0 or past 9999 ("第0条" is a typo, not a clause number).
    cleaned = [[(code, n) for code, n in keys if 1 <= n <= _MAX_NUMBER] for keys in paths]
    enumeration = enumeration if 1 <= enumeration <= _MAX_NUMBER else 0
    kept = [(keys, r) for keys, r in zip(cleaned, ranges, strict=True) if keys]
    return _complete([k for k, _ in kept], [r for _, r in kept]), enumeration


# Between two addresses: they are named side by side ("和", "、") or as a range ("至", "到").
_JOINT = re.compile(r"\s*[条款项段]?\s*(?:(?P<range>至|到|—|－|-|~|～)|和|与|及|以及|、|，|,|或|跟)\s*")
_MAX_RANGE = 30
_MAX_ADDRESSES = 50  # a query of ranges could name ~1,000 addresses; nobody reads that many
_MAX_GAPS_SAID = 3


def _key(m: re.Match[str]) -> tuple[str, int] | None:
    """The (level, number) a reference token names; None for an enumeration (三是). Raises ValueError on a
    numeral cn_to_int cannot read."""
    if m.group("k1"):
        return _UNIT_CODE[m.group("u")], cn_to_int(m.group("k1"))
    if m.group("k2"):
        return "it", cn_to_int(m.group("k2"))
    if m.group("k3"):
        return "sub", int(m.group("k3"))
    if m.group("k4"):
        return "n", int(m.group("k4"))
    if m.group("k6"):
        return "pt", cn_to_int(m.group("k6"))
    if m.group("pre"):
        return "preamble", 1
    return None


def _complete(paths: list[list[tuple[str, int]]], ranges: list[bool]) -> list[tuple[tuple[str, int], ...]]:
    """Each address completed by the levels above it that the address before it names ("第三章第二节（一）到（三）":
    （三） is 第三章第二节（三）); a range adds every number between its ends."""
    out: list[tuple[tuple[str, int], ...]] = []
    for keys, is_range in zip(paths, ranges, strict=True):
        if out:
            prev = out[-1]
            level = next((j for j, (code, _) in enumerate(prev) if code == keys[0][0]), max(0, len(prev) - len(keys)))
            full = prev[:level] + tuple(keys)
            if is_range and len(prev) == len(full) and prev[:-1] == full[:-1] and prev[-1][0] == full[-1][0]:
                code, low, high = full[-1][0], prev[-1][1], full[-1][1]
                out.extend(full[:-1] + ((code, n),) for n in range(low + 1, min(high, low + _MAX_RANGE)))
            out.append(full)
        else:
            out.append(tuple(keys))
    return list(dict.fromkeys(out))[:_MAX_ADDRESSES]


def _ordinal(query: str, m: re.Match[str]) -> bool:
    """Whether a 第X条/项/款 token is an ordinal with a classifier (a noun follows it), not a clause number. One
    that goes on an address ("第四章第四节第三项金融支持": the noun is the item's title) is a clause number."""
    return (m.group("u") in _ORDINAL_UNITS and not _AFTER_REFERENCE.match(query, m.end())
            and not _CHAINED.search(query, 0, m.start())
            and starts_with_noun(query[m.end():]))


# A 第X章/节/部分/编/条 or a （X） that ends right where the next token starts.
_CHAINED = re.compile(rf"(?:第\s*(?:{_N})\s*(?:编|章|节|条|部分)|[（(]\s*(?:[{CN_NUM}]{{1,4}}|\d{{1,3}})\s*[）)])\s*$")


def replace_reference(previous: str, core: str) -> str | None:
    """A follow-up that is only a clause number ("（三）", "第五节") put into the earlier question's
    reference: it replaces the level of the same unit and everything below it, else the last level.
    None when either has no reference or `core` holds more than one."""
    new = list(_TOKEN.finditer(core))
    old = list(_TOKEN.finditer(previous))
    if not new or not old or _FILLER.sub("", _TOKEN.sub("", core)).strip("条款项段"):  # 第（三）条
        return None
    unit = _unit(new[0])
    start = next((m.start() for m in old if _unit(m) == unit), old[-1].start())
    return previous[:start] + core + previous[old[-1].end():]


_STEP = re.compile(r"^(?:那么?)?\s*(?P<dir>[下上后前])(?:一|面的?|面那|边那?)个?(?P<u>条|节|章|项|款|段|部分)")


def step_reference(previous: str, question: str) -> str | None:
    """"下一条" / "上一节" / "后面那条" after a question that named a clause: the earlier question with the
    number of that level moved by one, and any level named below it dropped ("第四章第四节（二）" + "下一节"
    -> "第四章第五节"). None when the question is no such step or the earlier one names no such level."""
    m = _STEP.match(question.strip())
    if not m:
        return None
    unit = m.group("u")
    previous = _last_address(_spelled_out(previous))
    old = list(_TOKEN.finditer(previous))
    # 第X条 / 第X项 also step a bracketed item: "若干意见（十二）" + "下一条".
    same = [t for t in old if t.group("u") == unit or (unit in ("条", "项") and (t.group("k2") or t.group("k3")))]
    if not same:
        return None
    t = same[-1]
    step = 1 if m.group("dir") in "下后" else -1
    number = t.group("k1") or t.group("k2") or t.group("k3")
    n = (int(number) if number.isdigit() else cn_to_int(number)) + step
    if not 1 <= n <= _MAX_NUMBER:
        return None
    shown = str(n) if number.isdigit() else int_to_cn(n)
    new = f"第{shown}{t.group('u')}" if t.group("k1") else f"（{shown}）"
    return previous[:t.start()] + new + previous[old[-1].end():]


def _last_address(query: str) -> str:
    """A query that names several addresses ("若干意见（十五）和（十六）") with only its last one, written out whole
    ("若干意见（十六）"), so that "下一条" steps from it; any other query as it is."""
    matches = [m for m in _TOKEN.finditer(query) if not _ordinal(query, m)]
    full, _ = _addresses(query, matches)
    if len(full) < 2:
        return query
    return query[:matches[0].start()] + "".join(map(_label, full[-1])) + query[matches[-1].end():]


def asks_step(question: str) -> bool:
    """Whether a question asks for the next or previous clause or unit ("下一条", "上一节呢", "后面那条")."""
    return bool(_STEP.match(question.strip()))


_CLAUSE_UNITS = frozenset("条项款段")
_TRAILING_PARTICLES = re.compile(r"^[\s呢吗啊呀吧？?。！!]*$")


def step_clause(clause_id: str, question: str, documents: Sequence[Document]) -> str | None:
    """"下一条" / "上一节" after an answer that cited a clause, when the earlier question named none: the
    address next to the cited clause, in document order, with the rest of the question ("下一条讲啥？" ->
    "《指南》第二章第二节第四段讲啥？"). 条/项/款/段 step to the next clause; 章/节/部分/编 to the first clause
    of the next unit of that level (the last 节 of a 章 is followed by the first of the next). None when the
    question is no step, the clause is unknown or has no such level, or there is nothing on that side."""
    m = _STEP.match(question.strip())
    found = next(((d, i) for d in documents for i, c in enumerate(d.clauses) if c.clause_id == clause_id), None)
    if not m or found is None:
        return None
    doc, i = found
    unit, forward = m.group("u"), m.group("dir") in "下后"
    clauses = doc.clauses if forward else doc.clauses[::-1]
    at = i if forward else len(clauses) - 1 - i
    if unit in _CLAUSE_UNITS:
        target = clauses[at + 1].citation if at + 1 < len(clauses) else None
    else:
        code = _UNIT_CODE[unit]
        depth = next((i for i, (k, _) in enumerate(clauses[at].keys) if k == code), None)
        if depth is None:
            return None
        # The addresses at that level, in the walking order; the unit after the cited one.
        units = list(dict.fromkeys(c.keys[:depth + 1] for c in clauses[at:]
                                   if len(c.keys) > depth and c.keys[depth][0] == code))
        if len(units) < 2:
            return None
        # Backwards, the walk meets a unit's last clause first; the address is the same.
        target = doc.meta.short_title + "".join(map(_label, units[1]))
    if target is None:
        return None
    rest = question.strip()[m.end():]
    return target if _TRAILING_PARTICLES.match(rest) else target + rest


def _unit(m: re.Match[str]) -> str:
    """The kind of level a reference token names: 章/节/条…, a bracketed item, 一是, 一、."""
    if m.group("k2") or m.group("k3"):
        return "item"  # "（3）" typed for the document's "（三）"
    return m.group("u") or next(name for name in ("k4", "k5", "k6", "pre") if m.group(name))


def _doc_hint(text: str, documents: Sequence[Document]) -> str:
    """The part of `text` that names a document (its short title, title, id or 文号)."""
    bare = text.replace("《", "").replace("》", "").strip()
    if not bare:
        return ""
    for d in documents:
        for name in document_names(d):
            if name and (name in bare or (len(bare) >= 2 and bare in name)):
                return name if name in bare else bare
    return ""


def mentioned_documents(query: str, documents: Sequence[Document]) -> list[Document]:
    """Documents a question names in passing: "指南有没有…", "这份若干意见…", a 文号."""
    return [d for d in documents if any(n in query for n in _mention_names(d))]


def without_document_names(query: str, documents: Sequence[Document], short_titles: bool = True) -> str:
    """The query with the names of documents it mentions (title, short title, 文号, a title written loosely before
    the short title: _loose_title) blanked out: they say which document is meant, not what is asked
    ("川办发〔2025〕26号对探矿权续期怎么规定" names no figure 2025; "这份钒钛钢铁产业指南对安全管理提了哪些要求" asks
    nothing of the guide's 钒钛钢铁产业, which its preamble repeats). `short_titles` False keeps the short titles
    (指南, 若干意见) and blanks the rest only."""
    def blank(names: set[str], text: str) -> str:
        for n in sorted(names, key=len, reverse=True):
            text = text.replace(f"《{n}》", " ").replace(n, " ")
        return text

    query = blank({n for d in documents for n in _mention_names(d)[1:]}, query)
    for d in documents:
        if loose := _loose_title(query, d):
            short = d.meta.short_title.strip("《》")
            query = query.replace(loose + short, " " + short, 1)
    shorts = {n for d in documents for n in _mention_names(d)[:1]} if short_titles else set()
    return blank(shorts, query)


# Characters that join a title's words and never start its loose form ("找矿的若干意见": 的 is the asker's).
_NOT_TITLE = frozenset("的和与及之这那该本份个")


def _loose_title(query: str, d: Document) -> str:
    """The characters right before the document's short title in the query ("钒钛钢铁产业" in "这份钒钛钢铁产业指南",
    "钒钛稀土" in "钒钛稀土指南") that write its title loosely: every one of them is in the title, and at least half of
    their character pairs are; two characters or more. "" when there are none."""
    short, title = d.meta.short_title.strip("《》"), d.meta.title
    at = query.find(short) if short else -1
    start = at
    while start > 0 and query[start - 1] in title and query[start - 1] not in _NOT_TITLE \
            and pairs_share(query[start - 1:at], title) >= 0.5:
        start -= 1
    return query[start:at] if at - start >= 2 else ""


def pairs_share(text: str, other: str) -> float:
    """The share of a text's adjacent character pairs that occur in `other` (1 for a single character): how much of
    a name another text writes, however loosely."""
    pairs = [text[i:i + 2] for i in range(len(text) - 1)]
    return sum(p in other for p in pairs) / len(pairs) if pairs else 1.0


def _mention_names(d: Document) -> tuple[str, ...]:
    """The names a question may mention a document by (_names, short title first), those of two characters or more."""
    return tuple(n for n in document_names(d) if len(n) >= 2)


def documents_named(hint: str, documents: Sequence[Document]) -> list[Document]:
    """The documents a hint names; all of them when the hint is empty."""
    if not hint:
        return list(documents)
    return [d for d in documents
            if hint in document_names(d) or hint in d.meta.title or hint in d.meta.short_title]


def document_names(d: Document) -> tuple[str, ...]:
    """What a reference may call a document: its short title, title, id or 文号 (the text's, else the manifest's)."""
    return (d.meta.short_title.strip("《》"), d.meta.title, d.doc_id, d.doc_number)


def resolve(ref: Reference, documents: Sequence[Document]) -> list[Clause]:
    """The clauses a reference names, best match first; [] when it names none.

    The reference must match the end of a clause's (or heading's) address, skipping as few
    levels as possible: "（十五）" finds 《若干意见》一、…（十五）. A 第X条 also finds the Xth
    item （X） in documents that have no articles ("若干意见第十五条" is how people say it).
    When nothing matches and the last key can name a part inside a clause ("第二条第二款",
    "第三条（二）"), the clause the other keys name is found if it has that part (`named_part`).
    """
    if ref.siblings:
        return list(dict.fromkeys(c for keys in ref.paths() for c in resolve(ref.alone(keys), documents)))
    found = _resolve_keys(ref.keys, ref.doc_hint, documents)
    if found or len(ref.keys) < 2 or ref.keys[-1][0] not in _PART_CODES:
        return found
    return [c for c in _resolve_keys(ref.keys[:-1], ref.doc_hint, documents) if named_part(ref, c)]


def missing(ref: Reference, documents: Sequence[Document]) -> str:
    """What an explicit reference names that the documents do not have, with what they have instead:
    "《若干意见》中没有第十九条（《若干意见》共有（一）至（十八））"; "" when it names a clause or is not explicit.
    Of several addresses ("（十五）和（十九）"), each that names nothing is said."""
    if ref.siblings:
        gaps = [g for keys in ref.paths() if (g := missing(ref.alone(keys), documents))]
        more = f"；另有{len(gaps) - _MAX_GAPS_SAID}处编号也不存在" if len(gaps) > _MAX_GAPS_SAID else ""
        return "；".join(gaps[:_MAX_GAPS_SAID]) + more
    if not ref.explicit or resolve(ref, documents):
        return ""
    docs = documents_named(ref.doc_hint, documents)
    # The first level that finds nothing; what exists is its siblings under the levels above it.
    cut = next(i for i in range(1, len(ref.keys) + 1) if not _resolve_keys(ref.keys[:i], ref.doc_hint, docs))
    above, (code, _) = ref.keys[: cut - 1], ref.keys[cut - 1]
    have = []
    for d in docs:
        has_articles = _has_articles(d)
        under = _resolve_keys(above, d.doc_id, [d]) if above else d.clauses
        # The address down to this level of each clause that has one; a numbering that starts again
        # under each heading (the guide's （一） in every 节) gives no single range to show.
        levels = {c.keys[: i + 1] for c in under for i, (k, n) in enumerate(c.keys)
                  if _same((code, n), (k, n), has_articles)}
        numbers = sorted(level[-1][1] for level in levels)
        if numbers and len(set(numbers)) == len(numbers):
            shown = "it" if code == "art" and not has_articles else code
            span = "至".join(dict.fromkeys(_label((shown, n)) for n in (numbers[0], numbers[-1])))
            have.append(f"{d.meta.short_title}{''.join(map(_label, above))}共有{span}")
    where = "、".join(d.meta.short_title for d in docs) if ref.doc_hint else "现有文件"
    asked = "".join(map(_label, ref.keys[:cut]))
    return f"{where}中没有{asked}" + (f"（{'；'.join(have)}）" if have else "")


def missing_clause(query: str, documents: Sequence[Document]) -> str:
    """`missing` for a query as typed; "" when it names no clause number or one that exists."""
    ref = parse_reference(query, documents)
    return missing(ref, documents) if ref else ""


def _label(key: tuple[str, int]) -> str:
    """A key as people write it: ("ch", 3) -> 第三章, ("pt", 2) -> 第二部分, ("it", 2) -> （二）."""
    code, n = key
    if code in ("pt", "para"):
        return f"第{int_to_cn(n)}{'部分' if code == 'pt' else '款'}"
    return KIND_BY_CODE[code].label(n) if code in KIND_BY_CODE else "序言"


def named_part(ref: Reference, clause: Clause) -> SubUnit | None:
    """The sub-unit of `clause` a reference names below the clause itself (三是, 第二款, （二）), or None."""
    if ref.enumeration:
        want = f"{int_to_cn(ref.enumeration)}是"
    elif ref.keys[-1][0] in _PART_CODES and ref.keys[-1] not in clause.keys:
        code, n = ref.keys[-1]
        want = f"第{int_to_cn(n)}款" if code == "para" else KIND_BY_CODE[code].label(n)
    else:
        return None
    return next((s for s in clause.subunits if s.label == want), None)


def _resolve_keys(keys: tuple[tuple[str, int], ...], doc_hint: str,
                  documents: Sequence[Document]) -> list[Clause]:
    best: list[tuple[int, int, Clause]] = []
    for doc in documents_named(doc_hint, documents):
        has_articles = _has_articles(doc)
        targets = {c.keys for c in doc.clauses} | {c.keys[:i] for c in doc.clauses
                                                    for i in range(1, len(c.keys))}
        for target in targets:
            cost = _match_cost(keys, target, has_articles)
            if cost is None:
                continue
            for c in doc.clauses:
                if c.keys[: len(target)] == target:
                    best.append((cost, len(c.keys) - len(target), c))
    if not best:
        return []
    top = min(cost for cost, _, _ in best)
    seen: set[str] = set()
    out: list[Clause] = []
    for _cost, _depth, c in sorted((b for b in best if b[0] == top), key=lambda b: b[1]):
        if c.clause_id not in seen:
            seen.add(c.clause_id)
            out.append(c)
    # Keep document order among the clauses under one heading.
    order = {c.clause_id: i for d in documents for i, c in enumerate(d.clauses)}
    return sorted(out, key=lambda c: (c.doc_id, order[c.clause_id])) if len(out) > 1 else out


def _has_articles(doc: Document) -> bool:
    """Whether a document numbers 第X条 (else its 第X条 means its Xth item)."""
    return any(k == "art" for c in doc.clauses for k, _ in c.keys)


def _match_cost(q: tuple[tuple[str, int], ...], target: tuple[tuple[str, int], ...],
                has_articles: bool) -> int | None:
    """Levels skipped (x2) plus lenient kind matches, or None when `q` does not match `target`."""
    if not q or not target or not _same(q[-1], target[-1], has_articles):
        return None
    cost = 0 if q[-1][0] == target[-1][0] else 1
    ti = len(target) - 2
    for qk in reversed(q[:-1]):
        while ti >= 0 and not _same(qk, target[ti], has_articles):
            ti -= 1
            cost += 2
        if ti < 0:
            return None
        cost += 0 if qk[0] == target[ti][0] else 1
        ti -= 1
    return cost  # levels above the first one named (the document, a 章) cost nothing


def _same(qk: tuple[str, int], tk: tuple[str, int], has_articles: bool) -> bool:
    if qk[1] != tk[1]:
        return False
    if qk[0] == tk[0]:
        return True
    # 第X条 also names the Xth item in documents without articles ("若干意见第十五条").
    if qk[0] == "art" and not has_articles and tk[0] in ("it", "n"):
        return True
    # People type item numbers loosely: "（2）" or "2." for the document's "（二）" (an exact kind costs less).
    return qk[0] in _ITEM_CODES and tk[0] in _ITEM_CODES
