"""The only module that imports LangChain: a retriever over the clause index, and the chat call.

`ClauseRetriever` lets LangChain pipelines use this project's hybrid search; `generate` sends the
prompt of rag/generate.py to an OpenAI-compatible chat endpoint and turns every way that can fail
(timeout, refused connection, HTTP error, an empty or malformed reply) into one `LLMError` line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx
import openai
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.retrievers import BaseRetriever
from langchain_openai import ChatOpenAI
from pydantic import ConfigDict, SecretStr, SkipValidation

from .embed import Embedder
from .generate import LLMConfig, LLMError, prompt_messages
from .index import ClauseIndex
from .retrieve import Hit, search

# Reasoning models served locally (Qwen3, DeepSeek-R1) may prefix their answer with this block.
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class ClauseRetriever(BaseRetriever):
    """LangChain retriever over the clause index: hybrid search, one Document per clause."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: ClauseIndex
    embedder: SkipValidation[Embedder]   # a Protocol: isinstance cannot check it
    k: int = 5
    doc: str | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun
                                ) -> list[Document]:
        hits = search(self.index, self.embedder, query, k=self.k, doc=self.doc)
        return [hit_document(h) for h in hits]


def hit_document(h: Hit) -> Document:
    """A hit as a LangChain Document: the clause text, with its citation and ranking in metadata."""
    c = h.clause
    return Document(page_content=c.text, id=c.clause_id, metadata={
        "rank": h.rank, "score": h.score, "doc_id": c.doc_id, "doc_title": h.doc_title,
        "clause_id": c.clause_id, "citation": c.citation, "label": c.label, "path": list(c.path), "via": h.via,
    })


def chat_model(config: LLMConfig) -> ChatOpenAI:
    """A deterministic chat model on the configured endpoint that fails fast instead of retrying."""
    return ChatOpenAI(
        base_url=config.base_url, api_key=SecretStr(config.api_key), model=config.model,
        timeout=config.timeout,
        max_retries=0,             # the extractive answer is the fallback: waiting for retries only delays it
        temperature=0,
        use_responses_api=False,   # local servers speak chat completions, not OpenAI's Responses API
    )


def generate(config: LLMConfig, question: str, hits: Sequence[Hit]) -> str:
    """The model's reply to the question over the numbered clauses; LLMError when the endpoint fails."""
    system, user = prompt_messages(question, hits)
    where = config.base_url
    try:
        reply = chat_model(config).invoke([SystemMessage(system), HumanMessage(user)])
    except openai.APITimeoutError:   # before APIConnectionError, its base class
        raise LLMError(f"{where} 在 {config.timeout:g} 秒内没有回复") from None
    except openai.APIConnectionError:
        raise LLMError(f"无法连接 {where}") from None
    except openai.APIStatusError as exc:
        message = re.sub(r"^Error code: \d+ - ", "", exc.message)  # the client's prefix repeats the status
        raise LLMError(f"{where} 返回 HTTP {exc.status_code}{_detail(message)}") from None
    except (openai.APIError, httpx.HTTPError) as exc:
        raise LLMError(f"{where} 请求失败：{_detail(str(exc)).lstrip('：') or type(exc).__name__}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:   # a 200 whose body is not a chat completion
        raise LLMError(f"{where} 的回复不是有效的 chat completion（{type(exc).__name__}）") from None
    text = _THINK.sub("", reply.text).strip()
    if not text:
        raise LLMError(f"{where} 返回了空回复")
    return text


def _detail(message: str) -> str:
    """The first line of a server's error message, short enough for a one-line note."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return f"：{first[:80]}" if first else ""
