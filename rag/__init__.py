"""政策条款问答: clause-structured retrieval and cited answers over Chinese policy documents."""

from __future__ import annotations

__version__ = "0.1.0"
