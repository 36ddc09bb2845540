"""Which words of a question can carry its topic."""

from __future__ import annotations

import pytest

from rag.tokenize import starts_with_noun, topic_word


@pytest.mark.parametrize("word", ["钒", "钛", "锂", "磷", "煤", "税", "钒电池", "做到", "探矿权"])
def test_nouns_and_longer_words_carry_a_topic(word: str) -> None:
    assert topic_word(word)


@pytest.mark.parametrize("word", ["要", "定", "拿", "大", "各", "多", "按"])
def test_single_characters_that_are_no_noun_do_not(word: str) -> None:
    # A verb, adjective, pronoun, numeral or preposition on its own says nothing about the topic.
    assert not topic_word(word)


@pytest.mark.parametrize(("text", "noun"), [("生产线有奖励吗", True), ("技术攻关", True), ("产品", True),
                                          ("涉及哪些方面", False), ("明确了什么", False), ("针对的是", False)])
def test_what_a_text_starts_with(text: str, noun: bool) -> None:
    # The longest dictionary word at the start decides: 生产线 is a noun, 涉及 a verb (not 涉, not 生).
    assert starts_with_noun(text) is noun
