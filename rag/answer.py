"""list[Hit] -> Answer: an extractive answer with [n] markers, or an honest abstention.

No LLM is needed. From the retrieved clauses the composer picks the sentences that answer the
question (a 多少/比例/目标 question prefers the sentence that carries the figure) and joins them
with short connectives, each followed by its marker; the cited clauses' full text goes with the
answer. When the documents do not cover the question it says so, and lists the nearest clauses
only as "可能相关".

Abstention looks at what the question asks for and at how well the best clauses cover its topic,
because dense cosine alone does not separate in-corpus from off-topic questions
(notes/embedding-model.md). A question that asks for a figure, a procedure, an office, conditions,
how a price or share is set, a city or the companies, or a subsidy (KINDS) needs a topic sentence that gives
one. Otherwise the composer weighs how much of the question's vocabulary the best clause contains (IDF over the indexed
chunks; a word the corpus never uses weighs most) and the dense cosine of the best clause. The thresholds
are calibrated on the QA set's unanswerable questions (evaluation/tune.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from .citations import Reference, document_names, mentioned_documents, missing, parse_reference, without_document_names
from .clauses import Clause, SubUnit
from .index import ClauseIndex
from .mentions import PlaceFinder, unmentioned
from .retrieve import Hit
from .tokenize import STOPWORDS, fold_subscripts, function_word, topic_word

_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")
# Figures and five-year-plan periods ("十四五"): a question that names one is answered only from a clause that has it.
# A code with digits (V2O5, PM2.5, AS9100) counts whole, and the documents' subscripts (V₂O₅) as digits.
_NUMBER = re.compile(r"[A-Za-z]*\d+(?:\.\d+)?(?:[A-Za-z]+\d*)*|十[一二三四五六七八九]五")


class Finder(Protocol):
    """What tells whether a sentence carries a kind of answer: a compiled pattern, or a PlaceFinder."""

    def search(self, string: str, /) -> object: ...


@dataclass(frozen=True)
class AnswerKind:
    """A kind of answer a question can ask for, and how a sentence shows that it gives one.

    Policy opinions and guides state aims and measures; they seldom give the figure, the procedure,
    the office, the conditions or the subsidy a user may ask for. A question that asks for one of these is
    answered only from a sentence that carries it (see should_abstain).
    """

    name: str
    label: str                 # what the documents do not give, as the abstention says it
    asked: re.Pattern[str]     # matches the question
    # Matches a sentence that gives this kind of answer. Only words that say so: 申请 or 登记 alone are
    # often the topic itself ("探矿权登记"), not a procedure.
    carried: Finder
    # Whether the question's own words in a sentence show the answer: a sentence that gives a 补贴 answers
    # "有没有补贴", but the 新材料 a question names does not answer its "要交哪些材料".
    own_words: bool = False
    fallback: bool = False     # asked for only when the question asks for no other kind
    narrows: str = ""          # a broader kind this one stands in for when both are asked

    @classmethod
    def of(cls, name: str, label: str, asked: str, carried: str | Finder, own_words: bool = False,
           fallback: bool = False, narrows: str = "") -> AnswerKind:
        """A kind from the two patterns' source (or, for `carried`, a Finder)."""
        found = re.compile(carried) if isinstance(carried, str) else carried
        return cls(name, label, re.compile(asked), found, own_words, fallback, narrows)


