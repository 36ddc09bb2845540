"""Kinds of things a question names that the documents never mention (石墨矿, 电解铝企业, 水泥厂), and provinces
outside the documents' own and their cities (内蒙古, 包头, when every document is Sichuan's).

Industrial and mining policy speaks of kinds of things: 稀土矿, 钒钛产业, 钢铁企业, 钛白粉项目. A question about
a kind the documents never name ("在四川开采石墨矿有什么扶持政策？", "电解铝企业能享受…电力支持吗？") is not
answered by their clauses on other kinds, however close those are in meaning: e5-small puts 石墨 as near the
corpus as the colloquial words of questions the documents do answer (电费, 钢厂), and its words weigh no more
in coverage than any other unknown word. What marks it is its place: the word before a category head
(CATEGORY_HEADS), a noun that appears nowhere in the documents, whose own head does not appear either (锂电池
ends in 电池, which the documents have in 钒电池; 电解铝 ends in nothing they have), or such a noun among the nouns
before that word (林业 in 林业碳汇项目, whose 碳 and 汇 the documents have), or such a noun coordinated with the
phrase before the head (多晶硅 in 多晶硅、光伏硅料产业: kinds joined by 、 share the head). Place names are no
kind (a province's policy covers its cities whether it names them or not).

A chemical element is a kind too, named by one character (ELEMENTS): a mining or materials policy names the
elements it covers (钒, 钛, 锂, 稀土's 镧 or 铈 when it goes into detail), and a question on one it never writes
anywhere ("铌、钽这类稀有金属…", "镨钕氧化物…", "硅锰合金…") is outside it, whatever word jieba makes of it.

A question may also cite a document or a programme by name: 《四川省战略性矿产资源储备条例》, “钒钛英才计划”. One that
is not among the documents and that they never write is outside them (unmentioned_names).

A province is another matter: a province's policy does not cover another province. When every document's title
names a province (四川省…), a question about a province that no title names and no clause mentions ("内蒙古包头
那边对稀土企业有哪些扶持措施") is outside them, however close their clauses on 稀土企业 are. So is a city of such a
province ("包头的稀土企业…"; GB/T 2260's prefectures, from the gb2260 package, tell which province a city is in).
A city of the documents' own province is covered whether they name it or not. A document whose title names no
province (a State Council policy) covers them all, and the rule is off.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from gb2260.data import data as gb2260_data

from .citations import pairs_share
from .lexicon import Lexicon
from .tokenize import STOPWORDS, Tokenizer, word_tag

# Words that name a category of which industrial policy lists kinds (X矿, X产业, X企业, X砂, X保险 …), and the work
# done on a resource, which a kind is named before as often (X勘查, X开采, X综合利用: 地热开发, 磷石膏综合利用). Not
# 利用 or 回收 alone: they follow everyday words as often ("废铁回收" for the documents' 废钢).
WORK_HEADS = frozenset("勘查 勘探 开发 开采 综合利用".split())
CATEGORY_HEADS = tuple(sorted(
    "矿 矿产 矿山 产业 企业 项目 行业 材料 产品 厂 资源 集群 基地 园区 砂 保险".split() + list(WORK_HEADS),
    key=len, reverse=True))
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_COMPANY_HEADS = frozenset({"集团", "公司"})
_NOT_A_NAME = re.compile(r"[我你他她它咱这那哪几某各每本该其此]")
# The chemical elements' one-character names, less those that also write everyday words a question may use without
# meaning the element (金 资金, 银 银行, 铁 地铁, 铜 铜仁, 锡 无锡, 铅 铅笔) and the non-metals that name processes,
# compounds and concepts as often as elements (氢 氢能, 碳 低碳, 氧 氧化, 氮, 氟, 氯, 硫, 磷, 碘).
ELEMENTS = frozenset(
    "氦锂铍硼氖钠镁铝硅氩钾钙钪钛钒铬锰钴镍锌镓锗砷硒溴氪铷锶钇锆铌钼锝钌铑钯镉铟锑碲氙铯钡镧铈镨钕钷钐铕钆铽镝"
    "钬铒铥镱镥铪钽钨铼锇铱铂汞铊铋钋砹氡钫镭锕钍镤铀镎钚镅锔锫锎锿镄钔锘铹")
# The 34 provincial-level divisions, by the short names questions use.
PROVINCES = tuple(
    "北京 天津 河北 山西 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 广西 海南 重庆 "
    "四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 香港 澳门 台湾".split())
_DIVISION = re.compile(r"(?:省|市|(?:壮族|回族|维吾尔)?自治区|特别行政区)$")
# A prefecture's name less its suffix and the peoples an autonomous prefecture names (西双版纳傣族自治州 -> 西双版纳).
_ELEMENT_RUN = re.compile(f"[{''.join(sorted(ELEMENTS))}]+")
# A question on the role a place is given: "…布局里是什么定位", "给泸州派了什么任务", "承担哪些分工".
_ROLE = re.compile(r"定位|布局|分工|角色|方向|(?:派|分配|安排)了?(?:什么|哪些|啥)?任务|承担(?:什么|哪些|啥)")
_PREFECTURE = re.compile(r"(?:市|地区|盟|(?:(?:哈尼|景颇|傈僳|朝鲜|布依|土家|蒙古|柯尔克孜|哈萨克"
                         r"|[彝壮苗回傣藏白羌侗])族?)+自治州)$")


def unmentioned(question: str, tokenizer: Tokenizer, titles: Sequence[str], corpus_text: str,
                names: Sequence[str] = (), lexicon: Lexicon | None = None) -> tuple[str, ...]:
    """The kinds, places (unmentioned_places), quoted names (unmentioned_names; `names`: what a question may call
    the documents themselves) and search keywords (unmentioned_keywords) the question names that the documents never
    mention, the question cut once."""
    words = tokenizer.words(question)
    quoted = unmentioned_names(question, tokenizer, names or titles, corpus_text)
    kinds = unmentioned_kinds(words, tokenizer, corpus_text) + unmentioned_companies(words, corpus_text)
    elements = tuple(e for e in unmentioned_elements(question, corpus_text) if not any(e in k for k in kinds))
    found = kinds + elements + unmentioned_places(words, titles, corpus_text)
    found += tuple(k for k in unmentioned_keywords(question, corpus_text, lexicon or Lexicon())
                   if not any(k in f or f in k for f in found))
    return quoted + tuple(f for f in found if not any(f in q for q in quoted))


# jieba's tags of the nouns a keyword may be: common, personal and other proper nouns, organisations, abbreviations
# (not place names, which unmentioned_places judges, nor verbal nouns: 出口, 建设).
_NOUN_KEYWORD = re.compile(r"n[rtz]?|j")


def unmentioned_keywords(question: str, corpus_text: str, lexicon: Lexicon) -> tuple[str, ...]:
    """The keywords of a keyword query ("地热 矿泉水 采矿权 办理": two or more runs of Chinese characters between
    spaces) that are nouns of jieba's dictionary the documents never write and the lexicon gives no word of theirs
    for. Each keyword of such a query names something the user looks for; a question in a sentence is another matter,
    since its everyday nouns (厂子, 技工) stand for the documents' words. A keyword no dictionary knows (产能布局,
    僵尸矿山) is a phrase of the user's making, not a thing, and is left to coverage."""
    parts = question.split()
    if len(parts) < 2 or not all(_CJK.match(p) for p in parts):
        return ()
    return tuple(dict.fromkeys(
        p for p in parts if len(p) > 1 and p not in STOPWORDS and p not in corpus_text
        and _NOUN_KEYWORD.fullmatch(word_tag(p)) and not lexicon.equivalents(p)))


