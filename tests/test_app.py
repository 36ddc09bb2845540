"""The web app's handlers with the real runtime: what each region of the page would show.

The handlers are plain functions (webapp/handlers.py); the two that live inside build_app (the
chat and like callbacks, which hold the session state) are taken from the built Blocks, so the
wiring of history and feedback is tested too. tests/test_browser.py drives the real page.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

import app
from rag.ask import Asker
from rag.config import Settings
from rag.errors import QueryError
from rag.runtime import Runtime, build, load_runtime
from webapp import handlers as h
from webapp.render import highlight, md_literal

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures"
OPINIONS, GUIDE = "sichuan-mining-opinions-2025", "sichuan-vti-re-guide"
CITATION = re.compile(r'class="citation">(.*?)</strong>')


@pytest.fixture
def demo(runtime: Runtime, asker: Asker, tmp_path: Path) -> gr.Blocks:
    return app.build_app(runtime, asker, tmp_path / "var" / "feedback.jsonl")


def callback(demo: gr.Blocks, name: str) -> Callable[..., Any]:
    """An event handler defined inside build_app, by function name."""
    return next(f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == name)


def unmarked(html: str) -> str:
    return re.sub(r"</?mark>", "", html)


# ---- 问答 ----------------------------------------------------------------------------------

def test_answer_has_markers_citations_and_full_clause_text(runtime: Runtime, asker: Asker) -> None:
    turn = h.answer_turn(runtime, asker, "钒电池储能有什么支持政策？")
    a = turn.answer
    assert not a.abstained and a.citations and "[1]" in a.text
    first = a.citations[0].clause
    assert first.citation.startswith(("《若干意见》", "《指南》"))
    # The chat shows the answer with its markers and lists the citations under it.
    assert md_literal("[1]") in turn.bot_markdown and first.citation in turn.bot_markdown
    # The panel under the chat has each cited clause in full, with the question's terms marked.
    for hit in a.citations:
        assert h.esc(hit.clause.text) in unmarked(turn.evidence_html)
    assert "<mark>钒电池</mark>" in turn.evidence_html
    assert turn.record == {"question": "钒电池储能有什么支持政策？", "answer": a.text,
                           "citations": [{"citation": x.clause.citation, "clause_id": x.clause.clause_id}
                                         for x in a.citations]}


def test_abstention_says_so_and_labels_related_clauses(runtime: Runtime, asker: Asker) -> None:
    turn = h.answer_turn(runtime, asker, "住房公积金贷款额度是多少？")
    assert turn.answer.abstained and not turn.answer.citations and turn.answer.related
    assert md_literal("现有文件中没有找到关于这个问题的规定") in turn.bot_markdown
    assert "没有找到关于这个问题的规定" in turn.evidence_html
    assert "不是对问题的回答" in turn.evidence_html
    assert turn.evidence_html.count("非答案") == len(turn.answer.related)
    assert "[1]" not in turn.evidence_html and turn.record["citations"] == []


def test_an_answer_on_a_documents_own_facts_lists_no_clauses(runtime: Runtime, asker: Asker) -> None:
    turn = h.answer_turn(runtime, asker, "若干意见是什么时候印发的？")
    assert md_literal("2025年7月31日") in turn.bot_markdown and "引用条款" not in turn.bot_markdown
    assert "不属于任何条款" in turn.evidence_html and "引用条款" not in turn.evidence_html
    assert turn.record["citations"] == []


def test_the_evidence_panel_says_what_the_documents_leave_out(runtime: Runtime, asker: Asker) -> None:
    turn = h.answer_turn(runtime, asker, "钒电池储能示范项目归哪个部门管？")
    assert turn.answer.abstained
    assert "但没有给出负责或受理的部门" in turn.evidence_html


def test_follow_up_uses_the_sessions_earlier_questions(demo: gr.Blocks) -> None:
    on_ask = callback(demo, "on_ask")
    chat, asked, votes, status, evidence, box = on_ask("钛资源量占全国多少？", [], [], {})
    assert [t.question for t in asked] == ["钛资源量占全国多少？"] and status == "" and box == ""
    assert asked[0].cited == "sichuan-vti-re-guide:ch1.sec1.it1"
    chat, asked, votes, status, evidence, box = on_ask("那稀土呢？", chat, asked, votes)
    # as understood, so follow-ups chain
    assert [t.question for t in asked] == ["钛资源量占全国多少？", "稀土资源量占全国多少？"]
    assert len(chat) == 4 and [m["role"] for m in chat] == ["user", "assistant"] * 2
    assert "问题理解为：稀土资源量占全国多少？" in evidence
    assert set(votes) == {1, 3} and votes[3]["question"] == "那稀土呢？"
    # The guide gives rare earth's reserves but not its share of the nation's: the answer says so.
    assert "没有给出具体数字" in votes[3]["answer"]
    chat, asked, votes, status, evidence, box = on_ask("钒呢？", chat, asked, votes)
    assert "问题理解为：钒资源量占全国多少？" in evidence
    assert "占全国的32.0%" in votes[5]["answer"]
    # "下一条" steps from the clause the last answer cited, though no question named one.
    chat, asked, votes, status, evidence, box = on_ask("下一条呢？", chat, asked, votes)
    assert "问题理解为：《指南》第一章第一节（二）" in evidence


@pytest.mark.parametrize(("question", "message"), [
    ("", "查询为空"), ("   \n", "查询为空"), ("钒" * 10_000, "查询过长"), ("？？！！……", "没有可检索的文字")])
def test_bad_questions_show_a_message_not_a_traceback(demo: gr.Blocks, runtime: Runtime, asker: Asker,
                                                      question: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        h.answer_turn(runtime, asker, question)
    with warnings.catch_warnings():  # gr.Warning outside a request is only logged
        warnings.simplefilter("ignore")
        chat, asked, votes, status, _evidence, box = callback(demo, "on_ask")(question, [], [], {})
    assert chat == [] and asked == [] and votes == {}
    assert 'class="app-box app-error"' in status and message in status and "Traceback" not in status
    assert box == question  # the question stays in the box to be corrected


def test_a_vote_appends_one_line_with_exactly_the_five_fields(demo: gr.Blocks, tmp_path: Path) -> None:
    chat, _asked, votes, *_ = callback(demo, "on_ask")("探矿权到期不续期的情形有哪些？", [], [], {})
    on_like = callback(demo, "on_like")
    status = on_like(votes, gr.LikeData(None, {"index": 1, "value": chat[1]["content"], "liked": False}))
    assert "已记录" in status
    assert on_like(votes, gr.LikeData(None, {"index": 0, "value": "", "liked": True})) == ""  # the question
    lines = (tmp_path / "var" / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert set(entry) == {"question", "answer", "citations", "vote", "time"}
    assert entry["question"] == "探矿权到期不续期的情形有哪些？" and entry["vote"] == "down"
    assert entry["answer"] == votes[1]["answer"] and "[1]" in entry["answer"]
    assert entry["citations"] and all(set(c) == {"citation", "clause_id"} for c in entry["citations"])
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None


def test_feedback_entry_and_append(tmp_path: Path) -> None:
    record = {"question": "问", "answer": "答[1]", "citations": [{"citation": "《指南》序言", "clause_id": "x:preamble"}]}
    path = tmp_path / "deep" / "log.jsonl"
    h.append_feedback(path, h.feedback_entry(record, True, datetime(2025, 8, 1, 9, 30)))
    h.append_feedback(path, h.feedback_entry(record, False))
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first["vote"] == "up" and first["time"].startswith("2025-08-01T09:30:00")
    assert second["vote"] == "down" and "答[1]" in path.read_text(encoding="utf-8")  # not \\u-escaped


# ---- 条款检索 --------------------------------------------------------------------------------

def test_keyword_search_lists_ranked_highlighted_copyable_results(runtime: Runtime) -> None:
    page = h.search_html(runtime, "探矿权 续期")
    cites = CITATION.findall(page)
    assert len(cites) == 5 and all(c.startswith(("《若干意见》", "《指南》")) for c in cites)
    assert '<span class="rank">1</span>' in page and '<span class="rank">5</span>' in page
    assert "<mark>探矿权</mark>" in page and "<mark>续期</mark>" in page
    assert f'data-cite="{cites[0]}"' in page and f'<code class="cite-copy">{cites[0]}</code>' in page
    assert " › " in page  # the path


def test_a_full_width_query_finds_and_highlights_the_documents_half_width_figures(runtime: Runtime) -> None:
    page = h.search_html(runtime, "钛资源量 ７５．３４％")
    assert CITATION.findall(page)[0] == "《指南》第一章第一节（一）"
    assert "<mark>75.34%</mark>" in page


def test_the_documents_words_that_stood_in_for_the_querys_are_said_and_highlighted(runtime: Runtime) -> None:
    page = h.search_html(runtime, "探矿权 银行 贷款")
    assert "同时按文件的近义用语检索：“银行”→“金融机构”" in page and "<mark>金融机构</mark>" in page
    assert "近义用语" not in h.search_html(runtime, "探矿权 续期")  # every word is the documents' own


def test_a_clause_number_the_documents_lack_is_said_above_the_results(runtime: Runtime) -> None:
    page = h.search_html(runtime, "指南第三章第二节（九）")
    assert "注：《指南》中没有第三章第二节（九）（《指南》第三章第二节共有（一）至（三））" in page
    assert "按条款编号匹配" not in page and CITATION.findall(page)
    assert "中没有" not in h.search_html(runtime, "第三章第二节（二）")
    # Of two numbers, the one the documents lack is said above the clause the other names.
    both = h.search_html(runtime, "若干意见（十五）和（十九）")
    assert "注：《若干意见》中没有（十九）（《若干意见》共有（一）至（十八））；以下是找到的条款。" in both
    assert CITATION.findall(both)[0] == "《若干意见》（十五）"
    assert "中没有" not in h.search_html(runtime, "若干意见（十五）和（十六）")


@pytest.mark.parametrize(("query", "first"), [
    ("第三章第二节（二）", "《指南》第三章第二节（二）"), ("若干意见第十五条", "《若干意见》（十五）"),
    ("第三章第二节（二）三是", "《指南》第三章第二节（二）三是")])
def test_clause_numbers_go_through_the_same_box(runtime: Runtime, query: str, first: str) -> None:
    page = h.search_html(runtime, query)
    assert CITATION.findall(page)[0] == first and f'data-cite="{first}"' in page
    assert "按条款编号匹配" in page


def test_document_scope_and_k_filters(runtime: Runtime) -> None:
    guide_only = CITATION.findall(h.search_html(runtime, "钒钛 产业", GUIDE, "", 8))
    assert len(guide_only) == 8 and all(c.startswith("《指南》") for c in guide_only)
    opinions_only = CITATION.findall(h.search_html(runtime, "钒钛 产业", OPINIONS, "", 3))
    assert len(opinions_only) == 3 and all(c.startswith("《若干意见》") for c in opinions_only)
    chapter3 = CITATION.findall(h.search_html(runtime, "钒钛 产业", GUIDE, "第三章", 5))
    assert chapter3 and all(c.startswith("《指南》第三章") for c in chapter3)
    assert "范围：第三章" in h.search_html(runtime, "钒钛", GUIDE, "第三章", 5)
    assert "无法识别的范围" in h.search_html(runtime, "钒钛", h.ALL_DOCS, "某某", 5)
    assert "没有这个文件" in h.search_html(runtime, "钒钛", "nope", "", 5)
    assert h.document_filter_choices(runtime.corpus) == [
        ("全部", "全部"), ("《若干意见》", OPINIONS), ("《指南》", GUIDE)]


@pytest.mark.parametrize(("query", "shown"), [
    ("", h.SEARCH_EMPTY), ("  \t ", h.SEARCH_EMPTY), ("钒" * 10_000, "查询过长（10000 字）"),
    ("？？！！……", "查询中没有可检索的文字")])
def test_empty_long_and_punctuation_queries(runtime: Runtime, query: str, shown: str) -> None:
    page = h.search_html(runtime, query)
    assert shown in page and "Traceback" not in page and 'class="hit"' not in page


def test_no_result_says_what_to_try(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    # Dense retrieval ranks every allowed clause, so the real index always returns something;
    # the empty list is what a stricter retriever (or an empty scope) would hand back.
    monkeypatch.setattr(h, "search", lambda *args, **kwargs: [])
    page = h.search_html(runtime, "钒钛")
    assert h.SEARCH_NONE in page and "条款编号" in page


def test_an_unexpected_failure_is_a_readable_message(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("index file vanished")

    monkeypatch.setattr(h, "search", broken)
    page = h.search_html(runtime, "钒钛")
    assert "处理请求时出错（RuntimeError）" in page and "Traceback" not in page and "vanished" not in page


# ---- 文件浏览 --------------------------------------------------------------------------------

def test_document_metadata_and_tree(runtime: Runtime) -> None:
    meta, tree, choices = h.browse_document(runtime.corpus, OPINIONS)
    assert "川办发〔2025〕26号" in meta and "四川省人民政府办公厅" in meta and "2025-07-31" in meta
    assert "<th>类型</th><td>意见</td>" in meta
    assert "六、加强统筹协调，推动矿业发展" in tree and "（十五）提升战略找矿科创水平" in tree
    assert f'data-clause="{OPINIONS}:pt5.it15"' in tree
    assert ("《若干意见》（十五） 提升战略找矿科创水平", f"{OPINIONS}:pt5.it15") in choices
    assert len(choices) == len(runtime.corpus.document(OPINIONS).clauses)

    meta, tree, choices = h.browse_document(runtime.corpus, GUIDE)
    for field in ("文号", "发文机关", "日期"):
        assert f"<th>{field}</th><td>未载明</td>" in meta
    assert "第三章 主要任务" in tree and "第二节 优化产业布局" in tree and "《指南》第三章第二节（二）" in tree

    meta, tree, choices = h.browse_document(runtime.corpus, "nope")
    assert "没有这个文件" in meta and tree == "" and choices == []


def test_choosing_a_node_shows_its_text_and_citation(runtime: Runtime, demo: gr.Blocks) -> None:
    clause = runtime.corpus.clause(f"{GUIDE}:ch3.sec2.it2")
    page = h.clause_html(runtime.corpus, clause.clause_id)
    assert "《指南》第三章第二节（二）" in page and h.esc(clause.text) in page
    assert "第三章 主要任务 › 第二节 优化产业布局" in page and 'data-cite="《指南》第三章第二节（二）"' in page
    assert h.CLAUSE_EMPTY in h.clause_html(runtime.corpus, None)
    assert "没有找到条款" in h.clause_html(runtime.corpus, "nope:x")
    # A click on a citation in the tree selects that clause in the dropdown.
    on_tree_click = callback(demo, "on_tree_click")
    assert on_tree_click(gr.EventData(None, {"clause": clause.clause_id})) == clause.clause_id


# ---- escaping --------------------------------------------------------------------------------

def test_highlight_escapes_around_marks() -> None:
    assert highlight("a<b>钒&钛", ["钒"]) == "a&lt;b&gt;<mark>钒</mark>&amp;钛"
    assert highlight("<lt>", ["lt"]) == "&lt;<mark>lt</mark>&gt;"  # matched on raw text, entities intact
    assert highlight('"x"', []) == "&quot;x&quot;"
    literal = md_literal("**粗体** <img src=x onerror=alert(1)> [1](javascript:x) `c` # h")
    assert not set(re.sub(r"&#\d+;", "", literal)) & set("*<>[]()`#&") and "粗体" in literal
    assert html.unescape(literal) == "**粗体** <img src=x onerror=alert(1)> [1](javascript:x) `c` # h"


@pytest.fixture(scope="module")
def xss_runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    """A one-document corpus whose title and clause carry <script>, <img onerror> and **Markdown**."""
    root = tmp_path_factory.mktemp("xss")
    (root / "corpus" / "docs").mkdir(parents=True)
    (root / "corpus" / "docs" / "xss.txt").write_bytes((FIXTURES / "xss.txt").read_bytes())
    (root / "corpus" / "manifest.toml").write_text(
        '[[document]]\nid = "xss"\nfile = "docs/xss.txt"\ntitle = "测试文件<script>alert(1)</script>"\n'
        'short_title = "《测试<b>》"\nkind = "办法"\nissuer = "<img src=x onerror=alert(2)>"\n', encoding="utf-8")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build(settings)
    return load_runtime(settings)


def assert_inert(page: str) -> None:
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "onerror=alert" not in page or "&lt;img src=x onerror=alert" in page


def test_document_text_is_escaped_everywhere(xss_runtime: Runtime) -> None:
    rt = xss_runtime
    assert len(rt.corpus.clauses) >= 1
    clause = next(c for c in rt.corpus.clauses if "onerror" in c.text)

    page = h.search_html(rt, "显示测试")
    assert "&lt;img src=x onerror=alert(1)&gt;" in unmarked(page) and "**粗体**" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the title, in the path line
    assert_inert(page)

    meta, tree, _choices = h.browse_document(rt.corpus, "xss")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in meta and "&lt;img src=x onerror=alert(2)&gt;" in meta
    assert "《测试&lt;b&gt;》" in meta
    for part in (meta, tree):
        assert_inert(part)
    view = h.clause_html(rt.corpus, clause.clause_id)
    assert "&lt;img src=x onerror=alert(1)&gt;" in view and "**粗体**" in view
    assert_inert(view)


def test_chat_shows_document_markup_and_queries_literally(xss_runtime: Runtime) -> None:
    turn = h.answer_turn(xss_runtime, Asker(xss_runtime), "<img src=x onerror=alert(1)> 显示测试 **粗体**？")
    own_markup = re.compile(r"\*\*(引用条款|注)：\*\*")  # the app's own bold headings
    for md in (turn.user_markdown, turn.bot_markdown):
        assert not set(own_markup.sub("", md)) & set("<>*`[]")  # nothing for Markdown or the sanitiser
    assert md_literal("本条含有<img src=x onerror=alert(1)>和**粗体**标记") in turn.bot_markdown
    assert "&#60;img src&#61;x onerror&#61;alert&#40;1&#41;&#62;" in turn.user_markdown
    assert_inert(turn.evidence_html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in unmarked(turn.evidence_html)
    # The question is echoed in the panel too: escaped.
    assert "&lt;img src=x onerror=alert(1)&gt; 显示测试" in turn.evidence_html or turn.answer.abstained

    page = h.search_html(xss_runtime, "<script>alert(1)</script> 显示测试")
    assert "“&lt;script&gt;alert(1)&lt;/script&gt; 显示测试”" in page
    assert_inert(page)


def test_building_the_app_raises_no_script_warning(xss_runtime: Runtime, tmp_path: Path) -> None:
    # gr.HTML warns when its value holds a raw <script> tag: escaped text never does.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.build_app(xss_runtime, Asker(xss_runtime), tmp_path / "f.jsonl")
    assert not [w for w in caught if "<script>" in str(w.message)]


# ---- the app and its command line ------------------------------------------------------------

def test_build_app_has_the_three_tabs(demo: gr.Blocks) -> None:
    assert isinstance(demo, gr.Blocks)
    tabs = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert tabs == ["问答", "条款检索", "文件浏览"]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.1.2.3", True),
    ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)])
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert app.is_loopback(host) is loopback


def test_login_only_off_loopback_and_a_warning_without_credentials() -> None:
    creds = {"RAG_APP_USER": "u", "RAG_APP_PASSWORD": "p"}
    assert app.login_for("127.0.0.1", creds) == (None, None)
    assert app.login_for("0.0.0.0", creds) == (("u", "p"), None)
    auth, warning = app.login_for("0.0.0.0", {"RAG_APP_USER": "u"})
    assert auth is None and warning is not None and "RAG_APP_PASSWORD" in warning and "警告" in warning


def test_host_and_port_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_HOST", raising=False)
    monkeypatch.delenv("RAG_PORT", raising=False)
    args = app.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("RAG_HOST", "0.0.0.0")
    monkeypatch.setenv("RAG_PORT", "8000")
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("0.0.0.0", 8000)
    args = app.parse_args(["--host", "127.0.0.1", "--port", "9000"])
    assert (args.host, args.port) == ("127.0.0.1", 9000)
    with pytest.raises(SystemExit):
        app.parse_args(["--port", "http"])
