"""Thin command line: each subcommand parses, calls one library function, prints.

Errors of the library (RagError) become one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .clauses import Clause, Document, Node
from .config import ROOT, Settings
from .errors import CitationNotFound, QueryError, RagError

if TYPE_CHECKING:
    from .answer import Answer
    from .corpus import Corpus
    from .retrieve import Hit

# The QA set `evaluate` reads by default; its report goes to the folder above it (evaluation/).
DEFAULT_QA = ROOT / "evaluation" / "qa"


def clause_record(c: Clause, doc: Document) -> dict[str, Any]:
    """The JSON shape of a clause, shared by every command that prints clauses."""
    return {
        "doc_id": c.doc_id, "doc_title": doc.title, "short_title": doc.meta.short_title,
        "clause_id": c.clause_id, "citation": c.citation, "label": c.label, "title": c.title,
        "path": list(c.path), "text": c.text, "span": list(c.span),
        "subunits": [{"label": s.label, "span": list(s.span)} for s in c.subunits],
        # Where the clause stands in the file as received (1-based lines, inclusive).
        "source": {"file": doc.meta.file.name, "lines": [doc.clean.raw_line(c.span[0]),
                                                         doc.clean.raw_line(max(c.span[1] - 1, c.span[0]))]},
    }


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=None))


def _corpus(settings: Settings) -> Corpus:
    from .corpus import load_corpus

    return load_corpus(settings.corpus_dir)


def cmd_tree(args: argparse.Namespace, settings: Settings) -> int:
    corpus = _corpus(settings)
    docs = [corpus.document(args.doc)] if args.doc else list(corpus.documents)
    if args.json:
        _print_json([_doc_tree_record(d) for d in docs])
        return 0
    for d in docs:
        meta = d.meta
        print(f"{meta.short_title} {d.title}")
        facts = [("文号", d.doc_number), ("发文机关", meta.issuer), ("日期", meta.date),
                 ("类型", meta.kind), ("文档ID", d.doc_id)]
        print("  " + "  ".join(f"{k}：{v or '未载明'}" for k, v in facts))
        by_id = {c.clause_id: c for c in d.clauses}
        _print_node(d.root, by_id, 1)
        print()
    return 0


def _print_node(node: Node, by_id: dict[str, Clause], depth: int) -> None:
    indent = "  " * depth
    if node.heading:
        print(f"{indent}{node.heading}")
    for cid in node.clause_ids:
        c = by_id[cid]
        if c.path and node.heading and c.path[-1] == node.heading:
            print(f"{indent}  = {c.citation}  [{c.clause_id}]")
        else:
            print(f"{indent}  · {c.citation}  {c.title}  [{c.clause_id}]")
    for child in node.children:
        _print_node(child, by_id, depth + (1 if node.heading else 0))


def _doc_tree_record(d: Document) -> dict[str, Any]:
    def node(n: Node) -> dict[str, Any]:
        return {"heading": n.heading, "kind": n.kind, "clause_ids": list(n.clause_ids),
                "children": [node(c) for c in n.children]}

    m = d.meta
    return {"doc_id": d.doc_id, "title": d.title, "short_title": m.short_title,
            "doc_number": d.doc_number, "issuer": m.issuer, "date": m.date, "kind": m.kind,
            "lead": d.lead, "closing": list(d.closing), "tree": node(d.root)}


def cmd_clauses(args: argparse.Namespace, settings: Settings) -> int:
    corpus = _corpus(settings)
    docs = [corpus.document(args.doc)] if args.doc else list(corpus.documents)
    if args.json:
        _print_json([clause_record(c, d) for d in docs for c in d.clauses])
        return 0
    for d in docs:
        for c in d.clauses:
            first = c.text.replace("\n", " ")
            print(f"{c.citation}\t{c.clause_id}\t{first[:40]}{'…' if len(first) > 40 else ''}")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from .citations import missing_clause, parse_reference, resolve

    corpus = _corpus(settings)
    by_id = {c.clause_id: (c, d) for d in corpus.documents for c in d.clauses}
    if args.ref in by_id:
        found = [by_id[args.ref]]
    else:
        ref = parse_reference(args.ref, corpus.documents)
        clauses = resolve(ref, corpus.documents) if ref else []
        found = [by_id[c.clause_id] for c in clauses]
    if not found:
        gap = missing_clause(args.ref, corpus.documents)
        raise CitationNotFound(f"{gap or '没有找到条款：' + args.ref}（可用 `python -m rag clauses` 查看全部条款编号）")
    if args.json:
        _print_json([clause_record(c, d) for c, d in found])
        return 0
    for c, d in found:
        print(c.citation)
        print(" > ".join(c.path))
        print(c.text)
        first, last = d.clean.raw_line(c.span[0]), d.clean.raw_line(max(c.span[1] - 1, c.span[0]))
        print(f"[{c.clause_id}]  {d.title}  （原文 {d.meta.file.name} 第{first}–{last}行）")
        print()
    return 0


def hit_record(h: Hit) -> dict[str, Any]:
    """The JSON shape of a search hit."""
    c = h.clause
    return {"rank": h.rank, "score": round(h.score, 6), "doc_id": c.doc_id, "doc_title": h.doc_title,
            "clause_id": c.clause_id, "citation": c.citation, "label": c.label, "path": list(c.path),
            "text": c.text, "via": h.via, "dense": round(h.dense, 4), "phrase": round(h.phrase, 4),
            "lexical": round(h.lexical, 4),
            # The 款/项/一是 a clause-number query named inside the clause ("第二条第二款"), else null.
            "part": {"label": h.part.label, "citation": c.part_citation(h.part), "text": c.part_text(h.part)}
            if h.part else None}


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from .runtime import setup

    print(setup(settings))
    return 0


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    import time

    from .runtime import build, provision_model

    provision_model(settings)
    t = time.perf_counter()
    index = build(settings)
    print(f"索引已构建：{index.folder}（{index.meta.clauses} 个条款，{index.meta.count} 个分块，"
          f"模型 {index.meta.model}，用时 {time.perf_counter() - t:.1f} 秒）")
    return 0


def _queries(args: argparse.Namespace) -> list[str]:
    if args.batch:
        from pathlib import Path

        path = Path(args.batch)
        try:
            return path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise QueryError(f"无法读取批量查询文件 {path}：{exc}") from None
    if args.query is None:
        raise QueryError("请给出查询，或用 --batch FILE 指定每行一个查询的文件")
    return [args.query]


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .retrieve import gap_note, search, unmatched_reference
    from .runtime import load_runtime

    queries = _queries(args)
    rt = load_runtime(settings)
    failed = 0
    for lineno, q in enumerate(queries, start=1):
        try:
            hits = search(rt.index, rt.embedder, q, k=args.k, doc=args.doc, scope=args.scope)
        except QueryError as exc:
            if not args.batch:
                raise
            failed += 1
            print(f"第{lineno}行：{exc}", file=sys.stderr)
            hits = []
        # A clause number the documents do not have is said, before the results found by content.
        gap = unmatched_reference(rt.index, q, hits)
        if args.json:
            if gap:
                print(f"注：{gap}" + (f"（第{lineno}行）" if args.batch else ""), file=sys.stderr)
            print(json.dumps([hit_record(h) for h in hits], ensure_ascii=False, indent=None if args.batch else 1))
            continue
        if args.batch:
            print(f"# {q}")
        if gap:
            print(gap_note(gap, hits))
        if not hits:
            print("没有找到相关条款。可以换用文件中的说法，或去掉文件/章节筛选。")
        for h in hits:
            text = h.clause.text.replace("\n", " ")
            print(f"{h.rank}. {h.clause.citation}  [{h.clause.clause_id}]  ({h.via} {h.score:.4f})")
            print(f"   {text[:120]}{'…' if len(text) > 120 else ''}")
    return 1 if failed and failed == len(queries) else 0


def answer_record(a: Answer) -> dict[str, Any]:
    """The JSON shape of an answer: {answer, citations, abstained, ...}."""
    return {
        "question": a.question, "resolved_question": a.resolved_question, "answer": a.text,
        "citations": [{"marker": i, **hit_record(h)} for i, h in enumerate(a.citations, start=1)],
        "abstained": a.abstained, "related": [hit_record(h) for h in a.related],
        "mode": a.mode, "notes": list(a.notes),
        "evidence": None if a.evidence is None else vars(a.evidence),
    }


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .ask import Asker
    from .generate import llm_from_env
    from .runtime import load_runtime

    questions = _queries(args)
    asker = Asker(load_runtime(settings), llm=llm_from_env())
    failed = 0
    for lineno, q in enumerate(questions, start=1):
        try:
            a = asker.ask(q, doc=args.doc)
        except QueryError as exc:
            if not args.batch:
                raise
            failed += 1
            print(f"第{lineno}行：{exc}", file=sys.stderr)
            print(json.dumps({"question": q, "error": str(exc), "answer": "", "citations": [], "abstained": True},
                             ensure_ascii=False) if args.json else f"# {q}\n错误：{exc}")
            continue
        if args.json:
            print(json.dumps(answer_record(a), ensure_ascii=False, indent=None if args.batch else 1))
            continue
        if args.batch:
            print(f"# {q}")
        print(a.text)
        for note in a.notes:
            print(f"（注：{note}）")
        for i, h in enumerate(a.citations, start=1):
            print(f"\n[{i}] {h.clause.citation}\n{h.clause.text}")
        print()
    return 1 if failed and failed == len(questions) else 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from .evaluate import EvaluationError
    from .report import check_thresholds, run_evaluation, summary_table, write_report
    from .runtime import load_runtime

    qa, out = Path(args.qa), args.out
    if out is None:
        # evaluation/ holds the committed report of the QA set; another set's report (one that lists held-out
        # questions) must not land there unasked.
        if qa.resolve() != DEFAULT_QA.resolve():
            raise EvaluationError(f"用 --qa 指定了其他评测集（{qa}）时，请用 --out 指定报告目录："
                                  f"默认目录 {DEFAULT_QA.parent} 存放问答评测集的报告")
        out = str(DEFAULT_QA.parent)
    report = run_evaluation(load_runtime(settings), qa)
    paths = write_report(report, Path(out))
    print(summary_table(report))
    print()
    print("answers:", json.dumps(report["answers"]["all"], ensure_ascii=False))
    print("written:", ", ".join(str(p) for p in paths))
    if args.check:
        failures = check_thresholds(report, json.loads(Path(args.check).read_text(encoding="utf-8")))
        for f in failures:
            print(f"低于门槛：{f}", file=sys.stderr)
        return 1 if failures else 0
    return 0


_EXAMPLES = {
    "tree": "示例：python -m rag tree --doc sichuan-vti-re-guide",
    "clauses": "示例：python -m rag clauses --json > clauses.json",
    "show": '示例：python -m rag show "指南 第三章第二节（二）"',
    "setup": "示例：python -m rag setup",
    "build": "示例：RAG_MODEL_DIR=/path/to/bge-small-zh python -m rag build",
    "search": '示例：python -m rag search "探矿权 续期" --k 5 --json',
    "ask": '示例：python -m rag ask "钒电池储能有什么支持政策？" --json',
    "evaluate": "示例：python -m rag evaluate --check evaluation/thresholds.json",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every subcommand's help ends with an example."""
    parser = argparse.ArgumentParser(
        prog="python -m rag", description="政策条款问答：按条款检索四川政策文件并给出引用。",
        epilog='示例：python -m rag show "若干意见第十五条"')
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    def add(name: str, helptext: str, fn: Callable[[argparse.Namespace, Settings], int]
            ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helptext, description=helptext, epilog=_EXAMPLES.get(name))
        p.set_defaults(fn=fn)
        return p

    p = add("tree", "打印文件的结构树（编/章/节/条/项）及元数据", cmd_tree)
    p.add_argument("--doc", help="只显示这个文档ID")
    p.add_argument("--json", action="store_true", help="输出JSON")
    p = add("clauses", "列出全部可引用条款", cmd_clauses)
    p.add_argument("--doc", help="只列出这个文档ID的条款")
    p.add_argument("--json", action="store_true", help="输出JSON列表")
    p = add("show", "按条款ID或引用（如“指南 第三章第二节（二）”）显示条款", cmd_show)
    p.add_argument("ref", help="条款ID或引用")
    p.add_argument("--json", action="store_true", help="输出JSON")
    add("setup", "准备运行环境：转换内置嵌入模型，索引缺失或过期时重建", cmd_setup)
    add("build", "（重新）构建检索索引", cmd_build)
    p = add("search", "检索条款（关键词、问题或条款编号）", cmd_search)
    p.add_argument("query", nargs="?", help="查询，例如“探矿权 续期”或“第三章第二节（二）”")
    p.add_argument("--k", type=int, default=5, help="返回条数（默认5）")
    p.add_argument("--doc", help="只检索这个文档ID")
    p.add_argument("--scope", help="只检索这个章节范围，例如“第三章”")
    p.add_argument("--batch", metavar="FILE", help="每行一个查询；模型和索引只加载一次")
    p.add_argument("--json", action="store_true", help="输出JSON（--batch 时每行一个JSON列表）")
    p = add("ask", "提问并得到带条款引用的回答（文件未涉及时明确说明）", cmd_ask)
    p.add_argument("query", nargs="?", help="问题")
    p.add_argument("--doc", help="只在这个文档ID中回答")
    p.add_argument("--batch", metavar="FILE", help="每行一个问题；模型和索引只加载一次")
    p.add_argument("--json", action="store_true", help="输出JSON：{answer, citations, abstained}")
    p = add("evaluate", "在问答评测集上评测检索与回答，写出报告", cmd_evaluate)
    p.add_argument("--qa", default=str(DEFAULT_QA), help="评测集目录")
    p.add_argument("--out", help="报告输出目录（默认 evaluation/；评测其他评测集时必须指定）")
    p.add_argument("--check", metavar="THRESHOLDS", help="低于门槛文件中的指标时以非零状态退出")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m rag`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        return int(args.fn(args, settings))
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `python -m rag tree | head`: the reader left; not an error
        sys.stderr.close()
        return 0