KINDS = (
    # A figure or a date (not "哪几个", "这几年", "几年前", "投产几年以后", "好几家", "十几个", "几家企业能不能…", nor a
    # few of something after a pronoun or a preposition: "我们几家企业想抱团", "把几个厂连起来", "跟几所大学").
    AnswerKind.of(
        "figure", "具体数字或日期",
        r"多少|多大|多长|多高|多久|(?<![哪这那近前头后好十们把将跟和与同])(?<!^)几[个项年次家种成位名倍亿万千百十]"
        r"(?!月?[以之]?[前来后])|百分之几|哪一?年|何时"
        r"|什么时候|哪一?天|截止[到至]?哪|什么日期|(?:什么|多大|哪个)比例"
        # A rate, term or quota asked about ("利率有什么规定", a keyword query "领取期限"), not one named as the
        # topic of a yes/no question ("等期限到了还能续吗", "会不会占掉用能额度？").
        r"|(?:利率|税率|费率|期限|额度)(?:是|为|有|大概|一般|分别|最高|最低|上限)?(?:多|几|什么|怎么|如何|哪|\s|$)"
        r"|(?:补贴|补助|奖励|奖补|收费|征收|计提|赔偿|补偿|缴费)的?\s*标准|(?:费|价格?|税)[^，。？?]{0,6}?(?:什么|多高的?|哪个)标准"
        r"|几比几",
        r"\d|[一二三四五六七八九十两百千万亿]+(?:个|项|家|种|倍|年|万|亿|吨|%|公里)|百分之"),
    # A sum of money ("能补贴多少钱", "给多少建设补助"): a count ("达到20家") or a share does not give it.
    AnswerKind.of(
        "amount", "具体金额",
        r"多少[^，。？?]{0,4}(?:钱|资金|经费|补贴|补助|奖金|费用?|租金)"
        r"|(?:补贴|补助|奖金|经费|费用?|租金|电价)[^，。？?]{0,8}多少(?!比例)",
        r"\d[\d.,]*\s*[万亿]?元|[一二三四五六七八九十百千万亿两]+[万亿]?元", narrows="figure"),
    # How to apply, register or file, and with what papers.
    AnswerKind.of(
        "procedure", "办理流程或所需材料",
        r"(?:怎么|如何|怎样|咋)(?:申请|申报|申领|办理|办(?![？?，,。！!呢啊吧]|$)|审批|报批|报名|备案|登记|参保|认定"
        r"|领取|提取)"
        r"|(?:申请|申报|办理|审批|报名|备案|登记|认定|并网|参保)的?\s*(?:流程|程序|手续|步骤|途径)"
        r"|走(?:什么|哪些)(?:流程|程序|手续)|(?:哪些|什么|啥)(?:申请|申报|报批|办理)?(?:材料|证照|证件|手续)|[办持考领](?:哪些|什么|哪种)证"
        # The steps of a named process ("交易流程是怎样的"); not 手续 ("手续要怎么走"): the rule to follow answers it.
        r"|(?:流程|程序|步骤)(?:是|有|要|该)?(?:怎样|怎么|如何|什么|哪些|啥)"
        r"|(?:需不需要|要不要|用不用|是否需要)(?:办|申请|持|领)[^，。？?]{0,8}(?:证|许可)",
        r"提交|受理|程序|流程|手续|材料|窗口|许可证|持证|证书"),
    # Which office is in charge or where to go. The question's own 部门/政府/牵头 in a sentence name who does
    # it ("市县两级人民政府可…统筹安排资金" answers "哪一级政府…").
    AnswerKind.of(
        "agency", "负责或受理的部门",
        r"(?:哪个|哪些|什么|哪一?级)(?:部门|单位|机构|机关|政府)|谁(?:来)?(?:负责|牵头|管|主管|审批|受理|组织|认定|验收)"
        r"|找谁|归谁|向(?:哪里|哪儿|谁)|[到去在](?:哪里|哪儿)(?:办|申请|申报|举报)|(?:主管|受理|审批|牵头)(?:部门|单位|机关)",
        r"[厅局]|委员会|[省市县]委|部门|政府|机构|牵头|负责", own_words=True),
    # Who qualifies: conditions, thresholds, criteria.
    AnswerKind.of(
        "conditions", "具体条件或资格要求",
        r"(?:什么|哪些|啥|哪几项?)(?:条件|资格|资质|门槛)|(?:满足|达到|符合|具备)(?:什么|哪些|啥|哪几项?|怎样的?)[^，。？?]{0,6}(?:条件|标准|资格|资质)"
        r"|(?:申报|申请|办理|准入|认定|评定|评价|评选|入选|验收|享受)的?\s*(?:条件|资格|标准)|按什么标准",
        r"条件|资格|资质|具备|不低于|不少于|门槛"),
    # How a price, share or score is worked out ("起始价是怎么定的", "收益怎么分", "方案比选按什么打分"): a sentence
    # that names the mechanism ("探索分段设置保证金") does not say how its figures are set.
    AnswerKind.of(
        "method", "具体的确定或计算办法",
        r"(?:怎么|如何|怎样|咋)(?:确定|定|计算|核定|分配|分|打分|评分)(?:的|出来)?(?=[？?，,。；\s]|$)"
        r"|按什么(?:方法|办法|公式|标准)?(?:打分|评分|计算|确定|分配)",
        r"确定|核定|计算|公式|评分|打分|权重|系数|(?:按照?|依照?|根据)[^，。；]{1,16}(?:方式|办法|比例|标准)"),
    # Which city or county ("设在哪个城市", "包括哪些市县", "分别在哪几个地方"): a sentence that names one (GB/T 2260;
    # rag/mentions.py PlaceFinder). Not "哪些地方提到…", which asks where in the documents.
    AnswerKind.of(
        "place", "具体的城市或地点",
        r"(?:哪个|哪些|哪几个)(?:城市|市州|市县|区县|市|县|州)"
        r"|(?:设|建|落户|布局|选址|定|放)在(?:哪个|哪些|哪几个)?(?:城市|地方|市|县|州|里|儿|哪)"
        r"|(?:分别)?在哪(?:几个|些)(?:地方|城市)|分别在哪",
        PlaceFinder()),
    # Which companies ("具体是哪几家公司", "企业名单"): the documents speak of kinds of 企业; a sentence that names
    # none ("攀钢集团", "…有限公司") does not say which. Not "企业集团", "大集团", "产业集团": kinds again.
    AnswerKind.of(
        "company", "具体的企业名单",
        r"名单|哪(?:几|一)家(?:公司|企业|单位|厂)?|哪些(?:公司|厂家|厂商)|是哪(?:几|些)家"
        r"|哪些[^，。？?]{0,8}(?:企业|公司|单位)(?:入选|获批|上榜|被认定|被评为|中标)",
        r"公司|(?<![大业])集团(?!化)"),
    # A specific benefit: a subsidy, an award, a tax break. Asked for only when nothing more specific is
    # (a figure, a procedure…): "能补贴多少钱" needs the figure, not just a sentence that names a 补贴.
    AnswerKind.of(
        "benefit", "具体的补贴、奖励或税收优惠",
        r"税收优惠|税收减免|减免|免征|退税|补贴|补助|奖补|贴息|奖金|安家费|救助|救济|抚恤|津贴"
        r"|(?:有|给|发)(?:什么|哪些|多少)?奖励",
        r"补贴|补助|奖补|奖励|奖金|贴息|优惠|减免|免征|退税|补偿|专项资金|资金支持|安家费|救助|救济|抚恤|津贴",
        own_words=True, fallback=True),
)
# "按照…规定办理相关手续", "依法依规…", "对符合条件的企业…": the sentence defers to rules or conditions it
# does not state, so it gives no procedure, office or condition of its own.
_DEFERRAL = re.compile(r"(?:按照?|依照?|依据|根据|依法)[^，。；]{0,12}?(?:规定|依规)[^，。；]{0,8}"
                       r"|符合(?:相关|有关|一定)?(?:条件|要求|规定|标准)")
