"""Concurrent chat load against a real `python app.py`, and the checks of every reply.

Shared by `benchmarks/load.py` (figures) and `tests/test_load.py` (assertions): one piece of code
starts the app, sends the questions and judges the replies; the two callers differ only in what
they do with the report.

How a run goes (`run_load`):

1. The expected reply of every question is computed in this process first, with the app's own
   library: `Asker(load_runtime(Settings.from_env()))` without an LLM (answers are then
   deterministic), rendered by `webapp.handlers.answer_turn` exactly as the app renders it.
2. The app is started as a subprocess on a free loopback port, without RAG_LLM_* (so it answers
   extractively too, and no request leaves the machine), and polled until `/` answers.
3. Each of N clients is a `gradio_client.Client`, i.e. its own Gradio session. Warm-up: each
   client asks one question, concurrently. Then the burst: request i goes to client i % N, so
   the ~N questions in flight at any moment are N neighbouring, different questions of the plan.
   Before each question a client presses 新对话 (the app's `/reset` event): the session keeps
   earlier questions for follow-ups ("那稀土呢？"), and the expectation is for a fresh
   conversation. Odd clients ask through the Enter-key event (`/on_ask_1`), even ones through
   the 发送 button (`/on_ask`): both are wired to the same handler and must answer alike.
4. Every reply is checked against ITS OWN question's expectation (`check_reply`): the question
   echoed back, the listed citations and the evidence cards exactly as expected, and no citation
   mentioned anywhere in the reply that belongs to another question (cross-talk between sessions).
5. The app's RSS (the process and any children, from /proc) is read after start-up, after the
   warm-up, sampled during the burst (peak) and read at the end; a last question from a fresh
   session and a GET of `/` show the server still serves after the burst.

Every loop is bounded: a fixed number of requests, a per-request timeout, an overall deadline
after which no new request is sent, and the subprocess is always terminated.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python benchmarks/load.py` without installing the package

from webapp.launch import running_app  # noqa: E402  (after the path insert above)

QA_DIR = ROOT / "evaluation" / "qa"
ASK_ENDPOINTS = ("/on_ask", "/on_ask_1")   # 发送 button, Enter in the question box: one handler
RESET_ENDPOINT = "/reset"                 # the 新对话 button: clears the session's history
STARTUP_TIMEOUT_S = 120.0
RSS_SAMPLE_S = 0.5
# Variables that would make the app call an LLM: its answers would no longer be deterministic
# and requests would leave the machine. The host stays on the loopback default.
APP_ENV_DROP = ("RAG_LLM_BASE_URL", "RAG_LLM_MODEL", "RAG_LLM_API_KEY", "RAG_HOST", "RAG_PORT")


# ---------------------------------------------------------------------------------------------
# Questions and expectations

def qa_questions(qa_dir: Path = QA_DIR) -> list[str]:
    """The distinct QA-set questions, interleaved file by file so that neighbours differ in topic."""
    per_file: list[list[str]] = []
    for path in sorted(qa_dir.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        per_file.append([str(r["question"]) for r in rows])
    out: list[str] = []
    seen: set[str] = set()
    for i in range(max((len(qs) for qs in per_file), default=0)):
        for qs in per_file:
            if i < len(qs) and qs[i] not in seen:
                seen.add(qs[i])
                out.append(qs[i])
    return out


def question_plan(distinct: Sequence[str], n: int) -> list[str]:
    """n questions cycling through `distinct`; neighbours differ whenever there are two or more."""
    if not distinct:
        raise ValueError("no questions")
    return [distinct[i % len(distinct)] for i in range(n)]


@dataclass(frozen=True)
class Expected:
    """What the app must show for one question in a fresh conversation."""

    question: str
    citations: tuple[str, ...]       # the answer's citations, in marker order ([1], [2], …)
    clause_ids: tuple[str, ...]      # the same clauses by id (for messages)
    cards: tuple[str, ...]           # citations of the evidence cards: the cited, or the 可能相关 ones
    mentions: frozenset[str]         # every corpus citation the rendered reply names anywhere
    abstained: bool


@dataclass(frozen=True)
class Expectations:
    """Expected replies by question, and every citation of the corpus (to find foreign ones)."""

    by_question: Mapping[str, Expected]
    universe: tuple[str, ...]
    seconds_per_question: float = 0.0   # median in-process answering time: the service time


def compute_expectations(questions: Iterable[str]) -> Expectations:
    """Answer each distinct question in this process, as a fresh conversation in the app would."""
    from rag.ask import Asker
    from rag.config import Settings
    from rag.runtime import load_runtime
    from webapp.handlers import answer_turn

    runtime = load_runtime(Settings.from_env())
    asker = Asker(runtime)  # no LLM, like the app started by AppServer
    universe = tuple(c.citation for c in runtime.corpus.clauses)
    by_question: dict[str, Expected] = {}
    seconds: list[float] = []
    for q in dict.fromkeys(questions):
        start = time.perf_counter()
        turn = answer_turn(runtime, asker, q)
        seconds.append(time.perf_counter() - start)
        a = turn.answer
        cards = a.related if a.abstained else a.citations
        by_question[q] = Expected(
            question=q,
            citations=tuple(h.clause.citation for h in a.citations),
            clause_ids=tuple(h.clause.clause_id for h in a.citations),
            cards=tuple(h.clause.citation for h in cards),
            mentions=frozenset(mentioned_citations(turn.bot_markdown, universe)
                               | mentioned_citations(turn.evidence_html, universe)),
            abstained=a.abstained)
    # The median: the first question also pays for loading the tokenizer's dictionary.
    return Expectations(by_question, universe, statistics.median(seconds) if seconds else 0.0)


# ---------------------------------------------------------------------------------------------
# Replies and their checks

@dataclass(frozen=True)
class Reply:
    """What one client got back for one question (error set when nothing usable came back)."""

    question: str
    client: int
    endpoint: str
    latency_s: float
    chat: Any = None          # the Chatbot value: [user message, assistant message]
    status_html: str = ""     # chat_status: an error box when the handler failed
    evidence_html: str = ""
    error: str | None = None


@dataclass(frozen=True)
class ParsedReply:
    """The parts of a reply that the checks compare."""

    user_text: str
    bot_text: str
    listed: tuple[str, ...]   # the **引用条款：** lines of the answer, in order
    cards: tuple[str, ...]    # <strong class="citation"> of each evidence card, in order
    mentions: frozenset[str]  # every corpus citation named anywhere in the reply


_TAG = re.compile(r"<[^>]+>")
_CARD_CITATION = re.compile(r'<strong class="citation">(.*?)</strong>', re.S)
_LISTED = re.compile(r"^\[(\d+)\] (.+)$")
CITATIONS_HEADING = "**引用条款：**"


def _plain(markup: str) -> str:
    # Tags out first (clause text carries <mark>), then entities: md_literal and esc both use them.
    return html.unescape(_TAG.sub("", markup))


def mentioned_citations(markup: str, universe: Sequence[str]) -> set[str]:
    """The corpus citations named in a piece of Markdown/HTML, longest match first.

    Longest first so that a chapter's citation is not also counted inside the citation of one of
    its items (《指南》第三章 within 《指南》第三章第二节（二）).
    """
    names = sorted({u for u in universe if u}, key=len, reverse=True)
    if not names or not markup:
        return set()
    pattern = re.compile("|".join(re.escape(n) for n in names))
    return {m.group() for m in pattern.finditer(_plain(markup))}


def _message_text(message: Any) -> str:
    # Gradio 6 sends content as a list of parts ({"type": "text", "text": …}); older ones a string.
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def parse_reply(reply: Reply, universe: Sequence[str]) -> ParsedReply:
    """Split a reply into the echoed question, the listed citations, the cards and all mentions."""
    chat = reply.chat if isinstance(reply.chat, list) else []
    user = next((m for m in chat if isinstance(m, dict) and m.get("role") == "user"), None)
    bot = next((m for m in reversed(chat) if isinstance(m, dict) and m.get("role") == "assistant"), None)
    bot_md = _message_text(bot) if bot is not None else ""
    listed: list[str] = []
    in_list = False
    for line in bot_md.splitlines():
        if line.strip() == CITATIONS_HEADING:  # the heading is the only unescaped ** in the answer
            in_list = True
        elif in_list and not line.strip():
            break  # the list ends at the blank line before the closing note
        elif in_list and (m := _LISTED.match(html.unescape(line))):  # each line: md_literal("[i] citation")
            listed.append(m.group(2).strip())
    cards = tuple(html.unescape(c).strip() for c in _CARD_CITATION.findall(reply.evidence_html))
    mentions = mentioned_citations(bot_md, universe) | mentioned_citations(reply.evidence_html, universe)
    return ParsedReply(_plain(_message_text(user)) if user is not None else "", _plain(bot_md),
                       tuple(listed), cards, frozenset(mentions))


def check_reply(reply: Reply, expectations: Expectations) -> list[str]:
    """What is wrong with a reply, judged against its own question's expectation; [] when right."""
    if reply.error:
        return [f"error: {reply.error}"]
    exp = expectations.by_question.get(reply.question)
    if exp is None:
        return [f"no expectation for {reply.question!r}"]
    if "app-error" in reply.status_html:
        return [f"the app reported an error: {_plain(reply.status_html)}"]
    got = parse_reply(reply, expectations.universe)
    problems: list[str] = []
    if got.user_text != reply.question.strip():
        problems.append(f"the chat echoes {got.user_text!r}, not the question asked")
    if not got.bot_text:
        problems.append("no answer message")
    if got.listed != exp.citations:
        problems.append(f"cited {list(got.listed)}, expected {list(exp.citations)} ({', '.join(exp.clause_ids)})")
    if got.cards != exp.cards:
        problems.append(f"evidence cards {list(got.cards)}, expected {list(exp.cards)}")
    if not exp.abstained and f"（问题：{html.escape(reply.question)}）" not in reply.evidence_html:
        problems.append("the evidence is headed by another question")
    foreign = got.mentions - exp.mentions
    if foreign:
        others = {c for q, e in expectations.by_question.items() if q != reply.question for c in e.mentions}
        if foreign & others:
            problems.append(f"cross-talk: names {sorted(foreign & others)}, which belong to other questions")
        if foreign - others:
            problems.append(f"names unexpected citations {sorted(foreign - others)}")
    return problems


