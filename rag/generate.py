"""Optional LLM answers over the retrieved clauses, checked against them, with the extractive answer as fallback.

The model sees only the clauses the extractive answer was drawn from, numbered [C1]…[Cn], and must end
every sentence with the markers of the clauses it relies on. Its reply is never trusted as is: a marker
that names no offered clause is deleted and reported, the valid ones become the display markers [1], [2]…
of `Answer.citations`, and a reply without any valid citation, a "not covered" reply, or an endpoint
that times out, is down or answers with an error all fall back to the extractive answer with a note
saying so. Endpoint problems never reach the caller as exceptions.

Configuration (environment): RAG_LLM_BASE_URL (an OpenAI-compatible endpoint including /v1, e.g.
http://127.0.0.1:8000/v1), RAG_LLM_MODEL, RAG_LLM_API_KEY (else OPENAI_API_KEY; a local server may
need none), RAG_LLM_TIMEOUT (seconds, default 20). Without the first two there is no LLM.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .answer import Answer
from .errors import RagError
from .retrieve import Hit

NOT_COVERED = "文件未涉及"

SYSTEM_PROMPT = f"""你是政策文件问答助手，只能依据用户给出的编号条款回答问题。
要求：
1. 只使用给出的条款内容，不得使用条款以外的任何知识，不得编造条款、文号、数字或政策。
2. 回答中的每一句话都必须以它所依据条款的编号结尾，例如 [C1] 或 [C1][C3]；只能使用给出的编号。
3. 如果这些条款不能回答问题，只回复：{NOT_COVERED}
4. 用简洁的中文回答，不要复述问题。"""

USER_TEMPLATE = """条款（可引用的编号为 [C1] 至 [C{n}]）：

{clauses}

问题：{question}"""

# A marker as models write it: [C1], 【C1】, [C1, C3], or a clause id such as
# [sichuan-vti-re-guide:ch3.sec2.it2]. A bare [1] is caught too: it would read as one of our
# display markers, so it must not survive into the answer text.
_ITEM = r"(?:[a-z0-9][a-z0-9-]*:[a-z0-9.]+|[Cc]\s*\d+|\d+)"  # clause id first: it may start with c
_GROUP = rf"[\[【［]\s*{_ITEM}(?:\s*[,，、;；]\s*{_ITEM})*\s*[\]】］]"
_RUN = re.compile(rf"[ \t]*{_GROUP}(?:\s*{_GROUP})*")
_ITEMS = re.compile(_ITEM)
_C_MARKER = re.compile(r"[Cc]\d+")
_TRAILING = "。．.！!；;，, \n\t"


class LLMError(RagError):
    """The LLM endpoint timed out, could not be reached, answered with an error, or replied with nothing."""


class LLMConfigError(RagError):
    """An RAG_LLM_* environment variable is malformed."""


@dataclass(frozen=True)
class LLMConfig:
    """Where the OpenAI-compatible chat endpoint is and how long to wait for it."""

    base_url: str
    model: str
    api_key: str = field(repr=False)   # kept out of repr so it never lands in logs or tracebacks
    timeout: float = 20.0


def llm_from_env() -> LLMConfig | None:
    """The LLM configured by RAG_LLM_* variables, or None when RAG_LLM_BASE_URL or RAG_LLM_MODEL is unset."""
    env = os.environ
    base_url, model = env.get("RAG_LLM_BASE_URL", "").strip(), env.get("RAG_LLM_MODEL", "").strip()
    if not base_url or not model:
        return None
    # A local server (vLLM, llama.cpp, Ollama) usually checks no key, but the client insists on one.
    api_key = env.get("RAG_LLM_API_KEY") or env.get("OPENAI_API_KEY") or "EMPTY"
    raw = env.get("RAG_LLM_TIMEOUT", "").strip()
    timeout = LLMConfig.timeout
    if raw:
        try:
            timeout = float(raw)
        except ValueError:
            timeout = math.nan
        if not (math.isfinite(timeout) and timeout > 0):
            raise LLMConfigError(f"环境变量 RAG_LLM_TIMEOUT 应为正数（秒），实际为 {raw!r}")
    return LLMConfig(base_url, model, api_key, timeout)


def prompt_messages(question: str, hits: Sequence[Hit]) -> tuple[str, str]:
    """The (system, user) messages: the rules, then the numbered clauses and the question."""
    clauses = "\n\n".join(f"[C{i}] {h.clause.citation}\n{h.clause.text}" for i, h in enumerate(hits, start=1))
    return SYSTEM_PROMPT, USER_TEMPLATE.format(n=len(hits), clauses=clauses, question=question)


@dataclass(frozen=True)
class CheckedReply:
    """A model reply with its markers checked against the offered clauses."""

    text: str                       # valid markers renumbered [1], [2]…; invalid ones deleted
    citations: tuple[Hit, ...]      # citations[i] is marker [i+1]
    notes: tuple[str, ...]          # one per deleted marker
    not_covered: bool               # the model said the clauses do not answer the question


def check_markers(reply: str, offered: Sequence[Hit]) -> CheckedReply:
    """Keep the markers that name an offered clause, renumbered by first appearance; delete the rest."""
    by_id = {h.clause.clause_id: i for i, h in enumerate(offered)}
    display: dict[int, int] = {}     # offered index -> display number
    notes: list[str] = []

    def target(item: str) -> int | None:
        if _C_MARKER.fullmatch(item):
            n = int(item[1:])
            return n - 1 if 1 <= n <= len(offered) else None
        return by_id.get(item)       # a clause id, or a bare number (never valid)

    def rewrite(m: re.Match[str]) -> str:
        shown: list[int] = []
        for raw in _ITEMS.findall(m.group(0)):
            item = re.sub(r"\s+", "", raw)
            i = target(item)
            if i is None:
                note = f"已删除无效引用 [{item}]"
                if note not in notes:
                    notes.append(note)
                continue
            d = display.setdefault(i, len(display) + 1)
            if d not in shown:
                shown.append(d)
        return "".join(f"[{d}]" for d in shown)

    text = _RUN.sub(rewrite, reply).strip()
    bare = _RUN.sub("", reply).strip().rstrip(_TRAILING)
    citations = tuple(offered[i] for i in sorted(display, key=display.__getitem__))
    return CheckedReply(text, citations, tuple(notes), bare.startswith(NOT_COVERED) and not citations)


def generate_with_fallback(llm: LLMConfig, answer: Answer, hits: Sequence[Hit]) -> Answer:
    """The LLM's answer with checked citations, or the extractive `answer` with a note saying why not."""
    offered = answer.retrieved or tuple(hits)
    if not offered:
        return answer
    from . import lc  # LangChain is imported only when an LLM is actually used

    question = answer.resolved_question or answer.question
    try:
        reply = lc.generate(llm, question, offered)
    except LLMError as exc:
        return replace(answer, notes=answer.notes + (f"大模型服务不可用（{exc}），已改用抽取式回答",))
    checked = check_markers(reply, offered)
    if checked.not_covered:
        note = "大模型认为文件未涉及这个问题；以下为抽取式回答，请核对所引条款"
        return replace(answer, notes=answer.notes + (note,))
    if not checked.citations:
        return replace(answer, notes=answer.notes + checked.notes + ("大模型回答没有有效引用，已改用抽取式回答",))
    return replace(answer, text=checked.text, citations=checked.citations, notes=answer.notes + checked.notes,
                   mode="llm", quotes=())  # the model paraphrases: there are no quoted sentences to show
