"""End to end in headless Chromium: `python app.py` as a real subprocess, driven through the page.

Needs Debian's chromium at /usr/bin/chromium (scripts/install-browser.sh installs it; Playwright's
own browser download is not used). The tests share one app and one page and run in file order:
chat, search, hostile input, browse. Each tab is saved as a screenshot: to a temporary folder, or to
the folder RAG_SCREENSHOTS names (`RAG_SCREENSHOTS=docs/screenshots` refreshes the README's pictures; a plain
test run leaves the checkout unchanged).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rag.config import ROOT
from webapp.launch import running_app

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and os.environ.get("CI"):
    # CI installs it (scripts/install-browser.sh): a skip there would hide a broken install step.
    raise RuntimeError("CI: /usr/bin/chromium is missing; scripts/install-browser.sh should have installed it")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (run scripts/install-browser.sh)",
                allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402  (only once chromium is known to exist)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000


@dataclass
class AppUnderTest:
    url: str
    feedback: Path
    log: Path


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppUnderTest]:
    """The app on a free port, serving the bundled corpus; always terminated afterwards."""
    tmp = tmp_path_factory.mktemp("app")
    feedback = tmp / "feedback.jsonl"
    try:
        with running_app(tmp, env={"RAG_FEEDBACK_LOG": str(feedback)}) as running:
            yield AppUnderTest(running.url, feedback, running.log)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@dataclass
class Browser:
    page: Page
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (RAG_SCREENSHOTS, relative to the project root, or a temporary folder)."""
    named = os.environ.get("RAG_SCREENSHOTS")
    folder = ROOT / named if named else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(app: AppUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, locale="zh-CN", viewport={"width": 1280, "height": 960})
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            b = Browser(page)
            # Any alert() means injected markup ran: record it (and dismiss it so the page goes on).
            page.on("dialog", lambda d: (b.dialogs.append(d.message), d.dismiss()))
            page.goto(app.url)
            page.wait_for_selector("#chat-input textarea")
            yield b
        finally:
            context.close()


def test_chat_answers_with_a_citation_and_the_clause_text(browser: Browser, app: AppUnderTest,
                                                           shots: Path) -> None:
    page = browser.page
    page.get_by_role("tab", name="问答").click()
    page.fill("#chat-input textarea", "钒电池储能有什么支持政策？")
    page.click("#chat-send")
    page.wait_for_selector("#evidence .clause-card")
    chat = page.inner_text("#chatbot")
    assert "钒电池储能有什么支持政策？" in chat
    assert "[1]" in chat and ("《若干意见》" in chat or "《指南》" in chat)
    evidence = page.inner_text("#evidence")
    assert "[1]" in evidence and "钒电池储能" in evidence and "大力发展钒钛" in evidence  # clause text in full
    assert page.locator("#evidence mark").count() > 0
    page.screenshot(path=str(shots / "chat.png"), full_page=True)

    page.get_by_role("button", name="赞").last.click()
    page.wait_for_selector("#chat-status .app-info")
    entry = json.loads(app.feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["vote"] == "up" and entry["question"] == "钒电池储能有什么支持政策？"


def test_chat_answers_a_question_about_the_document_itself_without_a_clause(browser: Browser, shots: Path) -> None:
    page = browser.page
    page.fill("#chat-input textarea", "若干意见是什么时候印发的？")
    page.click("#chat-send")
    expect(page.locator("#chatbot")).to_contain_text("2025年7月31日")
    expect(page.locator("#evidence")).to_contain_text("不属于任何条款")
    assert "**" not in page.inner_text("#chatbot")  # the note's bold is rendered, not shown as typed
    assert page.locator("#evidence .clause-card").count() == 0
    page.screenshot(path=str(shots / "chat-document.png"), full_page=True)


def test_search_by_clause_number_puts_that_clause_first(browser: Browser, shots: Path) -> None:
    page = browser.page
    page.get_by_role("tab", name="条款检索").click()
    assert "输入关键词、问题或条款编号" in page.inner_text("#search-results")  # the empty state
    page.fill("#search-query textarea", "第三章第二节（二）")
    page.click("#search-btn")
    page.wait_for_selector("#search-results .hit")
    first = page.locator("#search-results .hit").first
    assert first.locator(".citation").inner_text() == "《指南》第三章第二节（二）"
    assert first.locator(".cite-copy").inner_text() == "《指南》第三章第二节（二）"
    page.screenshot(path=str(shots / "search.png"), full_page=True)


def test_hostile_input_is_shown_as_text_and_never_runs(browser: Browser) -> None:
    page = browser.page
    page.get_by_role("tab", name="条款检索").click()
    page.fill("#search-query textarea", HOSTILE)
    page.click("#search-btn")
    page.wait_for_function("document.querySelector('#search-results').innerText.includes('onerror')")
    assert HOSTILE in page.inner_text("#search-results .result-summary")

    page.get_by_role("tab", name="问答").click()
    replies = page.locator("#chatbot [data-testid='bot']")
    before = replies.count()
    page.fill("#chat-input textarea", f"{HOSTILE} **粗体**")
    page.click("#chat-send")
    expect(replies).to_have_count(before + 1)
    assert page.locator("#chatbot [data-testid='user']").last.inner_text().strip() == f"{HOSTILE} **粗体**"
    page.wait_for_timeout(300)  # an onerror would fire as soon as the broken image was inserted
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("#chatbot strong", has_text="粗体").count() == 0
    assert browser.dialogs == []


def test_browse_a_document_and_open_a_clause(browser: Browser, shots: Path) -> None:
    page = browser.page
    page.get_by_role("tab", name="文件浏览").click()
    assert "川办发〔2025〕26号" in page.inner_text("#browse-meta")
    page.click("#browse-tree [data-clause='sichuan-mining-opinions-2025:pt5.it15']")  # click in the tree
    page.wait_for_function("document.querySelector('#browse-clause').innerText.includes('提升战略找矿科创水平')")
    assert "《若干意见》（十五）" in page.inner_text("#browse-clause")

    page.click("#browse-doc input")  # the other document, then a clause from the list
    page.get_by_role("option", name="《指南》 四川省钒钛钢铁及稀土产业高质量发展指南").click()
    page.wait_for_function("document.querySelector('#browse-meta').innerText.includes('未载明')")
    page.click("#browse-node input")
    page.get_by_role("option", name="《指南》第三章第二节（二） 做大做精钒钛产业").click()
    page.wait_for_function("document.querySelector('#browse-clause').innerText.includes('做大做精钒钛产业')")
    text = page.inner_text("#browse-clause")
    assert "《指南》第三章第二节（二）" in text and "钒电池储能示范项目" in text
    expect(page.get_by_role("option")).to_have_count(0)  # the list has closed: a clean screenshot
    page.screenshot(path=str(shots / "browse.png"), full_page=True)
    assert browser.dialogs == []