# "符合准入条件的企业有多少家", "多少家企业符合准入条件": conditions that qualify, not conditions asked for
# ("要满足哪些条件" keeps its question word and stays a question).
_QUALIFIED = re.compile(r"(?:符合|满足|达到|具备)(?:(?!什么|哪|啥|怎)[^，。？?]){0,20}?(?:条件|标准|要求|资格|资质)")
# "几个/几种" in a clause that a comma or a full stop ends is "a few" ("队里几个技术骨干琢磨出…，能分到一份吗？",
# "想去摸一摸几种紧缺矿的家底，政策上允许吗？"); the clause that asks ends the question or its question mark
# ("截至2020年底，建成了几个国家级平台？", "几个工作日能批下来？").
_A_FEW = re.compile(r"(?<!哪)几[^，,。；;？?！!]*[，,。；;]")
# A question that asks what several documents say: "两份文件分别怎么说", "若干意见和指南各有什么要求".
_ACROSS = re.compile(r"两份|两个文件|两个政策|这两个|分别|各自|各有|各是")
# Words that only say what kind of answer is wanted; they are no part of the topic.
_ANSWER_WORDS = frozenset(
    "多少 多大 多长 多久 几 百分之几 哪年 何时 时候 具体 分别 大概 主要 最高 最多 最低 一共"
    " 哪个 哪几个 哪些 城市 市 县 州 市县 市州 名单 哪家 哪几家".split())