# A document's title in 《》, or a name in quotation marks (“钒钛英才计划”).
_TITLE = re.compile(r"《([^《》]{2,60})》")
_QUOTED = re.compile(r"“([^“”]{2,30})”|「([^「」]{2,30})」|\"([^\"]{2,30})\"")


def unmentioned_names(question: str, tokenizer: Tokenizer, names: Sequence[str], corpus_text: str) -> tuple[str, ...]:
    """The documents (in 《》) and the quoted names a question cites that the documents never mention.

    A title in 《》 that is none of the documents' own and that no clause quotes (《长江经济带发展负面清单》) is
    another document: what it says is not in these ("《四川省战略性矿产资源储备条例》对储备矿产地的划定有哪些规定").
    `names` are the documents' titles, short titles and 文号; a title that holds one (《…指南》) or most of one's
    character pairs (a title written loosely) is theirs. A name in quotation marks is the documents' own when they
    write it; one they do not that names a programme, policy or scheme (_PROGRAMME) with a word they never use
    (“钒钛英才计划”: 英才) names one they do not have. A quote in their words only (“订单式调查” for their “订单式”
    地质调查) is not taken for another.
    """
    found = []
    for m in _TITLE.finditer(question):
        title = m.group(1).strip()
        theirs = any(n and (n in title or pairs_share(title, n) >= _SAME_NAME) for n in names)
        if title not in corpus_text and not theirs:
            found.append(m.group(0))
    for m in _QUOTED.finditer(question):
        quoted = next(g for g in m.groups() if g).strip()
        if quoted in corpus_text or not _HAN.search(quoted) or any(n and (quoted in n or n in quoted) for n in names):
            continue
        if _PROGRAMME.search(quoted) and any(len(w) > 1 and w not in STOPWORDS and w not in corpus_text
                                             for w in tokenizer.words(quoted)):
            found.append(quoted)
    return tuple(dict.fromkeys(found))


