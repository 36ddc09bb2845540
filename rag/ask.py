"""question (+ conversation) -> Answer: the one function behind `ask`, the batch CLI and the web app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .answer import Answer, AnswerParams, Weights, compose_answer
from .dialogue import Turn, resolve_followup
from .docinfo import document_facts_answer
from .generate import LLMConfig, generate_with_fallback
from .retrieve import RetrievalParams, clean_query, search
from .runtime import Runtime


@dataclass(frozen=True)
class AskSettings:
    """How questions are answered."""

    k: int = 5
    retrieval: RetrievalParams = field(default_factory=RetrievalParams)
    answer: AnswerParams = field(default_factory=AnswerParams)


class Asker:
    """Holds what answering needs beyond the runtime (IDF weights; the optional LLM)."""

    def __init__(self, runtime: Runtime, settings: AskSettings | None = None, llm: LLMConfig | None = None) -> None:
        self.runtime = runtime
        self.settings = settings or AskSettings()
        self.weights = Weights(runtime.index)
        self.llm = llm

    def ask(self, question: str, history: Sequence[Turn | str] = (), doc: str | None = None) -> Answer:
        """Answer a question; `history` holds the earlier turns of the conversation, oldest first
        (Turn.after(answer): the question as understood, so that follow-ups can chain, and the clause cited
        first, so that "下一条" can step from it); a plain string stands for a question alone."""
        rt = self.runtime
        resolved = resolve_followup(clean_query(question), history, rt.index, rt.embedder)
        about_document = document_facts_answer(resolved, rt.corpus.documents)
        if about_document is not None:  # its 文号, issuer, date or title: no clause holds them (rag/docinfo.py)
            return replace(about_document, question=question, resolved_question=resolved)
        hits = search(rt.index, rt.embedder, resolved, k=self.settings.k, doc=doc, params=self.settings.retrieval)
        answer = compose_answer(resolved, hits, self.weights, self.settings.answer)
        answer = replace(answer, question=question, resolved_question=resolved, retrieved=tuple(hits))
        if self.llm is not None and not answer.abstained:
            answer = generate_with_fallback(self.llm, answer, hits)
        return answer
