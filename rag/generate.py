"""Optional LLM generation (placeholder until the LLM path lands): no endpoint configured -> None."""

from __future__ import annotations

from collections.abc import Sequence

from .answer import Answer
from .retrieve import Hit


def llm_from_env() -> object | None:
    """The configured LLM client, or None."""
    return None


def generate_with_fallback(llm: object, answer: Answer, hits: Sequence[Hit]) -> Answer:
    """Return the extractive answer unchanged."""
    return answer