# What names a programme, policy or scheme (“钒钛英才计划”, “绿色矿山奖补办法”): quotation marks around other words
# are often the asker's own ("我们这种“小散乱”企业"), not a name to look up.
_PROGRAMME = re.compile(r"(?:计划|工程|行动|机制|模式|政策|条例|办法|方案|规划|专项|基金|平台|制度|试点"
                        r"|项目|示范|战略|体系|标准|目录|清单|名录|改革|奖)$")
_SAME_NAME = 0.5  # share of a name's character pairs a text must hold to be taken for writing that name


def unmentioned_companies(words: Sequence[str], corpus_text: str) -> tuple[str, ...]:
    """The companies a question names by a name before 集团 or 公司 ("攀钢集团") that the documents never use. jieba's
    tags do not help here (攀钢 is a verb to it), so the name only has to be two or more characters the documents lack,
    and no pronoun or quantifier: "我们公司", "哪几家公司", "小公司" name no company. A name jieba cuts into single
    characters (宝 / 武 / 集团, 龙 / 佰 / 集团) is read whole, back to the first preposition, pronoun or particle."""
    found = []
    for i, w in enumerate(words):
        if w not in _COMPANY_HEADS or not i:
            continue
        name = words[i - 1]
        if len(name) == 1:
            j = i - 1
            while j > 0 and len(words[j - 1]) == 1 and _name_character(words[j - 1]):
                j -= 1
            name = "".join(words[j:i]) if all(_name_character(c) for c in words[j:i]) else ""
        if (_CJK.match(name) and len(name) >= 2 and name not in STOPWORDS and not _NOT_A_NAME.search(name)
                and name not in corpus_text):
            found.append(name + w)
    return tuple(dict.fromkeys(found))


def _name_character(word: str) -> bool:
    """Whether a one-character word may be part of a name jieba cut apart: no preposition, conjunction, particle,
    pronoun, adverb, classifier, locative or adjective (对, 和, 的, 这, 都, 家, 里, 大)."""
    return bool(_CJK.match(word)) and word not in STOPWORDS and not word_tag(word).startswith(
        ("p", "c", "u", "r", "d", "q", "f", "a"))


def unmentioned_elements(question: str, corpus_text: str) -> tuple[str, ...]:
    """The chemical elements (ELEMENTS) the question names that the documents never write, in order, each once; a run
    of element names written together (镨钕, 硅锰) is named whole when one of them is missing."""
    return tuple(dict.fromkeys(m.group() for m in _ELEMENT_RUN.finditer(question)
                               if any(c not in corpus_text for c in m.group())))