# ---------------------------------------------------------------------------------------------
# The app as a subprocess

def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # Fields after the command name, which is in parentheses and may contain spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def rss_kb(pid: int) -> int:
    """VmRSS of a process and all its descendants, in kB (0 once it is gone)."""
    children = _proc_children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _http_ok(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class AppServer:
    """`python app.py --port N` with the bundled corpus; use as `with AppServer.start(...) as app:`."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    @classmethod
    @contextlib.contextmanager
    def start(cls, log: Path) -> Iterator[AppServer]:
        """Start the app (webapp.launch), wait until it serves `/`, and always terminate it on the way out."""
        env = {"RAG_FEEDBACK_LOG": str(log.with_suffix(".feedback.jsonl"))}
        with running_app(log.parent, env=env, drop_env=APP_ENV_DROP, timeout=STARTUP_TIMEOUT_S) as app:
            yield cls(app.process, app.url, app.log)

    def alive(self) -> bool:
        """The process is running and `/` answers."""
        return self.proc.poll() is None and _http_ok(self.url)

    def rss_kb(self) -> int:
        """Resident memory of the app (and any children), kB."""
        return rss_kb(self.proc.pid)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the app's output, for failure messages."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


class RssSampler:
    """Samples a process tree's RSS in a thread until stopped (or until its own time limit)."""

    def __init__(self, pid: int, limit_s: float) -> None:
        self.pid, self.limit_s = pid, limit_s
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
            self._stop.wait(RSS_SAMPLE_S)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.peak_kb = max(self.peak_kb, rss_kb(self.pid))


# ---------------------------------------------------------------------------------------------
# Clients

def make_client(url: str) -> Any:
    """A gradio_client Client: its own session; no telemetry, no downloads, no proxy."""
    from gradio_client import Client

    # trust_env=False: a proxy from the environment must not carry loopback traffic elsewhere.
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, max_workers=4,
                  httpx_kwargs={"trust_env": False})


