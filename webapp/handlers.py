"""The web app's handlers: plain functions of the runtime and strings, no Gradio objects.

Each returns what a page region shows (HTML, Markdown, choices), so tests call them directly
and app.py only wires them to components.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rag.answer import Answer
from rag.ask import Asker
from rag.clauses import Clause, Document, Node
from rag.corpus import Corpus
from rag.dialogue import Turn
from rag.retrieve import RetrievalParams, gap_note, search, unmatched_reference
from rag.runtime import Runtime

from .render import (
    MISSING,
    box,
    clause_card,
    copy_field,
    error_message,
    esc,
    highlight,
    md_literal,
    path_line,
    query_terms,
    snippet,
)

ALL_DOCS = "全部"  # document-filter value meaning "no filter"; doc ids are lowercase ASCII, never this
MAX_K = 20
SEARCH_EMPTY = "输入关键词、问题或条款编号，例如：探矿权 续期"
SEARCH_NONE = ("没有找到相关条款。可以试试：换用文件中的说法（如“探矿权”“钒电池”），减少关键词，"
               "去掉文件或章节筛选，或直接输入条款编号（如“若干意见第十五条”“第三章第二节（二）”）。")
EVIDENCE_EMPTY = "提问后，这里显示回答所引用条款的全文，问题中的词语以高亮标出。"
CLAUSE_EMPTY = "在上方选择一个条款，这里显示它的全文和引用编号。"

# ---------------------------------------------------------------------------------------------
# 问答

@dataclass(frozen=True)
class ChatTurn:
    """One answered question, ready for the page and the feedback log."""

    question: str
    answer: Answer
    user_markdown: str        # the question, as the chat shows it
    bot_markdown: str         # the answer with its [n] markers, citations listed under it
    evidence_html: str        # cited (or 可能相关) clauses in full, question terms highlighted
    record: dict[str, Any]    # question / answer / citations: what a vote on this turn logs


def answer_turn(runtime: Runtime, asker: Asker, question: str, history: Sequence[Turn | str] = ()) -> ChatTurn:
    """Answer a question in the context of the session's earlier turns; raises QueryError."""
    a = asker.ask(question, history=list(history))
    terms = query_terms(runtime, a.resolved_question or question)
    return ChatTurn(question, a, md_literal(question.strip()), _bot_markdown(a), _evidence_html(a, terms),
                    {"question": question, "answer": a.text,
                     "citations": [{"citation": h.clause.citation, "clause_id": h.clause.clause_id}
                                   for h in a.citations]})


def _bot_markdown(a: Answer) -> str:
    parts = [md_literal(a.text)]
    if a.abstained:
        if a.related:  # a.text already names them as 可能相关; say where their text is
            parts.append("（可能相关条款的全文见下方，仅供参考，不是对问题的回答。）")
    elif a.citations:  # an answer on a document's own 文号, issuer or date cites no clause (rag/docinfo.py)
        parts.append("**引用条款：**\n" + "\n".join(md_literal(f"[{i}] {h.clause.citation}")
                                                   for i, h in enumerate(a.citations, start=1)))
        parts.append("（条款全文见下方“引用条款”。）")
    # "**注**：", not "**注：**": CommonMark does not close bold after punctuation followed by a letter, and the
    # asterisks were shown as typed.
    parts += [f"**注**：{md_literal(n)}" for n in a.notes]
    return "\n\n".join(parts)


def _evidence_html(a: Answer, terms: Sequence[str]) -> str:
    out = ['<div class="evidence">']
    if a.resolved_question and a.resolved_question != a.question:
        out.append(box("info", f"结合上文，问题理解为：{a.resolved_question}"))
    out += [box("warn", f"注：{n}") for n in a.notes]
    if a.abstained:
        reason = a.text.split("\n", 1)[0]  # the composer's first line says what the documents leave out
        out.append(box("warn", f"{reason}下面是检索到的最接近的条款，仅供参考，它们不是对问题的回答。"))
        out += [clause_card(h, terms, "可能相关", "非答案") for h in a.related]
    elif a.citations:
        out.append(f'<div class="section-title">引用条款（问题：{esc(a.question)}）</div>')
        out += [clause_card(h, terms, f"[{i}]") for i, h in enumerate(a.citations, start=1)]
    out.append("</div>")
    return "".join(out)