def unmentioned_kinds(words: Sequence[str], tokenizer: Tokenizer, corpus_text: str) -> tuple[str, ...]:
    """The kinds a question (its jieba `words`) names ("石墨矿") whose distinguishing word the documents
    (`corpus_text`: every clause's text and headings) never use; () when it names none."""
    found: list[str] = []
    for i, w in enumerate(words):
        # `at`: the position of the word that holds the modifier.
        if w in CATEGORY_HEADS:                      # 石墨 / 矿, 电解铝 / 企业
            at = _modifier_at(words, i)
            modifier, head = (words[at] if at >= 0 else ""), w
        else:                                        # 铀矿, 锑矿: one dictionary word
            head = next((h for h in CATEGORY_HEADS if w.endswith(h) and len(w) > len(h)), "")
            modifier, at = (w[: -len(head)] if head else ""), i
        if modifier and _foreign(modifier, tokenizer, corpus_text):
            found.append(modifier + head)
            continue
        # Coordinated kinds share the head: 多晶硅 in 多晶硅、光伏硅料产业 is a 产业 too.
        conjunct = _conjunct(words, at + 1) if head else ""
        if conjunct and _foreign(conjunct, tokenizer, corpus_text):
            found.append(conjunct + head)
            continue
        if not (_CJK.match(modifier) and (_noun(modifier) or word_tag(modifier) == "vn")):
            continue
        # The nouns before a modifier the documents use name the kind too: 林业 in 林业 / 碳 / 汇 / 项目, 风电 in
        # 风电 / 装备 / 产业 (海上 is no noun).
        j = at
        run: list[str] = []
        while j > 0 and _noun(words[j - 1]) and words[j - 1] not in CATEGORY_HEADS:
            j -= 1
            run.insert(0, words[j])
        if any(len(x) > 1 and _foreign(x, tokenizer, corpus_text) for x in run):
            found.append("".join(run) + modifier + head)
    # 铀矿 in 铀矿勘查 is said once: the kind, not also the work on it.
    return tuple(dict.fromkeys(f for f in found if not any(g != f and g in f for g in found)))


def _modifier_at(words: Sequence[str], head_at: int) -> int:
    """The position of the word a head's kind is named by: the word before it, or, for the work on a resource
    (WORK_HEADS), before a 的 and a parenthesised other name between them, since the work takes its object so
    (天然气水合物 in 天然气 / 水合物 / （ / 可燃冰 / ） / 的 / 勘查); -1 for none. Not "专门的园区": what stands before
    a 的 and a category is as often a quality as a kind."""
    at = head_at - 1
    if at >= 0 and words[at] == "的" and words[head_at] in WORK_HEADS:
        at -= 1
    if at >= 0 and words[at] in ")）":
        while at >= 0 and words[at] not in "(（":
            at -= 1
        at -= 1
    return at


def _conjunct(words: Sequence[str], head_at: int) -> str:
    """The word before a 、 that coordinates it with the (up to three-word) phrase ending before words[head_at]
    (多晶硅 in 多晶硅 / 、 / 光伏 / 硅 / 料 / 产业); "" when there is none."""
    for back in range(1, 4):
        j = head_at - back
        if j < 1 or not _CJK.match(words[j]):
            return ""
        if words[j - 1] == "、":
            return words[j - 2] if j >= 2 else ""
    return ""


def _foreign(word: str, tokenizer: Tokenizer, corpus_text: str) -> bool:
    """A noun (not a place name) that the documents never use, nor the word it ends with."""
    if not _CJK.match(word) or word in STOPWORDS or word in corpus_text:
        return False
    ends = [s for s in tokenizer.search_words(word) if len(s) > 1 and s != word and word.endswith(s)]
    if any(s in corpus_text for s in ends):
        return False
    # A kind the documents name by its other words: 露天矿 for their 露天开采 and 矿.
    if any(word.endswith(h) and len(word) > len(h) and word[: -len(h)] in corpus_text for h in CATEGORY_HEADS):
        return False
    return _noun(word)


