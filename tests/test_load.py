"""Concurrent sessions against the real app: every reply carries its own question's citations.

The load itself (start `python app.py`, 20 gradio_client sessions, 200 questions, RSS sampling)
is benchmarks/loadgen.py, shared with benchmarks/load.py; this file asserts on its report. Speed
is printed for information, never asserted (the machine is shared and noisy).

The first tests feed the reply checks hand-made replies in the app's format and wrong
expectation maps: they show that the load test can fail, and how (no server needed).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rag.config import ROOT
from webapp.render import esc, md_literal


def _load_loadgen() -> ModuleType:
    # benchmarks/ is a folder of scripts, not a package: load the file itself. It is registered
    # in sys.modules before running so that its dataclasses can resolve their own module.
    if "loadgen" in sys.modules:
        return sys.modules["loadgen"]
    spec = importlib.util.spec_from_file_location("loadgen", ROOT / "benchmarks" / "loadgen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadgen"] = module
    spec.loader.exec_module(module)
    return module


loadgen = _load_loadgen()

GB, MB = 1024 * 1024, 1024  # in kB, the unit of /proc/<pid>/status
RSS_LIMIT_KB = 2 * GB
RSS_GROWTH_LIMIT_KB = 300 * MB

# ---------------------------------------------------------------------------------------------
# The checks themselves, on hand-made replies

VANADIUM, TITANIUM, CUSTOMS = "钒电池储能有什么支持政策？", "钛资源量占全国多少？", "海关进口关税怎么算？"
C10, C322, C323, CH3, C11 = "《若干意见》（十）", "《指南》第三章第二节（二）", "《指南》第三章第二节（三）", "《指南》第三章", "《指南》第一章第一节（一）"
UNIVERSE = (C10, C322, C323, CH3, C11)


def expected(question: str, cited: tuple[str, ...], related: tuple[str, ...] = ()) -> Any:
    """An Expected as compute_expectations makes it: what the rendered reply names."""
    cards = cited or related
    return loadgen.Expected(question, cited, tuple(f"id-{c}" for c in cited), cards,
                            frozenset(cited) | frozenset(related), abstained=not cited)


def reply(question: str, cited: tuple[str, ...], cards: tuple[str, ...] | None = None, *,
          heading: str | None = None, related: tuple[str, ...] = ()) -> Any:
    """A reply in the format of webapp/handlers.py: Markdown answer, evidence cards, echoed question."""
    if cited:
        body = "\n".join(f"根据{c}：……[{i}]" for i, c in enumerate(cited, start=1))
        lines = "\n".join(md_literal(f"[{i}] {c}") for i, c in enumerate(cited, start=1))
        bot = f"{md_literal(body)}\n\n**引用条款：**\n{lines}\n\n（条款全文见下方“引用条款”。）"
        evidence = f'<div class="section-title">引用条款（问题：{esc(heading or question)}）</div>'
    else:
        bot = md_literal("现有文件中没有找到相关规定。可能相关：" + "、".join(related))
        evidence = '<div class="app-box app-warn">现有文件中没有找到关于这个问题的规定。</div>'
    for i, c in enumerate(cited if cards is None else cards, start=1):
        evidence += (f'<div class="clause-card"><div class="card-head"><span class="card-label">[{i}]</span> '
                     f'<strong class="citation">{esc(c)}</strong></div><div class="clause-text">'
                     f'<mark>钒电池</mark>……</div></div>')
    chat = [{"role": "user", "content": [{"type": "text", "text": md_literal(question)}]},
            {"role": "assistant", "content": [{"type": "text", "text": bot}]}]
    return loadgen.Reply(question, 0, "/on_ask", 0.1, chat, "", f'<div class="evidence">{evidence}</div>')


def expectations(*items: Any) -> Any:
    return loadgen.Expectations({e.question: e for e in items}, UNIVERSE)


RIGHT = expectations(expected(VANADIUM, (C10, C322)), expected(TITANIUM, (C11,)),
                     expected(CUSTOMS, (), related=(C323,)))
GOOD_REPLIES = [reply(VANADIUM, (C10, C322)), reply(TITANIUM, (C11,)), reply(CUSTOMS, (), (C323,), related=(C323,))]


def test_right_replies_pass_the_checks() -> None:
    for r in GOOD_REPLIES:
        assert loadgen.check_reply(r, RIGHT) == [], r.question


def test_a_wrong_expectation_map_fails_every_reply() -> None:
    # The same replies judged by swapped expectations: this is what a session answered with
    # another session's question looks like to the load test.
    swapped = expectations(expected(VANADIUM, (C11,)), expected(TITANIUM, (), related=(C323,)),
                           expected(CUSTOMS, (C10, C322)))
    for r in GOOD_REPLIES:
        problems = loadgen.check_reply(r, swapped)
        assert any(p.startswith("cited ") for p in problems), (r.question, problems)
        assert any(p.startswith("cross-talk") for p in problems), (r.question, problems)


def test_a_foreign_card_is_cross_talk_even_when_the_citations_are_right() -> None:
    # The answer lists its own citations, but the evidence also shows a clause of TITANIUM's.
    leaked = reply(VANADIUM, (C10, C322), cards=(C10, C322, C11))
    problems = loadgen.check_reply(leaked, RIGHT)
    assert not any(p.startswith("cited ") for p in problems)
    assert any(p.startswith("evidence cards") for p in problems)
    assert any(p.startswith("cross-talk") and C11 in p for p in problems)


def test_another_sessions_question_in_the_reply_is_caught() -> None:
    # Right citations, but the chat bubble and the evidence heading belong to another question.
    other = reply(TITANIUM, (C11,))
    mixed = loadgen.Reply(VANADIUM, 0, "/on_ask", 0.1, other.chat, "", reply(VANADIUM, (C10, C322), heading=TITANIUM).evidence_html)
    problems = loadgen.check_reply(mixed, RIGHT)
    assert any("echoes" in p for p in problems)
    assert any("headed by another question" in p for p in problems)


def test_errors_and_error_boxes_are_failures() -> None:
    assert loadgen.check_reply(loadgen.Reply(VANADIUM, 0, "/on_ask", 60.0, error="TimeoutError: "), RIGHT)
    failed = loadgen.Reply(VANADIUM, 0, "/on_ask", 0.1, [], '<div class="app-box app-error">出错</div>', "")
    assert any("reported an error" in p for p in loadgen.check_reply(failed, RIGHT))


def test_mentions_take_the_longest_citation() -> None:
    text = f"<p>{esc(C322)}</p> 以及 {md_literal(CH3)}。"
    assert loadgen.mentioned_citations(text, UNIVERSE) == {C322, CH3}
    assert loadgen.mentioned_citations(esc(C322), UNIVERSE) == {C322}  # not also 《指南》第三章


def test_question_plan_cycles_with_different_neighbours() -> None:
    distinct = loadgen.qa_questions()
    assert len(distinct) == len(set(distinct)) > 20
    plan = loadgen.question_plan(distinct, 2 * len(distinct) + 3)
    assert all(a != b for a, b in zip(plan, plan[1:], strict=False))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert loadgen.percentile(values, 50) == 50.0 and loadgen.percentile(values, 95) == 95.0
    assert loadgen.percentile([3.0], 95) == 3.0 and loadgen.percentile([], 50) == 0.0


# ---------------------------------------------------------------------------------------------
# The real thing

CLIENTS, QUESTIONS, DEADLINE_S, REQUEST_TIMEOUT_S = 20, 200, 240.0, 60.0


@pytest.mark.slow
def test_twenty_sessions_each_get_their_own_citations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = loadgen.run_load(CLIENTS, QUESTIONS, DEADLINE_S, REQUEST_TIMEOUT_S, log_dir=tmp_path)
    s = report.summary()
    with capsys.disabled():  # for information only: the machine is shared, nothing is timed
        lat, rss = s["latency_ms"], s["rss_mb"]
        print(f"\n[load] {s['completed']}/{s['questions']} answered, {s['clients']} clients, {s['burst_s']} s: "
              f"{s['throughput_qps']} questions/s, p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms; "
              f"RSS MB start {rss['start']}, warm {rss['after_warmup']}, peak {rss['peak']}, end {rss['end']}")

    # The check has teeth only if neighbouring questions (those in flight together) differ in
    # what they cite, and if the set holds both answers with several citations and abstentions.
    exp = report.expectations.by_question
    plan = [r.question for r in report.replies]
    assert len(plan) == QUESTIONS and len(set(plan)) == QUESTIONS
    neighbours_differ = sum(exp[a].mentions != exp[b].mentions for a, b in zip(plan, plan[1:], strict=False))
    assert neighbours_differ >= 0.8 * (QUESTIONS - 1)
    assert any(e.abstained for e in exp.values()) and any(len(e.citations) > 1 for e in exp.values())

    def listing(faulty: list[tuple[int, Any, list[str]]]) -> str:
        return "\n".join(f"#{i} client {r.client} {r.endpoint} {r.question!r}: {'; '.join(p)}"
                         for i, r, p in faulty[:15])

    errors = [(i, r, [r.error]) for i, r in enumerate(report.replies) if r.error]
    assert not errors, f"{len(errors)} requests failed:\n{listing(errors)}\n--- app log ---\n{report.app_log_tail}"
    faulty = report.problems()
    assert not faulty, f"{len(faulty)} replies are wrong:\n{listing(faulty)}"
    assert not report.problems(report.warmup), listing(report.problems(report.warmup))

    assert report.rss_peak_kb < RSS_LIMIT_KB, s["rss_mb"]
    assert report.rss_end_kb - report.rss_warm_kb < RSS_GROWTH_LIMIT_KB, s["rss_mb"]

    assert report.alive_after, f"the app no longer serves after the burst:\n{report.app_log_tail}"
    assert report.probe and not report.problems(report.probe), listing(report.problems(report.probe))