def feedback_entry(record: dict[str, Any], liked: bool, now: datetime | None = None) -> dict[str, Any]:
    """The one line a vote appends: question, answer, citations, vote, time (ISO, local offset)."""
    when = (now or datetime.now()).astimezone().isoformat(timespec="seconds")
    return {"question": record["question"], "answer": record["answer"], "citations": record["citations"],
            "vote": "up" if liked else "down", "time": when}


_FEEDBACK_LOCK = threading.Lock()  # concurrent sessions append to the same file


def append_feedback(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line to the feedback log, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(entry, ensure_ascii=False) + "\n"
    with _FEEDBACK_LOCK, path.open("a", encoding="utf-8") as f:
        f.write(line)


# ---------------------------------------------------------------------------------------------
# 条款检索

def document_filter_choices(corpus: Corpus) -> list[tuple[str, str]]:
    """(label, value) pairs for the document filter: 全部, then each document's short title."""
    return [(ALL_DOCS, ALL_DOCS)] + [(d.meta.short_title or d.title, d.doc_id) for d in corpus.documents]


def search_html(runtime: Runtime, query: str, doc: str = ALL_DOCS, scope: str = "", k: float = 5) -> str:
    """Search results as HTML, or the empty / no-result / error message."""
    if not (query or "").strip():
        return box("empty", SEARCH_EMPTY)
    doc_id = None if doc in ("", ALL_DOCS, None) else doc
    if doc_id and doc_id not in {d.doc_id for d in runtime.corpus.documents}:
        return box("error", f"没有这个文件：{doc_id}（请在“文件”中选择）")
    try:
        n = max(1, min(MAX_K, int(k)))
        hits = search(runtime.index, runtime.embedder, query, k=n, doc=doc_id, scope=(scope or "").strip() or None)
    except Exception as exc:  # a QueryError (empty, too long, punctuation) shows its own message
        return box("error", error_message(exc))
    if not hits:
        return box("empty", SEARCH_NONE)
    # The documents' words that stood in for words of the query they never use (rag/expand.py), where a result
    # has one: highlighted, and said, so that a match on 金融机构 for 银行 is not a mystery.
    p = RetrievalParams()
    shown = "".join(h.clause.text for h in hits)
    found = runtime.index.vocab.stand_ins(query, runtime.index.tokenizer, runtime.embedder, p.expansion_depth,
                                          p.expansion_min_cosine) if p.w_expansion > 0 else []
    stand_ins = [(w, kept) for w, near in found if (kept := [v for v in near if v in shown])]
    terms = query_terms(runtime, query, [v for _, near in stand_ins for v in near])
    filters = [f"文件：{runtime.corpus.document(doc_id).meta.short_title}" if doc_id else "文件：全部"]
    if (scope or "").strip():
        filters.append(f"范围：{scope.strip()}")
    out = [f'<div class="result-summary">“{esc(query.strip())}”：{len(hits)} 条结果（{esc("，".join(filters))}）</div>']
    if stand_ins:
        said = "；".join(f"“{w}”→" + "、".join(f"“{v}”" for v in near) for w, near in stand_ins)
        out.append(f'<div class="result-note">文件中没有问题里的部分用语，同时按文件的近义用语检索：{esc(said)}</div>')
    gap = unmatched_reference(runtime.index, query, hits)
    if gap:
        out.append(box("warn", gap_note(gap, hits)))
    for h in hits:
        badge = '<span class="badge">按条款编号匹配</span>' if h.via == "clause-number" else ""
        # A number that names a part inside the clause ("（二）三是") shows and copies that part.
        cite = h.clause.part_citation(h.part)
        lead = h.clause.part_text(h.part)
        out.append(
            f'<div class="hit"><div class="card-head"><span class="rank">{h.rank}</span> '
            f'<strong class="citation">{esc(cite)}</strong>{badge}</div>'
            f'<div class="card-path">{path_line(h.doc_title, h.clause)}</div>'
            f'<div class="snippet">{snippet(lead, terms)}</div>'
            f'<details><summary>展开全文</summary><div class="clause-text">{highlight(h.clause.text, terms)}</div>'
            f'</details>{copy_field(cite)}</div>')
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# 文件浏览

def document_choices(corpus: Corpus) -> list[tuple[str, str]]:
    """(label, doc_id) for the document picker."""
    return [(f"{d.meta.short_title} {d.title}".strip(), d.doc_id) for d in corpus.documents]


def document_meta_html(doc: Document) -> str:
    """The document's metadata; 未载明 where the manifest and the text say nothing."""
    m = doc.meta
    rows = [("标题", doc.title), ("简称", m.short_title), ("文号", doc.doc_number or m.doc_number),
            ("发文机关", m.issuer), ("日期", m.date), ("类型", m.kind), ("条款数", str(len(doc.clauses)))]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v) if v else MISSING}</td></tr>" for k, v in rows)
    return f'<table class="doc-meta">{cells}</table>'


