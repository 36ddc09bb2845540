"""Load once, search many times: the corpus, the embedder and the verified index together."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from .config import Settings
from .corpus import Corpus, load_corpus
from .embed import Embedder, SentenceTransformerEmbedder, load_embedder
from .errors import IndexMismatch
from .index import ClauseIndex, build_index, check_index, load_index
from .provision import ensure_model, model_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """Everything a query needs, loaded and checked."""

    settings: Settings
    corpus: Corpus
    embedder: Embedder
    index: ClauseIndex


def provision_model(settings: Settings) -> None:
    """Convert the bundled model into settings.model_dir unless a user folder is configured."""
    from .config import Settings as Defaults

    if settings.model_dir == Defaults().model_dir:
        ensure_model(settings.model_dir)


def setup(settings: Settings) -> str:
    """Make the model and an up-to-date index exist; say what was done."""
    provision_model(settings)
    corpus = load_corpus(settings.corpus_dir)
    try:
        check_index(settings.index_dir, corpus, model_id(settings.model_dir))
        return f"索引已是最新：{settings.index_dir}（{len(corpus.clauses)} 个条款）"
    except IndexMismatch as why:
        reason = str(why).split("；")[0]  # the rebuild hint in the message is what happens next anyway
        print(f"正在重建索引（{reason}）", file=sys.stderr)
    build(settings, corpus)
    return f"索引已构建：{settings.index_dir}（{len(corpus.clauses)} 个条款）"


def build(settings: Settings, corpus: Corpus | None = None) -> ClauseIndex:
    """(Re)build the index from the corpus, then load it."""
    corpus = corpus or load_corpus(settings.corpus_dir)
    embedder = SentenceTransformerEmbedder(settings.model_dir, settings)
    build_index(corpus, embedder, settings.index_dir)
    return load_index(settings.index_dir, corpus, embedder)


def load_runtime(settings: Settings) -> Runtime:
    """Load corpus, model and index, verifying that they belong together."""
    corpus = load_corpus(settings.corpus_dir)
    meta = check_index(settings.index_dir, corpus, model_id(settings.model_dir))  # fail fast, before the model
    embedder = load_embedder(settings)
    return Runtime(settings, corpus, embedder, load_index(settings.index_dir, corpus, embedder, meta))
