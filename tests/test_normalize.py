"""Each normalisation rule, on the smallest text that shows it."""

from __future__ import annotations

from rag.corpus import Corpus
from rag.normalize import fold_query, fold_width, normalize


def body(raw: str, title: str = "标题") -> list[str]:
    clean = normalize(f"{title}\n\n{raw}", title)
    return [clean.text[p.start:p.end] for p in clean.body()]


def test_hard_wrap_inside_a_sentence_is_joined() -> None:
    assert body("（一）加强调查。力争到2030年我省重要成矿区带\n覆盖率达到全国平均水平。") == [
        "（一）加强调查。力争到2030年我省重要成矿区带覆盖率达到全国平均水平。"]


def test_page_break_with_blank_lines_inside_a_sentence_is_joined() -> None:
    assert body("（一）资源。钒矿（V₂O₅\n\n\n计）资源量世界第三。") == ["（一）资源。钒矿（V₂O₅计）资源量世界第三。"]


def test_line_starting_with_continuing_punctuation_is_joined() -> None:
    assert body("（一）机制。健全投入机制\n。省级财政加大投入。") == ["（一）机制。健全投入机制。省级财政加大投入。"]


def test_two_real_paragraphs_are_never_glued() -> None:
    assert body("从国际看，机遇增加。\n\n从国内看，需求增长。") == ["从国际看，机遇增加。", "从国内看，需求增长。"]


def test_heading_line_followed_directly_by_an_item_starts_a_paragraph() -> None:
    assert body("四、加强要素保障，优化营商环境\n（十一）完善机制。健全机制。") == [
        "四、加强要素保障，优化营商环境", "（十一）完善机制。健全机制。"]


def test_item_after_a_terminated_line_starts_a_paragraph() -> None:
    assert body("（一）甲。甲的内容。\n（二）乙。乙的内容。") == ["（一）甲。甲的内容。", "（二）乙。乙的内容。"]


def test_enumeration_continued_after_a_page_break_stays_in_its_paragraph() -> None:
    assert body("（一）钢铁。一是甲。二是乙。\n\n三是丙。") == ["（一）钢铁。一是甲。二是乙。三是丙。"]


def test_unrelated_paragraph_after_enumeration_is_not_joined() -> None:
    assert body("（一）钢铁。一是甲。二是乙。\n\n五是丙。") == ["（一）钢铁。一是甲。二是乙。", "五是丙。"]


def test_fixed_width_wrap_ending_at_a_full_stop_is_joined() -> None:
    w = "这是一行固定宽度的文本用来模拟换行宽度测试内"  # 22 CJK characters = width 44
    raw = f"（一）{w}\n{w}\n{w}\n{w}\n{w[:-1]}。\n{w}。\n\n（二）乙。"
    assert body(raw) == [f"（一）{w}{w}{w}{w}{w[:-1]}。{w}。", "（二）乙。"]


def test_replacement_character_is_removed_and_reported() -> None:
    clean = normalize("标题\n\n（一）战略行动\ufffd促进发展。", "标题")
    assert "\ufffd" not in clean.text
    assert "战略行动促进发展" in clean.text
    assert [e.rule for e in clean.edits] == ["replacement-character"]


def test_half_width_punctuation_becomes_full_width_in_chinese_text() -> None:
    assert body("(二)产业特色鲜明,资源丰富;前景广阔。") == ["（二）产业特色鲜明，资源丰富；前景广阔。"]


def test_half_width_parenthesis_closing_a_full_width_one() -> None:
    assert body("（一）资源。钒矿（V₂O₅计)资源量(REO) 259.39 万吨。") == [
        "（一）资源。钒矿（V₂O₅计）资源量（REO）259.39万吨。"]


def test_digit_grouping_commas_and_decimal_points_are_kept() -> None:
    assert body("（一）投资。投资1,000万元,增长3.5%。") == ["（一）投资。投资1,000万元，增长3.5%。"]


def test_spaces_around_numbers_are_removed() -> None:
    assert body("（一）资源。查明资源量为 100.03 亿多吨，排名全国第 11 位，截至 2020 年底。") == [
        "（一）资源。查明资源量为100.03亿多吨，排名全国第11位，截至2020年底。"]