@dataclass(frozen=True)
class AnswerParams:
    """Abstention and citation settings (calibrated on the QA set's dev split; see evaluation/tune.py)."""

    # Chosen on the dev split with the retrieval that ships (evaluation/tune.py; figures in the README).
    min_coverage: float = 0.30      # abstain when the best clauses hold less of the question's topic…
    min_dense: float = 0.870        # …and are not this close in meaning either
    kind_support: float = 0.7       # a sentence that carries the asked kind of answer must be this close to the best
    secondary_ratio: float = 0.85   # cite a further clause when its support is this close to the best…
    # …and its fused retrieval score this close to the first's (a share of it: the fused score runs from the
    # weakest candidate, 0, to the first). Chosen on dev (evaluation/tune.py citation_grid).
    secondary_score: float = 0.70
    max_citations: int = 3


@dataclass(frozen=True)
class Evidence:
    """Why the composer answered or abstained; shown in --json output and used in calibration."""

    coverage: float          # share of the question's topic weight in the best of the top clauses
    dense: float             # best dense cosine among the top clauses
    routed: bool             # the question named a clause by number
    asks: tuple[str, ...]    # the kinds of answer the question asks for (KINDS), if any
    sentence_support: float  # coverage of the best single sentence
    kind_support: tuple[float, ...]  # per kind asked (asks): coverage of the best sentence that carries it
    numbers_found: bool      # every number in the question occurs in a top clause
    unmentioned: tuple[str, ...] = ()  # kinds or places the question names that the documents never mention


@dataclass(frozen=True)
class Answer:
    """An answer with its citations. citations[i] is marker [i+1]."""

    question: str
    text: str
    citations: tuple[Hit, ...]
    abstained: bool
    related: tuple[Hit, ...] = ()
    evidence: Evidence | None = None
    notes: tuple[str, ...] = ()
    mode: str = "extractive"
    resolved_question: str = ""
    quotes: tuple[tuple[str, ...], ...] = field(default=())  # sentences quoted per citation
    retrieved: tuple[Hit, ...] = ()   # everything retrieval returned; citations are drawn only from these


class Weights:
    """IDF of BM25 tokens over the indexed chunks, and token sets of clauses (cached)."""

    def __init__(self, index: ClauseIndex) -> None:
        self.index = index
        bm = index.bm25
        df = np.diff(np.asarray(bm.scores["indptr"]))
        n = int(bm.scores["num_docs"])
        self._idf = {tok: math.log(1 + n / (df[i] + 0.5)) for tok, i in bm.vocab_dict.items() if i < len(df)}
        self._unknown = math.log(1 + n / 0.5)
        self._tokens: dict[str, frozenset[str]] = {}
        # Every clause's text and headings, for asking whether the documents use a word at all.
        self.corpus_text = "\n".join(_with_headings(c) for c in index.clauses)
        self.titles = tuple(d.title for d in index.corpus.documents)
        # What a question may call the documents themselves (their titles, short titles, 文号).
        self.names = tuple(n for d in index.corpus.documents for n in document_names(d) if n)

    def idf(self, token: str) -> float:
        """IDF of a token; the largest value for a word the corpus never uses."""
        return self._idf.get(token, self._unknown)

    def terms(self, question: str) -> list[str]:
        """The question's topic words: jieba words without function words, answer-type words or
        single characters that are no noun (tokenize.topic_word). A word the corpus never uses that jieba's
        dictionary knows only as a function word (里面, 那边, 其实: tokenize.function_word) is dropped too:
        it would weigh as much as a missing term and cannot name one."""
        return [w for w in self.index.tokenizer.words(question) if w not in STOPWORDS and w not in _ANSWER_WORDS
                and re.search(r"[\u4e00-\u9fff\w]", w) and topic_word(w)
                and (w in self._idf or not function_word(w))]

    def tokens(self, text: str) -> frozenset[str]:
        """BM25 tokens of a clause's text or one of its sentences, cached: the corpus holds finitely many,
        and every answer would otherwise cut the same sentences with jieba again (about 4 ms)."""
        found = self._tokens.get(text)
        if found is None:
            found = self._tokens[text] = frozenset(self.index.tokenizer.tokens(text))
        return found

    def clause_tokens(self, hit: Hit) -> frozenset[str]:
        """The BM25 tokens of a clause's text with its headings."""
        return self.tokens(_with_headings(hit.clause))

    def coverage(self, terms: Sequence[str], tokens: frozenset[str]) -> float:
        """Share of the terms' IDF weight found in `tokens`: a term, or a word the lexicon says it stands for
        (水电 in a sentence that says 水能; rag/lexicon.py)."""
        unique = set(terms)
        total = sum(self.idf(t) for t in unique)
        lexicon = self.index.vocab.lexicon
        found = (t for t in unique if t in tokens or not lexicon.equivalents(t).isdisjoint(tokens))
        return sum(self.idf(t) for t in found) / total if total else 0.0


