"""政策条款问答 web app: chat with citations, clause search, document browser (Gradio).

    python app.py                               # http://127.0.0.1:7860, the bundled corpus
    python app.py --host 0.0.0.0 --port 8080    # with RAG_APP_USER / RAG_APP_PASSWORD for a login

The runtime (corpus, model, index) is loaded once, before the UI is built, and shared by every
session; Gradio's queue serves concurrent users. What the regions of the page show comes from
the plain functions in webapp/handlers.py (escaped by webapp/render.py); this file only lays out
the components, wires events to those functions, and holds the command line.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.ask import Asker
from rag.config import ROOT, Settings
from rag.dialogue import Turn
from rag.errors import RagError
from rag.generate import llm_from_env
from rag.runtime import Runtime, load_runtime
from webapp.handlers import (
    ALL_DOCS,
    CLAUSE_EMPTY,
    EVIDENCE_EMPTY,
    MAX_K,
    SEARCH_EMPTY,
    answer_turn,
    append_feedback,
    browse_document,
    clause_html,
    document_choices,
    document_filter_choices,
    feedback_entry,
    search_html,
)
from webapp.render import box, error_message

EXAMPLES = ("钒电池储能有什么支持政策？", "探矿权到期不续期的情形有哪些？", "钛资源量占全国多少？",
            "若干意见第十五条讲了什么？")
DEFAULT_FEEDBACK_LOG = ROOT / "var" / "feedback.jsonl"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860
# Two cores: more simultaneous queries only make each one slower; the rest wait in the queue.
CONCURRENCY = 2
QUEUE_MAX = 64

# ---------------------------------------------------------------------------------------------
# The Gradio app

APP_CSS = """
.app-box { padding: 10px 14px; border-radius: 8px; margin: 6px 0; line-height: 1.6; }
.app-empty { background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.app-info { background: #eef4ff; color: #1e3a8a; }
.app-warn { background: #fff7e6; color: #7a4b00; border: 1px solid #f5d48a; }
.app-error { background: #fdecec; color: #8a1c1c; border: 1px solid #f3b4b4; }
.clause-card, .hit { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px;
  margin: 8px 0; background: var(--background-fill-primary); }
.card-head { font-size: 1.05em; margin-bottom: 4px; }
.card-label, .rank { display: inline-block; min-width: 1.8em; font-weight: 600; color: var(--color-accent); }
.card-note, .badge { margin-left: 8px; font-size: 0.8em; padding: 1px 6px; border-radius: 4px;
  background: #fff1d6; color: #7a4b00; }
.badge { background: #e3f2e8; color: #1d5a32; }
.card-path, .result-note { color: #6b7280; font-size: 0.9em; margin-bottom: 6px; }
.clause-text, .snippet { white-space: pre-wrap; line-height: 1.75; }
.section-title, .result-summary { font-weight: 600; margin: 8px 0 4px; }
mark { background: #ffe58f; color: #1f1f1f; padding: 0 1px; border-radius: 2px; }
.copy-row { margin-top: 8px; display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.cite-copy { user-select: all; padding: 2px 6px; border-radius: 4px; background: var(--background-fill-secondary); }
.copy-btn { padding: 1px 10px; border-radius: 4px; border: 1px solid var(--border-color-primary); cursor: pointer; }
.doc-meta, .doc-meta tr { border: none !important; }
.doc-meta { border-collapse: collapse; margin: 4px 0 8px; }
.doc-meta th, .doc-meta td { border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
  padding: 5px 18px 5px 0 !important; font-size: 0.95em; text-align: left; vertical-align: top;
  background: transparent !important; }
.doc-meta th { white-space: nowrap; color: #6b7280; font-weight: 600; }
.doc-tree { max-height: 560px; overflow: auto; font-size: 0.95em; }
.doc-tree ul { list-style: none; padding-left: 1.1em; margin: 2px 0; }
.doc-tree > ul { padding-left: 0; }
.tree-heading { font-weight: 600; }
.tree-cite { color: var(--color-accent); margin-right: 4px; text-decoration: none; cursor: pointer; }
.tree-cite:hover { text-decoration: underline; }
"""

# One delegated listener: result cards are re-rendered on every search, the element stays.
COPY_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('.copy-btn');
  if (!button) return;
  const text = button.dataset.cite;
  const done = () => { button.textContent = '已复制'; setTimeout(() => { button.textContent = '复制'; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else {  // plain http on a LAN address: select the citation so Ctrl+C copies it
    const range = document.createRange();
    range.selectNodeContents(button.previousElementSibling);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { document.execCommand('copy'); done(); } catch (e) {}
  }
});
"""

# A click on a citation in the tree selects that clause (the dropdown then shows its text).
TREE_JS = """
element.addEventListener('click', (event) => {
  const link = event.target.closest('[data-clause]');
  if (!link) return;
  event.preventDefault();
  trigger('click', {clause: link.dataset.clause});
});
"""

THEME = gr.themes.Default(font=[gr.themes.LocalFont("Source Sans Pro"), "PingFang SC", "Microsoft YaHei",
                                "Noto Sans CJK SC", "sans-serif"])


def build_app(runtime: Runtime, asker: Asker, feedback_path: Path) -> gr.Blocks:
    """The three-tab app over a loaded runtime; votes are appended to feedback_path."""
    corpus = runtime.corpus
    docs = document_choices(corpus)
    first_doc = docs[0][1] if docs else None
    meta0, tree0, nodes0 = browse_document(corpus, first_doc)

    with gr.Blocks(title="政策条款问答", analytics_enabled=False) as demo:
        gr.Markdown("## 政策条款问答\n回答附带条款编号与原文；文件没有规定的问题会明确说明。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                # No "share" button: it posts to Hugging Face; the built-in 🗑 is wired to a reset below.
                chatbot = gr.Chatbot(label="对话", height=460, elem_id="chatbot", latex_delimiters=[],
                                     buttons=["copy", "copy_all"],
                                     placeholder="请提出关于政策文件的问题。可点击回答下方的 👍/👎 反馈。")
                with gr.Row():
                    question = gr.Textbox(label="问题", placeholder="例如：钒电池储能有什么支持政策？", scale=6,
                                          elem_id="chat-input", max_lines=4)
                    send = gr.Button("发送", variant="primary", scale=1, elem_id="chat-send")
                    clear = gr.Button("新对话", scale=1, elem_id="chat-clear")
                gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="示例问题（点击填入）")
                chat_status = gr.HTML("", elem_id="chat-status")
                evidence = gr.HTML(box("empty", EVIDENCE_EMPTY), elem_id="evidence")
                asked = gr.State([])     # this session's earlier turns (dialogue.Turn), for follow-ups
                records = gr.State({})   # chatbot message index -> what a vote on it logs

            with gr.Tab("条款检索", id="search"):
                with gr.Row():
                    query = gr.Textbox(label="查询", placeholder=SEARCH_EMPTY, scale=6, elem_id="search-query")
                    search_btn = gr.Button("检索", variant="primary", scale=1, elem_id="search-btn")
                with gr.Row():
                    doc_filter = gr.Dropdown(choices=document_filter_choices(corpus), value=ALL_DOCS, label="文件",
                                             elem_id="search-doc")
                    scope = gr.Textbox(label="章节范围（可选）", placeholder="例如：第三章", elem_id="search-scope")
                    k = gr.Slider(1, MAX_K, value=5, step=1, label="返回条数", elem_id="search-k")
                results = gr.HTML(box("empty", SEARCH_EMPTY), elem_id="search-results", js_on_load=COPY_JS)

            with gr.Tab("文件浏览", id="browse"):
                doc_pick = gr.Dropdown(choices=docs, value=first_doc, label="文件", elem_id="browse-doc")
                gr.Markdown("点击目录中的条款编号，或在右侧列表中选择条款，查看全文与引用编号。")
                doc_meta = gr.HTML(meta0, elem_id="browse-meta")
                with gr.Row():
                    with gr.Column(scale=2):
                        doc_tree = gr.HTML(tree0, elem_id="browse-tree", js_on_load=TREE_JS)
                    with gr.Column(scale=3):
                        node = gr.Dropdown(choices=nodes0, value=None, label="条款（可输入编号或标题筛选）",
                                           elem_id="browse-node")
                        clause_view = gr.HTML(box("empty", CLAUSE_EMPTY), elem_id="browse-clause",
                                              js_on_load=COPY_JS)

        def on_ask(message: str, chat: list[dict[str, Any]] | None, earlier: list[Turn],
                   votes: dict[int, dict[str, Any]]) -> tuple[Any, ...]:
            try:
                turn = answer_turn(runtime, asker, message or "", earlier)
            except Exception as exc:
                msg = error_message(exc)
                gr.Warning(msg)
                return chat, earlier, votes, box("error", msg), gr.skip(), message
            chat = [*(chat or []), {"role": "user", "content": turn.user_markdown},
                    {"role": "assistant", "content": turn.bot_markdown}]
            # Earlier questions as they were understood, so that a chain of follow-ups keeps its subject,
            # with the clause each answer cited first, for "下一条".
            return (chat, [*earlier, Turn.after(turn.answer)], {**votes, len(chat) - 1: turn.record}, "",
                    turn.evidence_html, "")

        ask_io: dict[str, Any] = {"inputs": [question, chatbot, asked, records],
                                  "outputs": [chatbot, asked, records, chat_status, evidence, question]}
        send.click(on_ask, **ask_io)
        question.submit(on_ask, **ask_io)
        def reset() -> tuple[Any, ...]:
            return [], [], {}, "", box("empty", EVIDENCE_EMPTY), ""

        reset_io = [chatbot, asked, records, chat_status, evidence, question]
        clear.click(reset, outputs=reset_io)
        chatbot.clear(reset, outputs=reset_io)

        def on_like(votes: dict[int, dict[str, Any]], data: gr.LikeData) -> str:
            index = data.index if isinstance(data.index, int) else data.index[0]
            record = votes.get(index)
            if record is None or not isinstance(data.liked, bool):
                return ""  # a vote on a question bubble, or a vote withdrawn: nothing to log
            try:
                append_feedback(feedback_path, feedback_entry(record, data.liked))
            except Exception as exc:
                return box("error", f"反馈未能保存：{error_message(exc)}")
            return box("info", "已记录您的反馈（👍 有帮助）。" if data.liked else "已记录您的反馈（👎 没帮助）。")

        chatbot.like(on_like, inputs=[records], outputs=[chat_status])

        search_io: dict[str, Any] = {"inputs": [query, doc_filter, scope, k], "outputs": [results]}

        def run_search(q: str, d: str, s: str, n: float) -> str:
            return search_html(runtime, q, d, s, n)

        search_btn.click(run_search, **search_io)
        query.submit(run_search, **search_io)
        scope.submit(run_search, **search_io)
        doc_filter.change(run_search, **search_io)

        def on_document(doc_id: str | None) -> tuple[Any, ...]:
            meta, tree, choices = browse_document(corpus, doc_id)
            return meta, tree, gr.Dropdown(choices=choices, value=None), box("empty", CLAUSE_EMPTY)

        doc_pick.change(on_document, inputs=[doc_pick], outputs=[doc_meta, doc_tree, node, clause_view])
        node.change(lambda cid: clause_html(corpus, cid), inputs=[node], outputs=[clause_view])

        def on_tree_click(event: gr.EventData) -> Any:
            clause_id = getattr(event, "clause", None)  # sent by TREE_JS; absent for other clicks
            return clause_id if isinstance(clause_id, str) else gr.skip()

        doc_tree.click(on_tree_click, outputs=[node])
    # Sessions share the runtime (queries are read-only; the query encoder holds its own lock).
    return demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX)


# ---------------------------------------------------------------------------------------------
# Command line

def is_loopback(host: str) -> bool:
    """True for localhost / 127.x / ::1: only this machine can connect."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def login_for(host: str, env: dict[str, str] | None = None) -> tuple[tuple[str, str] | None, str | None]:
    """(Gradio auth, warning): a login on non-loopback hosts when RAG_APP_USER/RAG_APP_PASSWORD are set."""
    env = dict(os.environ) if env is None else env
    if is_loopback(host):
        return None, None
    user, password = env.get("RAG_APP_USER", ""), env.get("RAG_APP_PASSWORD", "")
    if user and password:
        return (user, password), None
    return None, (f"警告：应用绑定在非本机地址 {host}，但未同时设置 RAG_APP_USER 和 RAG_APP_PASSWORD，"
                  "网络上任何能访问该地址的人都可以使用本应用。设置这两个环境变量即可启用登录。")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Flags override RAG_HOST / RAG_PORT, which override 127.0.0.1:7860."""
    p = argparse.ArgumentParser(description="政策条款问答网页应用（问答、条款检索、文件浏览）。",
                                epilog="示例：RAG_APP_USER=admin RAG_APP_PASSWORD=secret python app.py --host 0.0.0.0")
    p.add_argument("--host", default=os.environ.get("RAG_HOST") or DEFAULT_HOST,
                   help=f"监听地址（默认 {DEFAULT_HOST}，或环境变量 RAG_HOST）")
    p.add_argument("--port", default=os.environ.get("RAG_PORT") or str(DEFAULT_PORT),
                   help=f"端口（默认 {DEFAULT_PORT}，或环境变量 RAG_PORT）")
    args = p.parse_args(argv)
    try:
        args.port = int(args.port)
        if not 0 < args.port < 65536:
            raise ValueError
    except ValueError:
        p.error(f"端口无效：{args.port}（应为 1-65535 的整数）")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Load the runtime once, build the app, serve it until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own startup probes, once per launch
    args = parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or version check offline
    # The queue runs two requests at once on two cores: one embedding thread each keeps them from
    # fighting over the cores (rag/embed.py has the measurements).
    os.environ.setdefault("RAG_QUERY_THREADS", "1")
    try:
        runtime = load_runtime(Settings.from_env())
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    feedback_path = Path(os.environ.get("RAG_FEEDBACK_LOG") or DEFAULT_FEEDBACK_LOG)
    auth, warning = login_for(args.host)
    if warning:
        print(warning, file=sys.stderr)
    demo = build_app(runtime, Asker(runtime, llm=llm_from_env()), feedback_path)
    print(f"政策条款问答：http://{args.host}:{args.port}"
          f"（{len(runtime.corpus.clauses)} 个条款；反馈记录 {feedback_path}）", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, auth=auth, auth_message="请输入用户名和密码登录。",
                show_error=False, ssr_mode=False, theme=THEME, css=APP_CSS, footer_links=["gradio", "settings"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
