"""Escaping, highlighting and the small HTML pieces the web app is built from.

Every piece of document text, clause text and user input passes through `esc` (for gr.HTML,
which inserts its value as raw HTML) or `md_literal` (for the Chatbot, which renders Markdown
and would otherwise turn `**粗体**` into bold and hand HTML to its sanitiser). Only the tags
written here (<mark>, the card layout) are markup.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence

from rag.clauses import Clause
from rag.errors import RagError
from rag.normalize import fold_query
from rag.retrieve import Hit
from rag.runtime import Runtime

log = logging.getLogger("webapp")

SNIPPET_CHARS = 160
MISSING = "未载明"

# Characters Markdown (and GFM autolinks, tables, LaTeX) gives meaning to, plus HTML's own.
# Written as numeric entities they are inert to the Markdown parser and still display as
# themselves; the chatbot's sanitiser then has nothing left to interpret.
_MD_LITERAL = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-.!|~$=:^@%"})
_NUMBERING = re.compile(r"^第?[一二三四五六七八九十百零〇两\d]+[编章节条款项段部分]?$")


def md_literal(text: str) -> str:
    """Text for a Markdown-rendering component, displayed exactly as written."""
    return text.translate(_MD_LITERAL)


def esc(text: str) -> str:
    """Text for an HTML component (quotes too, so it is also safe inside attributes)."""
    return html.escape(text, quote=True)


def query_terms(runtime: Runtime, query: str, extra: Sequence[str] = ()) -> list[str]:
    """The words of a query worth highlighting, and `extra` words, longest first (BM25 tokens, numbering dropped)."""
    terms = {t for t in runtime.index.tokenizer.tokens(fold_query(query))
             if not _NUMBERING.match(t) and (len(t) > 1 or not t.isascii())} | set(extra)
    return sorted(terms, key=lambda t: (-len(t), t))


def highlight(text: str, terms: Sequence[str]) -> str:
    """HTML of `text` with each occurrence of a term in <mark>; everything else escaped."""
    terms = [t for t in terms if t]  # an empty alternative would match everywhere
    if not terms:
        return esc(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):  # matched on the raw text, so an entity is never split
        out.append(esc(text[pos:m.start()]))
        out.append(f"<mark>{esc(m.group())}</mark>")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def snippet(text: str, terms: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """A highlighted window of `text` around its first matching term."""
    flat = " ".join(text.split())
    first = min((i for t in terms if (i := flat.lower().find(t.lower())) >= 0), default=0)
    start = max(0, min(first - width // 4, len(flat) - width))
    end = min(len(flat), start + width)
    return ("…" if start else "") + highlight(flat[start:end], terms) + ("…" if end < len(flat) else "")


def box(kind: str, message: str) -> str:
    """A message box (kind: info / empty / error / warn); message is plain text."""
    return f'<div class="app-box app-{kind}">{esc(message)}</div>'


def error_message(exc: Exception) -> str:
    """What the page says about a failed request; the library's own errors are already Chinese."""
    if isinstance(exc, RagError):
        return str(exc)
    log.exception("handler failed")  # the traceback goes to the server log, not the page
    return f"处理请求时出错（{type(exc).__name__}），请稍后重试；若问题持续，请联系管理员。"


def copy_field(citation: str) -> str:
    """The citation in a select-all field with a 复制 button (app.py's COPY_JS does the copying)."""
    return (f'<div class="copy-row"><span class="copy-label">引用：</span>'
            f'<code class="cite-copy">{esc(citation)}</code>'
            f'<button type="button" class="copy-btn" data-cite="{esc(citation)}">复制</button></div>')


def path_line(doc_title: str, clause: Clause) -> str:
    """Where a clause sits: document title › headings, escaped."""
    return esc(" › ".join((doc_title, *clause.path)))


def clause_card(hit: Hit, terms: Sequence[str], label: str, note: str = "") -> str:
    """A cited (or related) clause: label, citation, path and full text, terms highlighted."""
    c = hit.clause
    tag = f'<span class="card-note">{esc(note)}</span>' if note else ""
    return (f'<div class="clause-card"><div class="card-head"><span class="card-label">{esc(label)}</span> '
            f'<strong class="citation">{esc(c.citation)}</strong>{tag}</div>'
            f'<div class="card-path">{path_line(hit.doc_title, c)}</div>'
            f'<div class="clause-text">{highlight(c.text, terms)}</div></div>')