def _with_headings(clause: Clause) -> str:
    """A clause's headings and text, as coverage reads a clause."""
    return " ".join(clause.path) + " " + clause.text


def evidence(question: str, hits: Sequence[Hit], weights: Weights, terms: Sequence[str] | None = None) -> Evidence:
    """The abstention signals for a question and its hits (`terms`: weights.terms(question), if already known)."""
    if not hits:
        return Evidence(0.0, 0.0, False, (), 0.0, (), False)
    terms = weights.terms(question) if terms is None else terms
    top = hits[:3]
    cov = max(weights.coverage(terms, weights.clause_tokens(h)) for h in top)
    sentences = [(" ".join(h.clause.path), sent) for h in top for sent in _sentences(h.clause.text)]
    asked = asked_kinds(question)
    support = [(weights.coverage(terms, weights.tokens(path + " " + sent)), sent) for path, sent in sentences]
    numbers = [n.lower() for n in _NUMBER.findall(without_document_names(question, weights.index.corpus.documents))]
    return Evidence(
        coverage=round(cov, 4), dense=round(max(h.dense for h in top), 4), routed=hits[0].via == "clause-number",
        asks=tuple(k.name for k in asked),
        sentence_support=round(max((c for c, _ in support), default=0.0), 4),
        kind_support=tuple(round(max((c for c, sent in support if carries((k,), sent, terms)), default=0.0), 4)
                           for k in asked),
        numbers_found=all(any(n in fold_subscripts(h.clause.text).lower() for h in top) for n in numbers),
        unmentioned=unmentioned(question, weights.index.tokenizer, weights.titles, weights.corpus_text,
                                weights.names, weights.index.vocab.lexicon),
    )


def asked_kinds(question: str) -> tuple[AnswerKind, ...]:
    """The kinds of answer (KINDS) a question asks for."""
    question = _A_FEW.sub(lambda m: m.group().replace("几", "些"), _QUALIFIED.sub("", question))
    asked = tuple(k for k in KINDS if k.asked.search(question))
    narrowed = {k.narrows for k in asked}
    asked = tuple(k for k in asked if k.name not in narrowed)
    specific = tuple(k for k in asked if not k.fallback)
    return specific or asked


def _named_kinds(names: Sequence[str]) -> tuple[AnswerKind, ...]:
    """The KINDS an Evidence names (it keeps names, which go into --json output)."""
    return tuple(k for k in KINDS if k.name in names)


def carries(kinds: Sequence[AnswerKind], sentence: str, terms: Sequence[str]) -> bool:
    """Whether a sentence gives one of the kinds of answer, by words other than the question's own terms.

    "要交哪些材料" is not answered by the 新材料 of "钒钛新材料", nor "怎么办理登记" by the 登记 it names,
    nor by a sentence that defers to other rules ("按规定办理相关手续").
    """
    if not kinds:
        return False
    own = _DEFERRAL.sub("|", sentence)
    rest = own
    for term in sorted({t for t in terms if len(t) > 1}, key=len, reverse=True):
        rest = rest.replace(term, "|")
    return any(k.carried.search(own if k.own_words else rest) for k in kinds)


