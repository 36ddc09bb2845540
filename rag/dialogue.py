"""Multi-turn: a follow-up such as "那稀土呢？" is rewritten with the conversation before retrieval.

After "钛资源量占全国多少？", "那稀土呢？" asks the same thing about 稀土: the word of the earlier
question that plays the part the new word plays (the one closest to it in meaning, among the
earlier question's content words) is swapped for it: "稀土资源量占全国多少？". A question that
stands on its own is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .embed import Embedder
from .tokenize import STOPWORDS, Tokenizer

_LEAD = r"(?:那么|那|还有|另外|再问一下|如果是|换成|对于|关于)"
_TAIL = r"(?:的情况|的话|方面)?(?:呢|怎么样|如何|怎么说|又如何|又是多少|是多少|有吗|有没有)"
_FOLLOWUP = re.compile(rf"^{_LEAD}?\s*(?P<core>[^，。？?！!]{{1,12}}?)\s*{_TAIL}?[？?。!！]*$")
# A follow-up opens with 那/还有… or closes with 呢; "…是多少？" alone is a question of its own.
_HAS_LEAD_OR_TAIL = re.compile(rf"^{_LEAD}|呢[？?。!！]*$")


def resolve_followup(question: str, history: Sequence[str], tokenizer: Tokenizer, embedder: Embedder) -> str:
    """The question to search for: `question` itself, or a follow-up rewritten with the last question."""
    q = question.strip()
    if not history or len(q) > 14 or not _HAS_LEAD_OR_TAIL.search(q):
        return q
    m = _FOLLOWUP.match(q)
    if not m:
        return q
    core = m.group("core").strip()
    previous = history[-1].strip()
    if not core or core in previous:
        return previous if core in previous else q
    words = [w for w in tokenizer.words(previous) if w not in STOPWORDS and re.search(r"[\u4e00-\u9fff\w]", w)]
    if not words:
        return f"{core} {previous}"
    vectors = embedder.encode_queries([core, *words])
    sims = vectors[1:] @ vectors[0]
    target = words[int(np.argmax(sims))]
    return previous.replace(target, core, 1)
