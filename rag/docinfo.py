"""question -> Answer | None: questions about a document itself (its 文号, issuer, date, full title).

"若干意见是哪个部门发的？", "指南是什么时候印发的？", "川办发〔2025〕26号是什么文件？" ask about what stands above and
below a document's clauses: its title, its 文号 line and its closing (落款: issuer and date). No clause holds these, so
the clause answerer either abstained ("没有给出具体日期") or quoted a preamble that does not say. They are answered
here from the document's metadata (corpus/manifest.toml, checked against the text: rag/clauses.py keeps the 文号 line
and the closing lines), naming where in the document they stand. A fact the document does not state (the guide names
no issuer, 文号 or date) is said to be missing, not guessed.

Only a question that asks nothing else is answered here: one naming a document and a topic ("若干意见关于探矿权续期
的规定") goes to the clauses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .answer import Answer
from .citations import mentioned_documents, parse_reference, without_document_names
from .clauses import Document


@dataclass(frozen=True)
class Fact:
    """One fact about a document that a question can ask for."""

    name: str
    label: str                  # how the answer names it
    asked: re.Pattern[str]      # matches the words of a question that ask for it
    where: str                  # where in a document it stands


FACTS = (
    Fact("title", "全称", re.compile(
        r"全称|全名|完整的?(?:名称|标题)|正式的?名称|标题|(?:什么|哪个|哪份|哪一份)(?:文件|文)|叫什么(?:名字)?"),
         "文首标题"),
    Fact("doc_number", "文号", re.compile(r"文号|发文字号|几号文"), "文首"),
    Fact("issuer", "发文机关", re.compile(
        r"(?:哪个|哪些|什么|哪一?级|哪家)(?:部门|单位|机关|机构|政府)?(?:印发|发布|下发|发的|出的|颁布|制定的|发文)"
        r"|(?:谁|哪里)(?:印发|发布|下发|发的|出的|颁布|制定的)|(?:发文|印发|发布)(?:机关|单位|部门|机构)"), "文末落款"),
    Fact("date", "成文日期", re.compile(
        r"(?:什么时候|何时|哪天|哪一?年|哪个月|几月几[日号]|几月份?|哪一?日)(?:正式)?(?:印发|发布|下发|出台|发的|出的|公布|颁布|成文)"
        r"|(?:印发|发布|出台|成文|落款|颁布)(?:的)?(?:日期|时间)"), "文末落款"),
    Fact("outline", "结构", re.compile(
        r"(?:一共|总共|共)?有?(?:几|多少)个?(?:条|章|节|部分|项|方面)|(?:哪几|哪些)个?(?:章|部分|方面)"
        r"|(?:分为|分成|包括|包含|由)(?:哪几|哪些|几)个?(?:部分|章|方面)|框架|结构|目录|大纲|提纲|主要内容"
        r"|(?:主要)?(?:讲|说|写)了?(?:什么|啥|哪些)"), "各级标题"),
)
# The unit a document's top-level headings count in.
_UNIT = {"vol": "编", "ch": "章", "sec": "节", "pt": "个部分", "art": "条", "it": "项"}
# What is left of a question that asks only for facts: particles, pronouns and the words for "this document".
_FILLER = re.compile(r"[\s《》“”\"'，。？?！!、：:]|请问|一下|告诉我|这份|这个|该|本|那份|那个|它的?|其|文件|政策|规定"
                     r"|是|的|了|吗|呢|啊|吧|由|内容|方面|有|多少|什么|哪个|是否|和|及|与|还有|以及|分别|具体|正式|最早")


def asked_facts(question: str) -> tuple[Fact, ...]:
    """The facts about a document a question asks for, in FACTS order."""
    return tuple(f for f in FACTS if f.asked.search(question))


def document_facts_answer(question: str, documents: Sequence[Document]) -> Answer | None:
    """The answer to a question that asks only about one document's own facts (or only names it: "川办发〔2025〕26号"),
    None for any other question. The document is the one the question names, or the corpus's only document."""
    if parse_reference(question, documents) is not None:
        return None  # "若干意见第三部分有哪几条": a clause number, for the router
    named = mentioned_documents(question, documents)
    doc = named[0] if len(named) == 1 else (documents[0] if len(documents) == 1 and not named else None)
    if doc is None:
        return None
    rest = without_document_names(question, documents)
    facts = asked_facts(rest)
    asked = [False] * len(rest)  # the characters some fact's words take (their matches may overlap)
    for f in facts:
        for m in f.asked.finditer(rest):
            asked[m.start():m.end()] = [True] * (m.end() - m.start())
    if _FILLER.sub("", "".join(" " if a else c for c, a in zip(rest, asked, strict=True))):
        return None  # the question asks about something else too: the clauses answer it
    if not facts:
        if not named or _FILLER.sub("", rest):
            return None
        facts = FACTS  # the question is only the document's name or 文号: say what it is
    values = _values(doc)
    given = [(f, values[f.name]) for f in facts if values[f.name]]
    lacking = [f for f in facts if not values[f.name]]
    name = doc.meta.short_title
    lines = [f"{name}的{f.label}：{v}（见{name}{f.where}）。" for f, v in given]
    if lacking:
        lines.append(f"{name}的文本中没有写明{'、'.join(f.label for f in lacking)}。")
    source = "这些信息来自文件本身的标题、文号、落款或各级标题，不属于任何条款，因此没有条款引用。"
    return Answer(question, "\n".join(lines), (), abstained=not given, mode="document",
                  notes=(source,) if given else ())


def _values(doc: Document) -> dict[str, str]:
    """Each fact's value for a document, "" where neither its text nor its manifest entry states it."""
    date = doc.meta.date  # YYYY-MM-DD (checked by rag/manifest.py)
    return {"title": f"《{doc.title}》", "doc_number": doc.doc_number, "issuer": doc.meta.issuer,
            "date": f"{int(date[:4])}年{int(date[5:7])}月{int(date[8:10])}日" if date else "", "outline": _outline(doc)}


def _outline(doc: Document) -> str:
    """"除序言外分为6个部分，共18个条款：一、…；二、…": the top-level headings and the number of clauses."""
    top = [n for n in doc.root.children if n.heading]
    if not top:
        return ""
    preamble = any(c.keys[0][0] == "preamble" for c in doc.clauses)
    clauses = sum(1 for c in doc.clauses if c.keys[0][0] != "preamble")
    unit = _UNIT.get(top[0].kind, "个部分")
    return (f"{'除序言外' if preamble else ''}分为{len(top)}{unit}，共{clauses}个条款："
            + "；".join(n.heading for n in top))
