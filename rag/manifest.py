"""The corpus manifest: one entry per document, read from corpus/manifest.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import ManifestError

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REQUIRED = ("id", "file", "title", "short_title", "kind")
_OPTIONAL = ("doc_number", "issuer", "date", "encoding", "source")


@dataclass(frozen=True)
class DocMeta:
    """What the manifest says about one document."""

    doc_id: str
    file: Path            # absolute
    title: str
    short_title: str      # 《指南》
    kind: str             # 意见 / 指南 / 办法 …
    doc_number: str = ""  # 文号
    issuer: str = ""
    date: str = ""        # YYYY-MM-DD
    encoding: str = ""    # "" means: detect (utf-8 with or without BOM, else gb18030)
    source: str = ""


def read_manifest(path: Path) -> tuple[DocMeta, ...]:
    """Read and check the manifest; errors name the file and the entry."""
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("document")
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: no [[document]] entries")
    docs: list[DocMeta] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}: document #{i}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: not a table")
        for key in _REQUIRED:
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ManifestError(f"{where}: field '{key}' is missing or empty")
        unknown = set(entry) - set(_REQUIRED) - set(_OPTIONAL)
        if unknown:
            raise ManifestError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        doc_id = entry["id"]
        where = f"{path}: document '{doc_id}'"
        if not _ID_RE.match(doc_id):
            raise ManifestError(f"{where}: id must be lowercase letters, digits and '-'")
        if doc_id in seen:
            raise ManifestError(f"{where}: id is used twice")
        seen.add(doc_id)
        date = entry.get("date", "")
        if date and not _DATE_RE.match(date):
            raise ManifestError(f"{where}: field 'date' must be YYYY-MM-DD, got {date!r}")
        short = entry["short_title"]
        if not (short.startswith("《") and short.endswith("》")):
            raise ManifestError(f"{where}: field 'short_title' must be written with 《》, got {short!r}")
        file = (path.parent / entry["file"]).resolve()
        if not file.is_file():
            raise ManifestError(f"{where}: file '{entry['file']}' not found (looked at {file})")
        docs.append(DocMeta(
            doc_id=doc_id, file=file, title=entry["title"].strip(), short_title=short,
            kind=entry["kind"], doc_number=entry.get("doc_number", ""),
            issuer=entry.get("issuer", ""), date=date, encoding=entry.get("encoding", ""),
            source=entry.get("source", ""),
        ))
    return tuple(docs)