def document_tree_html(doc: Document) -> str:
    """The document's headings (编/章/节/部分/项) with the citation of each clause under them."""
    by_id = {c.clause_id: c for c in doc.clauses}
    return f'<div class="doc-tree"><ul>{_node_html(doc.root, by_id)}</ul></div>'


def _node_html(node: Node, by_id: dict[str, Clause]) -> str:
    own = ""
    leaves = []
    for cid in node.clause_ids:
        c = by_id[cid]
        if node.heading and c.path and c.path[-1] == node.heading:
            own = f" {_tree_link(c)}"  # the heading is the clause itself
        else:
            title = f" {esc(c.title)}" if c.title else ""
            leaves.append(f'<li class="tree-leaf">{_tree_link(c)}{title}</li>')
    inner = "".join(leaves) + "".join(_node_html(ch, by_id) for ch in node.children)
    if not node.heading:
        return inner
    head = f'<span class="tree-heading">{esc(node.heading)}</span>{own}'
    if not inner:
        return f"<li>{head}</li>"
    return f"<li><details open><summary>{head}</summary><ul>{inner}</ul></details></li>"


def _tree_link(c: Clause) -> str:
    # app.py's tree listener sends data-clause back to the server, which shows that clause.
    return f'<a class="tree-cite" href="#" data-clause="{esc(c.clause_id)}">{esc(c.citation)}</a>'


def clause_choices(doc: Document) -> list[tuple[str, str]]:
    """(citation + title, clause_id) for every clause of a document, in document order."""
    return [(f"{c.citation} {c.title}".strip(), c.clause_id) for c in doc.clauses]


def clause_html(corpus: Corpus, clause_id: str | None) -> str:
    """One clause in full, with its citation and where it sits in its document."""
    if not clause_id:
        return box("empty", CLAUSE_EMPTY)
    by_id = {c.clause_id: (c, d) for d in corpus.documents for c in d.clauses}
    if clause_id not in by_id:
        return box("error", f"没有找到条款：{clause_id}（请从列表中选择）")
    c, doc = by_id[clause_id]
    return (f'<div class="clause-card"><div class="card-head"><strong class="citation">{esc(c.citation)}</strong>'
            f'</div><div class="card-path">{path_line(doc.title, c)}</div>'
            f'<div class="clause-text">{esc(c.text)}</div>{copy_field(c.citation)}</div>')


def browse_document(corpus: Corpus, doc_id: str | None) -> tuple[str, str, list[tuple[str, str]]]:
    """(metadata HTML, tree HTML, clause choices) for a document; an error box for an unknown one."""
    docs = {d.doc_id: d for d in corpus.documents}
    if doc_id not in docs:
        return box("error", f"没有这个文件：{doc_id or '（未选择）'}（请从列表中选择）"), "", []
    doc = docs[doc_id]
    return document_meta_html(doc), document_tree_html(doc), clause_choices(doc)