def should_abstain(ev: Evidence, params: AnswerParams) -> bool:
    """True when the documents do not appear to answer the question (see abstention_reason)."""
    return bool(abstention_reason(ev, params))


def abstention_reason(ev: Evidence, params: AnswerParams) -> str:
    """Why the documents do not appear to answer the question: "unmentioned", "number", "kind", "topic"; ""
    if they do.

    - the question names a kind of thing (石墨矿, 电解铝企业), a company (攀钢集团), a province outside the documents'
      own or one of its cities (内蒙古, 包头), or another document or programme by name (《…条例》, “钒钛英才计划”),
      that the documents never mention (rag/mentions.py);
    - the question names a figure, a year (2030) or a plan period ("十五五") that none of the best clauses contains;
    - it asks for kinds of answer (a figure or date, a procedure, an office, conditions, a method, a place, the
      companies, a subsidy;
      KINDS), and for one of them no sentence that carries it matches the question's topic nearly as well as the best
      sentence does, or holds even the minimum share of its topic asked of any answer (the documents speak
      of the topic but do not give what is asked: lacking_kinds);
    - the best clauses hold little of its topic and are not close in meaning either.
    """
    if ev.routed:
        return ""
    if ev.unmentioned:
        return "unmentioned"
    if not ev.numbers_found:
        return "number"
    if lacking_kinds(ev, params):
        return "kind"
    return "topic" if ev.coverage < params.min_coverage and ev.dense < params.min_dense else ""


def lacking_kinds(ev: Evidence, params: AnswerParams) -> tuple[str, ...]:
    """The kinds asked for that no sentence on the topic gives. Each must be given: "基金规模有多大？找哪个部门
    申请？" is not answered by a sentence that names a 政府 and no figure."""
    floor = max(params.kind_support * ev.sentence_support, params.min_coverage)
    return tuple(name for name, support in zip(ev.asks, ev.kind_support, strict=True)
                 if ev.sentence_support == 0 or support < floor)


def compose_answer(question: str, hits: Sequence[Hit], weights: Weights,
                   params: AnswerParams | None = None) -> Answer:
    """The extractive answer (or abstention) for a question and its retrieved clauses."""
    p = params or AnswerParams()
    q_tokens = weights.terms(question)
    ev = evidence(question, hits, weights, q_tokens)
    ref = parse_reference(question, weights.index.corpus.documents)
    # A clause number the documents do not have ("若干意见第十九条"): say so, never quote another clause for it.
    # (When the router found the clause there is nothing to look up again.)
    gap = missing(ref, weights.index.corpus.documents) if ref and not ev.routed else ""
    if gap and not (ref and weights.terms(ref.rest)):
        return _abstain(question, hits, ev, "missing", gap)
    reason = abstention_reason(ev, p) if hits else "topic"
    if reason:
        return _abstain(question, hits, ev, reason, gap, lacking_kinds(ev, p))
    if ev.routed and ref:
        routed = _routed_answer(question, ref, hits, ev, p, weights)
        # Of several addresses ("（十五）和（十九）") the router found some: say which it did not.
        absent = missing(ref, weights.index.corpus.documents) if ref.siblings else ""
        return replace(routed, notes=(f"{absent}。",)) if absent else routed
    asked = _named_kinds(ev.asks)
    cited_idx = _cited(question, hits, q_tokens, weights, p, asked)
    lines: list[str] = []
    cited: list[Hit] = []
    quotes: list[tuple[str, ...]] = []
    for n, i in enumerate(cited_idx, start=1):
        h = hits[i]
        # Two sentences from the first clause cited, and from the best-ranked one when the first is another
        # (_first_cited): it holds the topic best. One from each further clause.
        picked = _pick_sentences(h, q_tokens, weights, asked, 2 if n == 1 or i == 0 else 1)
        cited.append(h)
        quotes.append(tuple(picked))
        where = h.clause.part_citation(_part_holding(h.clause, picked))
        lead = f"根据{where}" if n == 1 else f"此外，{where}提出"
        lines.append(f"{lead}：{''.join(picked)}[{n}]")
    # A question may ask for two things (哪个部门…哪些材料) and the clauses give one: say which is missing.
    not_given = [k.label for k in asked if not any(carries((k,), s, q_tokens) for q in quotes for s in q)]
    notes = ((f"{gap}，以下按问题的其余内容回答。",) if gap else ()) + (
        (f"所引条款没有给出{'或'.join(not_given)}。",) if not_given else ())
    return Answer(question, "\n".join(lines), tuple(cited), False, evidence=ev, notes=notes, quotes=tuple(quotes))


