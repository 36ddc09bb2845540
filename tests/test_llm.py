"""The LLM path against a real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

The server is scripted per test (reply text, status, delay, raw body) and records every request, so
the tests see what the shipped client really sends and how the shipped code copes with what comes
back: checked and renumbered citations, or the extractive answer with a note saying why.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rag.answer import Answer
from rag.ask import Asker
from rag.config import ROOT, Settings
from rag.errors import RagError
from rag.generate import LLMConfig, check_markers, generate_with_fallback, llm_from_env
from rag.lc import ClauseRetriever
from rag.runtime import Runtime, load_runtime

pytestmark = pytest.mark.slow  # loads the real model and index

QUESTION = "钒电池储能有什么支持政策？"
# A reply citing the last offered clause first and then the first one, so renumbering shows:
# [Cn] becomes [1] and [C1] becomes [2].
VALID = "支持建设钒电池储能示范项目。[C{n}]\n推动钒电池储能产业集群集聚规模化发展。[C1][C{n}]"
VALID_SHOWN = "支持建设钒电池储能示范项目。[1]\n推动钒电池储能产业集群集聚规模化发展。[2][1]"


@dataclass
class Reply:
    """What the fake endpoint answers next."""

    content: str | None = ""
    status: int = 200
    delay: float = 0.0
    body: bytes | None = None      # a raw body instead of the standard JSON (malformed replies)


@dataclass
class Recorded:
    path: str
    authorization: str | None
    body: dict[str, Any]


class FakeChatServer(ThreadingHTTPServer):
    """An OpenAI-compatible chat endpoint: POST /v1/chat/completions with system + user messages."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatHandler)
        self.reply = Reply()
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()   # wakes sleeping handlers at shutdown

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ChatHandler(BaseHTTPRequestHandler):
    server: FakeChatServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        self.server.requests.append(Recorded(self.path, self.headers.get("Authorization"), body))
        roles = [m.get("role") for m in body.get("messages", [])]
        if self.path != "/v1/chat/completions" or roles != ["system", "user"]:
            self._send(400, json.dumps({"error": {"message": f"unexpected {self.path} {roles}"}}).encode())
            return
        r = self.server.reply
        if r.delay and self.server.stopping.wait(r.delay):
            return
        if r.body is not None:
            self._send(r.status, r.body)
        elif r.status != 200:
            self._send(r.status, json.dumps({"error": {"message": "internal error", "type": "server_error"}}).encode())
        else:
            self._send(200, json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": r.content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }, ensure_ascii=False).encode())

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[FakeChatServer]:
    srv = FakeChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.stopping.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.fixture
def fake(server: FakeChatServer, extractive: Answer) -> FakeChatServer:
    """The server, reset to answer with valid markers over QUESTION's offered clauses."""
    server.reply = Reply(VALID.format(n=len(extractive.retrieved)))
    server.requests.clear()
    return server


@pytest.fixture(scope="module")
def rt() -> Runtime:
    return load_runtime(Settings.from_env())


@pytest.fixture(scope="module")
def extractive(rt: Runtime) -> Answer:
    a = Asker(rt).ask(QUESTION)
    assert not a.abstained and a.mode == "extractive" and len(a.retrieved) == 5
    return a


def config(srv: FakeChatServer, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(srv.base_url, "fake-model", "sk-test", timeout)


def free_port() -> int:
    """A port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_fallback(a: Answer, extractive: Answer, note: str) -> None:
    assert a.mode == "extractive"
    assert (a.text, a.citations, a.abstained) == (extractive.text, extractive.citations, False)
    assert any(note in n for n in a.notes), a.notes


# (a) valid markers
def test_valid_markers_become_display_markers_in_order_of_first_use(fake: FakeChatServer, extractive: Answer) -> None:
    a = generate_with_fallback(config(fake), extractive, extractive.retrieved)
    offered = extractive.retrieved
    assert a.mode == "llm" and not a.abstained and a.notes == ()
    assert a.text == VALID_SHOWN
    assert a.citations == (offered[-1], offered[0])
    assert a.retrieved == offered and a.question == QUESTION
    assert len(fake.requests) == 1


# (b) invented markers
def test_invented_markers_and_clause_ids_are_dropped_and_reported(fake: FakeChatServer, extractive: Answer) -> None:
    offered = extractive.retrieved
    real_id = offered[1].clause.clause_id
    fake.reply = Reply("钒电池储能示范项目得到支持。[C9][C5]\n"
                       "另有专项资金补贴。[sichuan-vti-re-guide:ch9.sec9.it9]\n"
                       f"要求优化产业布局。[{real_id}]")
    a = generate_with_fallback(config(fake), extractive, offered)
    assert a.mode == "llm"
    assert a.text == "钒电池储能示范项目得到支持。[1]\n另有专项资金补贴。\n要求优化产业布局。[2]"
    assert a.citations == (offered[4], offered[1])
    assert a.notes == ("已删除无效引用 [C9]", "已删除无效引用 [sichuan-vti-re-guide:ch9.sec9.it9]")


def test_marker_forms_models_write(extractive: Answer) -> None:
    hits = extractive.retrieved[:3]
    checked = check_markers("甲。[C1, C3] 乙。【C2】丙。[1] 丁。[c2][C2]", hits)
    assert checked.text == "甲。[1][2] 乙。[3]丙。 丁。[3]"
    assert checked.citations == (hits[0], hits[2], hits[1])
    assert checked.notes == ("已删除无效引用 [1]",)   # a bare [1] would pass for one of our display markers
    assert not checked.not_covered
    assert check_markers("文件未涉及。", hits).not_covered
    assert not check_markers("文件未涉及补贴标准，但支持示范项目。[C1]", hits).not_covered


# (c) no markers
def test_reply_without_markers_falls_back_to_extractive(fake: FakeChatServer, extractive: Answer) -> None:
    fake.reply = Reply("国家支持钒电池储能产业发展，给予资金补贴。")
    a = generate_with_fallback(config(fake), extractive, extractive.retrieved)
    assert_fallback(a, extractive, "大模型回答没有有效引用，已改用抽取式回答")


def test_not_covered_reply_keeps_extractive_answer_with_note(fake: FakeChatServer, extractive: Answer) -> None:
    fake.reply = Reply("文件未涉及。")
    a = generate_with_fallback(config(fake), extractive, extractive.retrieved)
    assert_fallback(a, extractive, "大模型认为文件未涉及")


# (d) slow endpoint
def test_slow_endpoint_times_out_quickly_and_falls_back(fake: FakeChatServer, extractive: Answer) -> None:
    fake.reply = Reply(delay=2.0)
    t = time.perf_counter()
    a = generate_with_fallback(config(fake, timeout=0.5), extractive, extractive.retrieved)
    elapsed = time.perf_counter() - t
    assert elapsed < 1.8, elapsed  # one 0.5 s attempt, no retries, not the server's 2 s
    assert_fallback(a, extractive, "大模型服务不可用（")
    assert "0.5 秒内没有回复" in a.notes[-1] and a.notes[-1].count("\n") == 0


# (e) HTTP 500
def test_http_500_falls_back_with_note(fake: FakeChatServer, extractive: Answer) -> None:
    fake.reply = Reply(status=500)
    a = generate_with_fallback(config(fake), extractive, extractive.retrieved)
    assert_fallback(a, extractive, "HTTP 500")
    assert a.notes[-1].endswith("），已改用抽取式回答") and len(fake.requests) == 1  # no retries


@pytest.mark.parametrize("body", [b"not json at all", b'{"object": "chat.completion"}',
                                  json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": ""},
                                                           "finish_reason": "stop"}]}).encode()],
                         ids=["not-json", "no-choices", "empty-content"])
def test_malformed_or_empty_reply_falls_back(fake: FakeChatServer, extractive: Answer, body: bytes) -> None:
    fake.reply = Reply(body=body)
    a = generate_with_fallback(config(fake), extractive, extractive.retrieved)
    assert_fallback(a, extractive, "大模型服务不可用（")


# (f) endpoint down
def test_endpoint_down_falls_back_with_note(extractive: Answer) -> None:
    cfg = LLMConfig(f"http://127.0.0.1:{free_port()}/v1", "fake-model", "EMPTY", 2.0)
    t = time.perf_counter()
    a = generate_with_fallback(cfg, extractive, extractive.retrieved)
    assert time.perf_counter() - t < 2.0
    assert_fallback(a, extractive, "无法连接 http://127.0.0.1:")


# (g) no LLM configured
def test_without_llm_env_asker_answers_extractively(monkeypatch: pytest.MonkeyPatch, rt: Runtime) -> None:
    monkeypatch.delenv("RAG_LLM_BASE_URL", raising=False)
    monkeypatch.setenv("RAG_LLM_MODEL", "fake-model")
    assert llm_from_env() is None
    a = Asker(rt, llm=llm_from_env()).ask(QUESTION)
    assert a.mode == "extractive" and a.notes == () and not a.abstained and a.citations


def test_llm_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RAG_LLM_API_KEY", "OPENAI_API_KEY", "RAG_LLM_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.delenv("RAG_LLM_MODEL", raising=False)
    assert llm_from_env() is None
    monkeypatch.setenv("RAG_LLM_MODEL", "qwen")
    assert llm_from_env() == LLMConfig("http://127.0.0.1:8000/v1", "qwen", "EMPTY", 20.0)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "3.5")
    cfg = llm_from_env()
    assert cfg is not None and (cfg.api_key, cfg.timeout) == ("sk-openai", 3.5)
    assert "sk-openai" not in repr(cfg)
    monkeypatch.setenv("RAG_LLM_API_KEY", "sk-rag")
    assert llm_from_env() == LLMConfig("http://127.0.0.1:8000/v1", "qwen", "sk-rag", 3.5)
    for bad in ("abc", "0", "-1", "nan"):
        monkeypatch.setenv("RAG_LLM_TIMEOUT", bad)
        with pytest.raises(RagError, match="RAG_LLM_TIMEOUT") as err:
            llm_from_env()
        assert "\n" not in str(err.value)


# (h) the prompt
def test_prompt_sent_holds_the_offered_clauses_and_the_question(fake: FakeChatServer, extractive: Answer) -> None:
    generate_with_fallback(config(fake), extractive, extractive.retrieved)
    (req,) = fake.requests
    assert req.path == "/v1/chat/completions" and req.authorization == "Bearer sk-test"
    body = req.body
    assert body["model"] == "fake-model" and body["temperature"] == 0 and not body.get("stream")
    system, user = body["messages"]
    assert system["role"] == "system" and "[C1][C3]" in system["content"] and "文件未涉及" in system["content"]
    assert user["role"] == "user" and QUESTION in user["content"]
    for i, h in enumerate(extractive.retrieved, start=1):
        assert f"[C{i}] {h.clause.citation}\n{h.clause.text}" in user["content"]
    assert "[C6]" not in user["content"]


def test_asker_with_llm_uses_it_and_skips_it_when_abstaining(fake: FakeChatServer, rt: Runtime,
                                                             extractive: Answer) -> None:
    asker = Asker(rt, llm=config(fake))
    a = asker.ask(QUESTION)
    assert a.mode == "llm" and a.text == VALID_SHOWN
    assert a.citations == (extractive.retrieved[-1], extractive.retrieved[0])
    off_topic = asker.ask("今天北京天气怎么样？")
    assert off_topic.abstained and off_topic.mode == "extractive"
    assert len(fake.requests) == 1  # the abstention never reached the model


def test_clause_retriever_returns_documents_with_clause_metadata(rt: Runtime) -> None:
    docs = ClauseRetriever(index=rt.index, embedder=rt.embedder, k=3).invoke("探矿权 续期")
    assert len(docs) == 3
    first = docs[0]
    assert first.metadata["citation"] == "《若干意见》（六）"
    assert set(first.metadata) == {"rank", "score", "doc_id", "doc_title", "clause_id", "citation", "label",
                                   "path", "via"}
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    assert first.metadata["label"] == "（六）" and first.metadata["via"] == "hybrid"
    assert first.metadata["path"] == ["二、有序出让矿权，繁荣矿业市场", "（六）持续规范矿业权管理"]
    clause = next(c for c in rt.index.clauses if c.clause_id == first.metadata["clause_id"])
    assert first.page_content == clause.text and first.metadata["doc_id"] == clause.doc_id
    only_guide = ClauseRetriever(index=rt.index, embedder=rt.embedder, doc="sichuan-vti-re-guide").invoke("探矿权 续期")
    assert only_guide and {d.metadata["doc_id"] for d in only_guide} == {"sichuan-vti-re-guide"}


@dataclass
class CliRun:
    returncode: int
    record: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""


def run_ask(base_url: str) -> CliRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_LLM_")}
    env.update(RAG_LLM_BASE_URL=base_url, RAG_LLM_MODEL="fake-model", RAG_LLM_TIMEOUT="5")
    out = subprocess.run([sys.executable, "-m", "rag", "ask", QUESTION, "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    return CliRun(out.returncode, json.loads(out.stdout) if out.returncode == 0 else {}, out.stderr)


def test_cli_ask_uses_the_llm_and_falls_back_when_it_fails(fake: FakeChatServer, extractive: Answer) -> None:
    ok = run_ask(fake.base_url)
    assert ok.returncode == 0, ok.stderr
    r = ok.record
    assert r["mode"] == "llm" and r["abstained"] is False and r["notes"] == []
    offered = extractive.retrieved  # the subprocess retrieves with the same index
    assert [(c["marker"], c["clause_id"]) for c in r["citations"]] == [(1, offered[-1].clause.clause_id),
                                                                       (2, offered[0].clause.clause_id)]
    assert r["answer"] == VALID_SHOWN
    fake.reply = Reply(status=500)
    failed = run_ask(fake.base_url)
    assert failed.returncode == 0, failed.stderr
    r = failed.record
    assert r["mode"] == "extractive" and r["abstained"] is False and r["citations"]
    assert len(r["notes"]) == 1 and "HTTP 500" in r["notes"][0]
    assert len(fake.requests) == 2