def _noun(word: str) -> bool:
    """A common noun by jieba's tag (not a place name)."""
    tag = word_tag(word)
    return tag.startswith("n") and tag != "ns"


def unmentioned_places(words: Sequence[str], titles: Sequence[str], corpus_text: str) -> tuple[str, ...]:
    """The provinces, and the cities of other provinces, that a question (its jieba `words`: 川西藏区 names no
    西藏) names and the documents never mention, when each document's title names a province; () otherwise.
    A city of the documents' own province is no such place, since their policy covers it, named or not, unless the
    question asks what role the documents give the city ("广元在…产业布局里是什么定位？"): a layout that assigns
    roles names the places it assigns them to."""
    if not titles or not all(any(p in t for p in PROVINCES) for t in titles):
        return ()
    named = (_DIVISION.sub("", w) for w in words)
    cities = prefectures()
    role = _ROLE.search("".join(words)) is not None
    return tuple(dict.fromkeys(
        w for w in named if w not in corpus_text
        and (w in PROVINCES or (w in cities and (role or not any(cities[w] in t for t in titles))))))


@functools.cache
def prefectures() -> dict[str, str]:
    """The prefecture-level divisions of GB/T 2260, every revision the gb2260 package holds, by the short names
    questions use (包头市 -> 包头, 凉山彝族自治州 -> 凉山), each with its province's short name (内蒙古)."""
    found: dict[str, str] = {}
    for table in gb2260_data.values():
        for code, name in table.items():
            if code % 100 == 0 and code % 10000 and _PREFECTURE.search(name):
                found[_PREFECTURE.sub("", name)] = _province_short(table.get(code // 10000 * 10000, ""))
    return {city: province for city, province in found.items() if city and province}  # not 重庆's placeholder "市"


@functools.cache
def _province_short(name: str) -> str:
    """The short name (PROVINCES) of a province's full name: 内蒙古自治区 -> 内蒙古; "" for none."""
    return next((p for p in PROVINCES if name.startswith(p)), "")


# A county-level name counts as a place only with its suffix ("冕宁县"; not 市场, 区域, 区块) or in a list of places
# ("冕宁、德昌"): bare, many are everyday words (合作, 新兴, 资源, 通道 are counties too).
_COUNTY_SUFFIX = re.compile(r"(?:自治县|自治旗|林区|特区|市|县|区|旗)$")
_SUFFIX_AFTER = re.compile(r"[县旗]|市(?!场)|区(?![域块别间分])")


@functools.cache
def counties() -> frozenset[str]:
    """The county-level divisions of GB/T 2260 (every revision the gb2260 package holds), by their names less the
    suffix (冕宁县 -> 冕宁), two characters or more."""
    names = (_COUNTY_SUFFIX.sub("", name) for table in gb2260_data.values() for code, name in table.items()
             if code % 100 and name != "市辖区")
    return frozenset(n for n in names if len(n) >= 2)


class PlaceFinder:
    """Finds a place a sentence names: a prefecture-level city by its short name (攀枝花, 凉山), a county-level one
    with its suffix or beside another place (冕宁、德昌). `search` as re.Pattern's, so that it can stand for one."""

    def search(self, text: str) -> bool:
        cities, towns = prefectures(), counties()
        for i in range(len(text) - 1):
            for n in range(2, 6):
                word = text[i:i + n]
                if word in cities:
                    return True
                if word in towns and (_SUFFIX_AFTER.match(text, i + n)
                                      or self._listed_with_another(text, i, i + n, cities, towns)):
                    return True
        return False

    @staticmethod
    def _listed_with_another(text: str, start: int, end: int, cities: dict[str, str], towns: frozenset[str]) -> bool:
        """Whether text[start:end] stands in a list beside another place name ("冕宁、德昌")."""
        after = text[end + 1:end + 6] if text[end:end + 1] == "、" else ""
        before = text[max(0, start - 6):start - 1] if text[start - 1:start] == "、" else ""
        return (any(after[:n] in cities or after[:n] in towns for n in range(2, 6) if len(after) >= n)
                or any(before[-n:] in cities or before[-n:] in towns for n in range(2, 6) if len(before) >= n))