def _cited(question: str, hits: Sequence[Hit], terms: Sequence[str], weights: Weights, p: AnswerParams,
           asked: Sequence[AnswerKind]) -> list[int]:
    """Positions in `hits` of the clauses to cite: the first, then each further clause that holds about as much of
    the question's topic and ranks close to the first; a question across documents also gets each other document's
    best clause that holds its topic. The first is the best of the document the question names that gives what it
    asks for (`asked`, _first_cited)."""
    support = [weights.coverage(terms, weights.clause_tokens(h)) for h in hits]
    best = max(support[0], 1e-9)
    named = mentioned_documents(question, weights.index.corpus.documents)
    across = _ACROSS.search(question) is not None or len(named) > 1
    cited = [0]
    for i in range(1, min(len(hits), 5)):
        if len(cited) >= p.max_citations or not (support[i] >= p.secondary_ratio * best and support[i] > 0):
            continue
        other_doc = across and all(hits[j].clause.doc_id != hits[i].clause.doc_id for j in cited)
        if other_doc or hits[i].score >= p.secondary_score * hits[0].score:
            cited.append(i)
    first = _first_cited(hits, terms, weights, p, asked, named[0].doc_id if len(named) == 1 and not across else "")
    return [first, *(i for i in cited if i != first)][: max(p.max_citations, 1)]


def _first_cited(hits: Sequence[Hit], terms: Sequence[str], weights: Weights, p: AnswerParams,
                 kinds: Sequence[AnswerKind], doc_id: str) -> int:
    """The position of the clause to cite first, among the top three hits: of the one document a question names
    (`doc_id`; "" when it names none or asks across documents), its best clause ("想知道《若干意见》对这种矿有哪些具体
    安排" is not answered first by the guide); and of those, the best that gives a kind of answer asked for (`kinds`:
    a figure, an office…), if the first does not. "四川的电力里水电大概占多大比重" ranks the clause on 电力体制改革
    first, with no figure; the one that says 水能资源约占78% comes second. A sentence gives the kind when it carries
    it (carries) and holds the minimum share of the topic asked of any answer, the floor that abstention's kind rule
    uses too (lacking_kinds)."""
    window = list(range(min(len(hits), 3)))
    if doc_id:
        window = [i for i in window if hits[i].clause.doc_id == doc_id] or window
    if not kinds:
        return window[0]

    def gives(hit: Hit) -> bool:
        path = " ".join(hit.clause.path)
        return any(carries(kinds, sent, terms)
                   and weights.coverage(terms, weights.tokens(f"{path} {sent}")) >= p.min_coverage
                   for sent in _sentences(hit.clause.text))

    return next((i for i in window if gives(hits[i])), window[0])


