"""Multi-turn: a follow-up such as "那稀土呢？" is rewritten with the conversation before retrieval.

After "钛资源量占全国多少？", "那稀土呢？" asks the same thing about 稀土: the word of the earlier
question that plays the part the new word plays is swapped for it: "稀土资源量占全国多少？". A question
that stands on its own is left alone. Which word plays that part, in order:
1. a clause number: after "第三章第二节（二）讲了什么？", "那（三）呢？" replaces the item number, and
   "下一条" / "上一节" / "后面那条" move it by one; when the earlier question named no clause, they move
   from the clause its answer cited first (the caller passes it in a Turn);
2. a number with the same unit: "2030年" replaces "2025年";
3. the same head: "民营企业" replaces "省属企业", "钛产业" replaces "钢铁产业";
4. a peer the documents list it with ("攀枝花、德阳、宜宾", "钒钛、稀土、锂电"): 宜宾 replaces 攀枝花;
5. else the earlier word closest to it in meaning (e5 cosine).
A short question that points back ("它在全世界排第几？", "这个机制按啥原则放矿权？") or opens as a follow-up
("那审批手续谁去跑？", "具体落在哪些城市？") but swaps nothing is searched together with the earlier question.
The caller passes the earlier turns (Turn.after(answer)): each question as it was understood
(Answer.resolved_question), so that a chain of follow-ups ("那稀土呢？", "钒呢？") keeps its subject, and the
clause its answer cited first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .answer import Answer
from .citations import asks_step, replace_reference, step_clause, step_reference
from .embed import Embedder
from .index import ClauseIndex
from .tokenize import STOPWORDS

_LEAD = r"(?:那么|那|还有|另外|再问一下|如果是|换成|对于|关于)"
_TAIL = r"(?:的情况|的话|方面|那块|这块|那边|这边|的)?(?:呢|怎么样|如何|怎么说|又如何|又是多少|是多少|有吗|有没有)"
_FOLLOWUP = re.compile(rf"^{_LEAD}?\s*(?P<core>[^，。？?！!]{{1,12}}?)\s*{_TAIL}?[？?。!！]*$")
# A follow-up opens with 那/还有… or closes with 呢; "…是多少？" alone is a question of its own.
_HAS_LEAD_OR_TAIL = re.compile(rf"^{_LEAD}|呢[？?。!！]*$")
_NUMBER_WITH_UNIT = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<unit>[^\d\s]{0,2})$")
_LIST_SEGMENT = re.compile(r"[^，。；：（）()“”《》\n]*、[^，。；：（）()“”《》\n]*")
_CONTENT = re.compile(r"[\u4e00-\u9fff\w]")
# Words that point back to the conversation: 它, 他们, 这个/这种/这技术 (not 这几年, 这里, 这份文件), 那些…
_POINTS_BACK = re.compile(r"它|他们|她们|这(?![几里儿是么样份])[\u4e00-\u9fff]|那(?:个|些|里|儿)|上述|前面(?:说|提)的")
_OPENS_FOLLOWUP = re.compile(rf"^(?:{_LEAD}|具体|要是)")
_SHORT = 16  # longer questions that use 这些/那些 ("行业里那些联盟…") are meant on their own


@dataclass(frozen=True)
class Turn:
    """An earlier turn of a conversation, as a follow-up needs it."""

    question: str        # as understood (Answer.resolved_question)
    cited: str = ""      # clause_id of the clause the answer cited first; "" when it abstained

    @classmethod
    def after(cls, answer: Answer) -> Turn:
        """The turn an answer closes."""
        first = answer.citations[0].clause.clause_id if answer.citations and not answer.abstained else ""
        return cls(answer.resolved_question or answer.question, first)


def resolve_followup(question: str, history: Sequence[Turn | str], index: ClauseIndex, embedder: Embedder) -> str:
    """The question to search for: `question` itself, or a follow-up rewritten with the last turn (a plain
    string stands for a turn's question)."""
    q = question.strip()
    if not history:
        return q
    last = history[-1] if isinstance(history[-1], Turn) else Turn(history[-1])
    previous = last.question.strip()
    if asks_step(q):  # "下一条": from the clause named or cited before; no word of it is a new subject
        return step_reference(previous, q) or step_clause(last.cited, q, index.corpus.documents) or q
    swapped = _swap(q, previous, index, embedder)
    if swapped != q:
        return swapped
    # Nothing to swap, but the question leans on what came before: search it with the earlier question.
    if len(q) <= _SHORT and (_POINTS_BACK.search(q) or _OPENS_FOLLOWUP.match(q)):
        return f"{previous} {q}"
    return q


def _swap(q: str, previous: str, index: ClauseIndex, embedder: Embedder) -> str:
    """`previous` with the part a follow-up like "那稀土呢？" names swapped in; `q` when it swaps nothing."""
    if len(q) > 14 or not _HAS_LEAD_OR_TAIL.search(q):
        return q
    m = _FOLLOWUP.match(q)
    if not m:
        return q
    core = m.group("core").strip()
    if not core or core in previous:
        return previous if core in previous else q
    by_number = replace_reference(previous, core) or _replace_number(previous, core)
    if by_number:
        return by_number
    # Search-mode words, so that a part of a compound can be swapped: 钒 for the 稀土 of 稀土资源量.
    words = list(dict.fromkeys(w for w in index.tokenizer.search_words(previous)
                               if w not in STOPWORDS and _CONTENT.search(w)))
    if not words:
        return f"{core} {previous}"
    span = _same_head(previous, words, core)
    if span:
        return previous.replace(span, core, 1)
    vectors = embedder.encode_queries([core, *words])
    sims = vectors[1:] @ vectors[0]
    peers = listed_peers(index, core)
    candidates = [i for i, w in enumerate(words) if w in peers] or list(range(len(words)))
    target = words[max(candidates, key=lambda i: float(sims[i]))]
    # The head of a longer word takes the whole word with it: 磷矿 for 钒钛磁铁矿, not for its 铁矿 (a
    # modifier is swapped alone: 钒 for the 稀土 of 稀土资源量).
    target = max((w for w in words if w.endswith(target)), key=len)
    return previous.replace(target, core, 1)


def _replace_number(previous: str, core: str) -> str | None:
    """"2030年" after "2025年铁精矿缺口有多大？": the number with the same unit is replaced."""
    m = _NUMBER_WITH_UNIT.match(core)
    if not m or not m.group("unit"):
        return None
    pattern = re.compile(rf"\d+(?:\.\d+)?{re.escape(m.group('unit'))}")
    return pattern.sub(core, previous, count=1) if pattern.search(previous) else None


def _same_head(previous: str, words: Sequence[str], core: str) -> str | None:
    """The span of `previous` with the same head (last two or more characters) as `core`, longest head
    first: "民营企业" finds "省属企业" (two words there), "钛产业" finds "钢铁产业"."""
    for k in range(1, len(core) - 1):
        head = core[k:]
        for i, w in enumerate(words):
            if w.endswith(head) and len(w) > len(head):
                return w
            if w == head and i > 0 and words[i - 1] + w in previous:
                return words[i - 1] + w
    return None


def listed_peers(index: ClauseIndex, word: str) -> set[str]:
    """Words the documents list together with `word` ("攀枝花、德阳、宜宾"): the neighbours of each 、."""
    peers: set[str] = set()
    for clause in index.clauses:
        if word not in clause.text:
            continue
        for segment in _LIST_SEGMENT.findall(clause.text):
            if word not in segment:
                continue
            items = segment.split("、")
            for i, item in enumerate(items):
                words = [w for w in index.tokenizer.words(item) if _CONTENT.search(w)]
                if words:
                    # the first item ends a phrase ("打造攀枝花"), the last begins one ("宜宾三大…")
                    peers.add(words[-1] if i == 0 else words[0] if i == len(items) - 1 else "".join(words))
    peers.discard(word)
    return peers
