"""Error types. Each names the place (file, line, field) and what was expected."""

from __future__ import annotations


class RagError(ValueError):
    """Base class for every error this library raises on bad input or bad state."""


class ManifestError(RagError):
    """The corpus manifest is malformed or points at a missing file."""


class DocumentError(RagError):
    """A source document cannot be read or decoded."""


class ClauseParseError(RagError):
    """A document's structure is inconsistent (numbering skips or repeats, no structure)."""


class ModelError(RagError):
    """The embedding model is missing, corrupt, or does not behave as verified."""


class IndexMismatch(RagError):
    """An index on disk is missing, damaged, stale, or built by another model/corpus."""


class QueryError(RagError):
    """A query cannot be searched (empty, too long, nothing searchable)."""


class CitationNotFound(RagError):
    """A clause id or citation does not name any clause in the corpus."""