def test_space_between_english_words_is_kept() -> None:
    assert body("（一）技术。开展 CCUS 技术和 Open Source 软件应用。") == [
        "（一）技术。开展CCUS技术和Open Source软件应用。"]


def test_stray_english_connective_between_chinese_words_is_replaced() -> None:
    assert body("（一）材料。钢铁先进金属材料 and 钒钛及稀土战略材料。") == [
        "（一）材料。钢铁先进金属材料和钒钛及稀土战略材料。"]


def test_chemical_subscripts_survive() -> None:
    text = "".join(body("（一）资源。钛矿（TiO₂ 计）和钒矿（V₂O₅计）。"))
    assert "TiO₂计" in text and "V₂O₅" in text


def test_full_width_letters_and_digits_become_ascii() -> None:
    assert body("（一）目标。到２０２５年，ＡＩ应用普及。") == ["（一）目标。到2025年，AI应用普及。"]


def test_full_width_decimal_point_and_percent_after_a_digit_become_ascii() -> None:
    assert body("（一）占比。占全国的７５．３４％。") == ["（一）占比。占全国的75.34%。"]


def test_a_query_is_folded_as_the_documents_are() -> None:
    assert fold_width("２０３０年ＰＭ２．５占７５．３４％（二）第３章，") == "2030年PM2.5占75.34%（二）第3章，"


def test_a_query_in_traditional_characters_is_folded_to_simplified() -> None:
    assert fold_query("鈦資源量佔全國多少？") == "钛资源量占全国多少？"
    assert fold_query("《若干意見》第１５條") == "《若干意见》第15条"


def test_simplified_text_passes_the_folding_unchanged(corpus: Corpus) -> None:
    # t2s must not rewrite what is already simplified (such as 干 or 著 in their simplified uses).
    for c in corpus.clauses:
        assert fold_query(c.text) == c.text, c.citation


def test_heading_keeps_one_space_between_number_and_title() -> None:
    assert body("第一章　 编制背景\n\n第一节发展基础\n\n正文。") == ["第一章 编制背景", "第一节发展基础", "正文。"]


def test_news_lead_before_the_title_is_kept_apart() -> None:
    raw = "某网获悉，政府发布意见。\n\n以下为原文\n\n关于某事的意见\n\n川办发〔2025〕1号\n\n各市（州）：\n\n一、总则\n"
    clean = normalize(raw, "关于某事的意见")
    roles = [(p.role, clean.text[p.start:p.end]) for p in clean.paragraphs]
    assert roles == [("lead", "某网获悉，政府发布意见。"), ("lead", "以下为原文"), ("title", "关于某事的意见"),
                     ("doc_number", "川办发〔2025〕1号"), ("addressee", "各市（州）："), ("body", "一、总则")]


def test_title_found_by_manifest_title_even_without_lead_marker() -> None:
    clean = normalize("转载说明文字。\n\n关于某事的意见\n\n一、总则\n", "关于某事的意见")
    assert [p.role for p in clean.paragraphs] == ["lead", "title", "body"]


def test_closing_issuer_and_date_are_recognised() -> None:
    clean = normalize("标题\n\n一、总则\n\n（一）内容。正文。\n 某省人民政府办公厅\n\n2025年7月31日\n", "标题")
    assert [clean.text[p.start:p.end] for p in clean.paragraphs if p.role == "closing"] == [
        "某省人民政府办公厅", "2025年7月31日"]


def test_every_clean_character_traces_back_to_the_raw_text() -> None:
    raw = "标题\n\n（一）资源。钒矿（V₂O₅\n\n计)资源量为 100.03 亿吨,材料 and 技术。"
    clean = normalize(raw, "标题")
    assert len(clean.origin) == len(clean.text)
    for i, ch in enumerate(clean.text):
        src = raw[clean.origin[i]]
        if ch == src:
            continue
        # only the characters a rule rewrote may differ from their source
        assert ch in "（），和\n", (i, ch, src)
    assert clean.raw_line(clean.text.index("计")) == 5