def _call(client: Any, args: Sequence[Any], api_name: str, timeout: float) -> Any:
    job = client.submit(*args, api_name=api_name)
    try:
        return job.result(timeout=timeout)
    except TimeoutError:
        job.cancel()  # leave no orphan job in the app's queue
        raise


def ask(client: Any, index: int, question: str, timeout: float) -> Reply:
    """Start a fresh conversation in this client's session and ask one question."""
    endpoint = ASK_ENDPOINTS[index % len(ASK_ENDPOINTS)]
    begin = start = time.perf_counter()
    try:
        _call(client, (), RESET_ENDPOINT, timeout)
        start = time.perf_counter()  # latency of the question itself, not of the reset
        out = _call(client, (question, []), endpoint, max(1.0, timeout - (start - begin)))
    except Exception as exc:  # any failure is a finding of the run, never a crash of it
        return Reply(question, index, endpoint, time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
    latency = time.perf_counter() - start
    if not (isinstance(out, (list, tuple)) and len(out) >= 3):
        return Reply(question, index, endpoint, latency, error=f"unexpected outputs: {out!r:.200}")
    chat, status, evidence = out[0], out[1], out[2]
    return Reply(question, index, endpoint, latency, chat, str(status or ""), str(evidence or ""))


def run_clients(clients: Sequence[Any], plan: Sequence[str], deadline: float, request_timeout_s: float) -> list[Reply]:
    """Send plan[i] from clients[i % len(clients)], all clients at once; replies in plan order.

    A request not started before `deadline` is recorded as an error without being sent; each
    request waits at most request_timeout_s (and never past the deadline by more than that).
    """
    n = len(clients)
    replies: list[Reply | None] = [None] * len(plan)

    def work(c: int) -> None:
        for i in range(c, len(plan), n):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                replies[i] = Reply(plan[i], c, "", 0.0, error="not sent: overall deadline passed")
                continue
            replies[i] = ask(clients[c], c, plan[i], min(request_timeout_s, remaining))

    threads = [threading.Thread(target=work, args=(c,), name=f"load-client-{c}", daemon=True) for c in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        # Each request is bounded; this join bound is only a backstop against a stuck client.
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 2 * request_timeout_s)
    return [r if r is not None else Reply(plan[i], i % n, "", 0.0, error="no reply: client thread still busy")
            for i, r in enumerate(replies)]


# ---------------------------------------------------------------------------------------------
# A whole run

def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass
class LoadReport:
    """Everything a run measured; `summary()` is the JSON-able part."""

    clients: int
    expectations: Expectations
    warmup: list[Reply] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    probe: list[Reply] = field(default_factory=list)
    burst_s: float = 0.0
    rss_start_kb: int = 0
    rss_warm_kb: int = 0
    rss_peak_kb: int = 0
    rss_end_kb: int = 0
    alive_after: bool = False
    app_log_tail: str = ""

    def problems(self, replies: Sequence[Reply] | None = None) -> list[tuple[int, Reply, list[str]]]:
        """(index, reply, problems) of every faulty reply (of the burst unless others are given)."""
        rs = self.replies if replies is None else replies
        out = []
        for i, r in enumerate(rs):
            found = check_reply(r, self.expectations)
            if found:
                out.append((i, r, found))
        return out

    def summary(self) -> dict[str, Any]:
        """Throughput, latency, errors and memory: what the benchmark writes and prints."""
        ok = [r for r in self.replies if r.error is None]
        lat = [r.latency_s * 1000 for r in ok]
        faulty = self.problems()
        return {
            "clients": self.clients,
            "questions": len(self.replies),
            "distinct_questions": len({r.question for r in self.replies}),
            "completed": len(ok),
            "errors": len(self.replies) - len(ok),
            "wrong_replies": sum(1 for _, r, _p in faulty if r.error is None),
            "cross_talk": sum(1 for _, _r, p in faulty if any(x.startswith("cross-talk") for x in p)),
            "burst_s": round(self.burst_s, 2),
            "throughput_qps": round(len(ok) / self.burst_s, 3) if self.burst_s else 0.0,
            "latency_ms": {"p50": round(percentile(lat, 50), 1), "p95": round(percentile(lat, 95), 1),
                           "max": round(max(lat, default=0.0), 1),
                           "mean": round(statistics.fmean(lat), 1) if lat else 0.0},
            "in_process_ms_per_question": round(self.expectations.seconds_per_question * 1000, 1),
            "rss_mb": {"start": round(self.rss_start_kb / 1024, 1), "after_warmup": round(self.rss_warm_kb / 1024, 1),
                       "peak": round(self.rss_peak_kb / 1024, 1), "end": round(self.rss_end_kb / 1024, 1),
                       "growth_after_warmup": round((self.rss_end_kb - self.rss_warm_kb) / 1024, 1)},
            "warmup_problems": len(self.problems(self.warmup)),
            "probe_ok": bool(self.probe) and not self.problems(self.probe),
            "alive_after": self.alive_after,
        }


def run_load(clients: int = 20, questions: int = 200, deadline_s: float = 240.0, request_timeout_s: float = 60.0,
             log_dir: Path | None = None, progress: bool = False) -> LoadReport:
    """Expectations in-process, then warm-up, burst and probe against a fresh app subprocess."""
    if clients < 1 or questions < 1:
        raise ValueError("clients and questions must be at least 1")
    began = time.monotonic()

    def say(msg: str) -> None:
        if progress:
            print(f"[{time.monotonic() - began:6.1f} s] {msg}", flush=True)

    distinct = qa_questions()
    plan = question_plan(distinct, questions)
    # Warm-up questions come from beyond the plan where the QA set has enough, so that the burst
    # does not merely repeat what the warm-up just asked.
    warm = question_plan(distinct[questions:] or distinct, clients)
    say(f"computing expectations for {len(set(plan) | set(warm))} questions in-process …")
    expectations = compute_expectations([*plan, *warm])
    report = LoadReport(clients, expectations)

    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        log = (log_dir or Path(tmp)) / "app.log"
        say("starting app.py …")
        with AppServer.start(log) as app:
            report.rss_start_kb = app.rss_kb()
            pool = []
            try:
                for _ in range(clients):
                    pool.append(make_client(app.url))
                say(f"warm-up: {clients} questions from {clients} sessions …")
                report.warmup = run_clients(pool, warm, time.monotonic() + deadline_s, request_timeout_s)
                report.rss_warm_kb = app.rss_kb()
                say(f"burst: {questions} questions from {clients} sessions …")
                with RssSampler(app.proc.pid, deadline_s + 2 * request_timeout_s) as sampler:
                    start = time.perf_counter()
                    report.replies = run_clients(pool, plan, time.monotonic() + deadline_s, request_timeout_s)
                    report.burst_s = time.perf_counter() - start
                report.rss_end_kb = app.rss_kb()
                report.rss_peak_kb = max(sampler.peak_kb, report.rss_end_kb)
                # Still serving: one more question from a brand-new session, and the page itself.
                probe_client = make_client(app.url)
                pool.append(probe_client)
                report.probe = [ask(probe_client, 0, plan[0], request_timeout_s)]
                report.alive_after = app.alive()
            finally:
                for client in pool:
                    with contextlib.suppress(Exception):  # best effort: the app is terminated anyway
                        client.close()
                report.app_log_tail = app.log_tail()
    return report
