"""Query expansion with the real model and the real index: a question's words the corpus never uses are
looked up among the corpus's own words (rag/expand.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.retrieve import RetrievalParams, search
from rag.runtime import Runtime

pytestmark = pytest.mark.slow


def test_unknown_words_are_the_questions_topic_words_the_corpus_lacks(runtime: Runtime) -> None:
    vocab, tok = runtime.index.vocab, runtime.index.tokenizer
    unknown = vocab.unknown_words("手里有探矿证，能不能拿去银行做抵押贷款？", tok)
    assert {"银行", "贷款"} <= set(unknown)
    assert not set(unknown) & vocab.known                 # 探矿, 抵押 are the corpus's own words
    assert "有没有" not in vocab.unknown_words("银行有没有贷款", tok)  # stopwords are no topic
    assert vocab.unknown_words("探矿权 续期", tok) == []


def test_neighbours_are_corpus_words_near_in_meaning(runtime: Runtime) -> None:
    vocab = runtime.index.vocab
    bank = [w for w, _ in vocab.neighbours(["银行"], runtime.embedder, 1)[0]]
    loan = [w for w, _ in vocab.neighbours(["贷款"], runtime.embedder, 2)[0]]
    assert bank[0] == "金融机构"
    assert {"信贷", "融资"} & set(loan)
    extra = vocab.expansion("银行和贷款", runtime.index.tokenizer, runtime.embedder, 2, 0.88)
    assert set(extra) <= vocab.known and "金融机构" in extra


def test_expansion_lifts_a_clause_that_says_it_in_the_documents_words(runtime: Runtime) -> None:
    # 《若干意见》（十一） speaks of 金融机构 and 融资 for 探矿权; the question says 银行 and 贷款.
    question = "手里有探矿证，能不能拿去银行做抵押贷款？"
    gold = "sichuan-mining-opinions-2025:pt4.it11"
    e5_only = replace(RetrievalParams(), w_lexicon=0.0)   # the lexicon (rag/lexicon.py) off: e5's stand-ins alone
    on = search(runtime.index, runtime.embedder, question, k=10, params=e5_only)
    off = search(runtime.index, runtime.embedder, question, k=10, params=replace(e5_only, w_expansion=0.0))
    rank = {name: [h.clause.clause_id for h in hits].index(gold) for name, hits in (("on", on), ("off", off))}
    assert rank["on"] == 0
    lexical = {name: next(h.lexical for h in hits if h.clause.clause_id == gold) for name, hits in
               (("on", on), ("off", off))}
    assert lexical["on"] > lexical["off"]                 # the neighbours' BM25 is what was added


def test_a_question_in_the_corpus_words_is_searched_as_before(runtime: Runtime) -> None:
    off = replace(RetrievalParams(), w_expansion=0.0)
    for question in ("探矿权 续期", "钒钛磁铁矿的综合利用率", "第三章第二节（二）"):
        assert ([h.clause.clause_id for h in search(runtime.index, runtime.embedder, question)]
                == [h.clause.clause_id for h in search(runtime.index, runtime.embedder, question, params=off)])
