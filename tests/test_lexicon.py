"""The lexicon of users' words for the documents' words (rag/lexicon.py), read from a file and on the real corpus."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rag.answer import Weights
from rag.ask import Asker
from rag.corpus import Corpus
from rag.errors import ManifestError
from rag.lexicon import Lexicon, load_lexicon
from rag.retrieve import RetrievalParams, search
from rag.runtime import Runtime


def test_a_lexicon_file_is_read_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.tsv"
    path.write_text("# users\tdocuments\n\n借钱 借款\t融资 信贷\n水电\t水能\n", encoding="utf-8")
    lexicon = load_lexicon(path)
    assert lexicon.entries == ((("借钱", "借款"), ("融资", "信贷")), (("水电",), ("水能",)))
    assert lexicon.equivalents("借款") == {"融资", "信贷"}
    assert lexicon.equivalents("融资") == frozenset()          # one way: users' words to the documents'


@pytest.mark.parametrize("line", ["借钱 融资", "借钱\t", "\t融资", "借钱\t融资\t信贷"])
def test_a_malformed_line_is_named_by_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "lexicon.tsv"
    path.write_text(f"# comment\n水电\t水能\n{line}\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=rf"{path.name}:3: "):
        load_lexicon(path)


def test_no_lexicon_file_is_an_empty_lexicon(tmp_path: Path) -> None:
    assert load_lexicon(tmp_path / "lexicon.tsv") == Lexicon()


def test_stand_ins_are_the_documents_words_the_corpus_uses_for_words_in_the_question() -> None:
    lexicon = Lexicon(((("借钱", "贷款"), ("融资", "信贷", "按揭")),))
    corpus_text = "推进探矿权抵押融资……绿色信贷"
    assert lexicon.used_in(corpus_text).stand_ins("能拿探矿权去借钱吗") == ["融资", "信贷"]  # 按揭: not in the corpus
    assert lexicon.used_in(corpus_text).stand_ins("探矿权怎么续期") == []
    assert Lexicon(((("好处",), ("按揭",)),)).used_in(corpus_text) == Lexicon()  # a line left with no word goes


def test_the_bundled_lexicon_is_loaded_with_the_corpus(corpus: Corpus) -> None:
    assert corpus.lexicon.equivalents("水电") == {"水能"}
    assert "金融机构" in corpus.lexicon.equivalents("银行")


def test_coverage_counts_a_users_word_where_the_documents_say_theirs(runtime: Runtime, asker: Asker) -> None:
    weights: Weights = asker.weights
    sentence = weights.tokens("二是能源保障优势明显。我省水能资源约占78%，火电占13%")
    assert weights.coverage(["水电"], sentence) == 1.0
    assert weights.coverage(["风电"], sentence) == 0.0


def test_a_question_in_users_words_is_answered_from_the_clause_in_the_documents_words(asker: Asker) -> None:
    # Before the lexicon it abstained: no sentence with a figure held 水电, and e5 puts 家电 as near as 水能.
    a = asker.ask("四川的电力里面水电、火电大概各占多大比重？")
    assert not a.abstained
    assert a.citations[0].clause.clause_id == "sichuan-vti-re-guide:ch1.sec1.it4"
    assert "78%" in a.text
    # 银行 and 押着 bring in 金融机构 and 抵押: the clause on 探矿权抵押融资 comes first.
    b = asker.ask("手上有个勘探许可证，能拿去银行押着借点钱不？")
    assert not b.abstained and b.citations[0].clause.clause_id == "sichuan-mining-opinions-2025:pt4.it11"


def test_the_lexicons_words_count_in_bm25_at_their_own_weight(runtime: Runtime) -> None:
    # 探矿权 seven times in 矿业权管理 outweighs one 探矿权 beside 金融机构…抵押融资, until 银行 and 借钱 count as the
    # documents' 金融机构 and 融资.
    question = "拿探矿权去银行借钱行吗"
    with_lexicon = search(runtime.index, runtime.embedder, question)
    without = search(runtime.index, runtime.embedder, question, params=replace(RetrievalParams(), w_lexicon=0.0))
    assert with_lexicon[0].clause.clause_id == "sichuan-mining-opinions-2025:pt4.it11"
    assert without[0].clause.clause_id == "sichuan-mining-opinions-2025:pt2.it6"
