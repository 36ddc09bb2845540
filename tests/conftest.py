"""Shared fixtures: the real corpus, the real runtime and asker, and a parser for the small fixture documents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag.ask import Asker
from rag.clauses import Document, parse_document
from rag.config import ROOT, Settings
from rag.corpus import Corpus, load_corpus
from rag.manifest import DocMeta
from rag.normalize import normalize
from rag.runtime import Runtime, load_runtime

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """The bundled corpus, parsed."""
    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    """The bundled corpus with the real model and the built index (one per test module)."""
    return load_runtime(Settings.from_env())


@pytest.fixture(scope="module")
def asker(runtime: Runtime) -> Asker:
    return Asker(runtime)  # no LLM: the extractive answers are deterministic


@pytest.fixture(scope="session")
def guide(corpus: Corpus) -> Document:
    return corpus.document("sichuan-vti-re-guide")


@pytest.fixture(scope="session")
def opinions(corpus: Corpus) -> Document:
    return corpus.document("sichuan-mining-opinions-2025")


def parse_text(text: str, name: str = "fixture", title: str | None = None) -> Document:
    """Parse a document given as a string (title: the first line unless given)."""
    meta = DocMeta(name, FIXTURES / f"{name}.txt", title or text.strip().splitlines()[0],
                   "《测试》", "办法")
    return parse_document(meta, normalize(text, meta.title))


@pytest.fixture
def parse_fixture() -> Callable[[str], Document]:
    def parse(name: str) -> Document:
        return parse_text((FIXTURES / f"{name}.txt").read_text(encoding="utf-8"), name)

    return parse