def _routed_answer(question: str, ref: Reference, hits: Sequence[Hit], ev: Evidence, p: AnswerParams,
                   weights: Weights) -> Answer:
    """A question that names clauses by number: quote the named clause whole, or the opening of each
    when the number names several (a 章 or a bare "（二）"), marked "……" where cut. A question that
    also names a topic ("第三章第二节（二）钒电池") gets the sentences of the one named clause on it."""
    named = [h for h in hits if h.via == "clause-number"]
    topic = weights.terms(ref.rest) if ref.rest else []
    # A detail inside the one named clause: the clause holds most of the topic ("要点" or a 文号 is none)
    # and its headings do not (a question on what the clause is about, "（十一）讲的投入机制", gets it whole).
    h = named[0]
    if (len(named) == 1 and h.part is None and topic
            and weights.coverage(topic, weights.tokens(h.clause.text)) >= 0.5
            and weights.coverage(topic, weights.tokens(" ".join(h.clause.path))) == 0):
        # Every sentence of the clause on that topic, in order.
        picked = [s for s in _sentences(h.clause.text) if weights.coverage(topic, weights.tokens(s)) > 0]
        if picked:
            where = h.clause.part_citation(_part_holding(h.clause, picked))
            return Answer(question, f"根据{where}：{''.join(picked)}[1]", (h,), False, evidence=ev,
                          quotes=(tuple(picked),))
    cited = named[: max(p.max_citations, 1)]
    keep = None if len(named) == 1 else 2
    texts = [h.clause.part_text(h.part) for h in cited]
    quotes = [tuple(_sentences(t)[:keep]) for t in texts]
    lines = [f"{h.clause.part_citation(h.part)}的内容如下[{i}]："
             f"{''.join(q)}{'……' if len(q) < len(_sentences(t)) else ''}"
             for i, (h, q, t) in enumerate(zip(cited, quotes, texts, strict=True), 1)]
    if len(named) > len(cited):
        lines.append(f"（另有{len(named) - len(cited)}个条款符合该编号，见检索结果。）")
    return Answer(question, "\n".join(lines), tuple(cited), False, evidence=ev, quotes=tuple(quotes))


def _abstain(question: str, hits: Sequence[Hit], ev: Evidence, reason: str, gap: str = "",
             lacking: Sequence[str] = ()) -> Answer:
    if reason == "missing":
        text = f"{gap}，无法给出该条款的内容。"
    elif reason == "kind":
        labels = "、".join(k.label for k in _named_kinds(lacking))
        text = f"现有文件中没有找到关于这个问题的规定：相关条款涉及这一话题，但没有给出{labels}，无法给出有依据的答案。"
    elif reason == "unmentioned":
        named = "、".join(k if k.startswith("《") else f"“{k}”" for k in ev.unmentioned)
        text = f"现有文件中没有找到关于这个问题的规定：文件中没有提到{named}。"
    elif reason == "number":
        text = ("现有文件中没有找到关于这个问题的规定：相关条款中没有出现问题里的数字或时期（如年份、“十五五”），"
                "无法给出有依据的答案。")
    else:
        text = "现有文件中没有找到关于这个问题的规定，无法给出有依据的答案。"
    if gap and reason != "missing":
        text += f"（另：{gap}。）"
    related = tuple(hits[:3])
    if related:
        text += "\n可能相关（仅供参考，并非对问题的回答）：" + "；".join(h.clause.citation for h in related)
    return Answer(question, text, (), True, related=related, evidence=ev)


def _part_holding(clause: Clause, quoted: Sequence[str]) -> SubUnit | None:
    """The innermost 款/项/一是 of a clause that holds every quoted sentence: the pinpoint citation."""
    spans = [(i, i + len(s)) for s in quoted if (i := clause.text.find(s)) >= 0]
    if not spans or len(spans) < len(quoted):
        return None
    return clause.part_at(min(a for a, _ in spans), max(b for _, b in spans))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _pick_sentences(hit: Hit, q_tokens: Sequence[str], weights: Weights, asked: Sequence[AnswerKind],
                    n: int) -> list[str]:
    """The n sentences of a clause that best answer the question, in their original order."""
    sentences = _sentences(hit.clause.text)
    if len(sentences) > 1 and hit.clause.title and sentences[0].rstrip("。").endswith(hit.clause.title):
        body = sentences[1:]  # "（二）做大做精钒钛产业。" is the item's title, not an answer
    else:
        body = sentences
    scored = []
    for pos, s in enumerate(body):
        cov = weights.coverage(q_tokens, weights.tokens(s))
        bonus = 0.3 if carries(asked, s, q_tokens) else 0.0
        scored.append((cov + bonus - 0.01 * pos, pos))
    keep = sorted(pos for _, pos in sorted(scored, reverse=True)[:n])
    return [body[i] for i in keep] or sentences[:1]
