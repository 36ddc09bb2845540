"""The corpus: manifest + raw files -> parsed documents, with a checksum of what went in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .clauses import Clause, Document, parse_document
from .errors import CitationNotFound, DocumentError, ManifestError
from .lexicon import FILE_NAME as LEXICON_FILE
from .lexicon import Lexicon, load_lexicon
from .manifest import DocMeta, read_manifest
from .normalize import normalize

# Bump when normalisation or parsing changes what clauses come out, so indexes get rebuilt.
PARSER_VERSION = 1


@dataclass(frozen=True)
class Corpus:
    """All documents of the corpus, their clauses, and a checksum of the inputs."""

    documents: tuple[Document, ...]
    sha256: str
    # The words users say for the documents' words (corpus/lexicon.tsv); read at query time, not part of sha256.
    lexicon: Lexicon = field(default_factory=Lexicon)

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """Every citable clause of every document, in document order."""
        return tuple(c for d in self.documents for c in d.clauses)

    def document(self, doc_id: str) -> Document:
        """The document with this id, or a CitationNotFound naming the ids there are."""
        for d in self.documents:
            if d.doc_id == doc_id:
                return d
        known = ", ".join(d.doc_id for d in self.documents)
        raise CitationNotFound(f"no document with id '{doc_id}' (documents: {known})")

    def clause(self, clause_id: str) -> Clause:
        """The clause with this machine id."""
        for c in self.clauses:
            if c.clause_id == clause_id:
                return c
        raise CitationNotFound(f"no clause with id '{clause_id}'")


def decode_document(meta: DocMeta) -> str:
    """Read a raw file: UTF-8 (with or without BOM) or GB18030/GBK; refuse empty and binary files."""
    try:
        data = meta.file.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{meta.file}: cannot read: {exc.strerror}") from None
    if not data.strip():
        raise DocumentError(f"{meta.file}: file is empty")
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{meta.file}: binary file (NUL bytes), expected plain text")
    encodings = [meta.encoding] if meta.encoding else ["utf-8-sig", "gb18030"]
    for enc in encodings:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if enc == "gb18030" and _looks_binary(text):
            break
        return text
    tried = ", ".join(encodings)
    raise DocumentError(f"{meta.file}: not decodable as {tried}; set 'encoding' in the manifest")


def _looks_binary(text: str) -> bool:
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    return controls > len(text) / 100


def load_document(meta: DocMeta) -> Document:
    """Decode, normalise and parse one document."""
    return parse_document(meta, normalize(decode_document(meta), meta.title))


def load_corpus(corpus_dir: Path) -> Corpus:
    """Read the manifest and parse every document it lists."""
    metas = read_manifest(corpus_dir / "manifest.toml")
    docs = tuple(load_document(m) for m in metas)
    short_titles = [d.meta.short_title for d in docs]
    for st in set(short_titles):
        if short_titles.count(st) > 1:
            raise ManifestError(
                f"{corpus_dir / 'manifest.toml'}: short_title {st} is used by two documents; "
                "citations would be ambiguous")
    return Corpus(docs, corpus_checksum(metas), load_lexicon(corpus_dir / LEXICON_FILE))


def corpus_checksum(metas: Sequence[DocMeta]) -> str:
    """sha256 over the manifest entries, the raw bytes of each file and the parser version."""
    h = hashlib.sha256(f"parser-{PARSER_VERSION}".encode())
    for m in metas:
        entry = {k: str(v) for k, v in vars(m).items() if k != "file"}
        h.update(json.dumps(entry, ensure_ascii=False, sort_keys=True).encode())
        h.update(hashlib.sha256(m.file.read_bytes()).digest())
    return h.hexdigest()
