"""The command line, run as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from rag.config import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_clauses_json_lists_every_clause_with_the_promised_fields() -> None:
    out = run("clauses", "--json")
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert len(records) == 75
    for r in records:
        assert {"doc_id", "doc_title", "clause_id", "citation", "label", "path", "text"} <= set(r)
        assert isinstance(r["path"], list)
    assert len({r["clause_id"] for r in records}) == 75


def test_show_by_citation_and_by_id() -> None:
    out = run("show", "指南 第三章第二节（二）")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("《指南》第三章第二节（二）\n第三章 主要任务 > 第二节 优化产业布局 > （二）做大做精钒钛产业\n")
    out = run("show", "sichuan-mining-opinions-2025:pt2.it5", "--json")
    record = json.loads(out.stdout)[0]
    assert record["citation"] == "《若干意见》（五）"
    assert record["source"] == {"file": "sichuan-mining-opinions-2025.txt", "lines": [49, 52]}


def test_show_unknown_reference_is_one_line_and_exit_2() -> None:
    out = run("show", "指南第九章")
    assert out.returncode == 2
    # It says what the document has instead: 《指南》 has four chapters.
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("错误：《指南》中没有第九章（《指南》共有第一章至第四章）")
    assert "Traceback" not in out.stderr


def test_tree_prints_metadata_and_structure() -> None:
    out = run("tree", "--doc", "sichuan-mining-opinions-2025")
    assert out.returncode == 0, out.stderr
    assert "文号：川办发〔2025〕26号" in out.stdout and "日期：2025-07-31" in out.stdout
    assert "  六、加强统筹协调，推动矿业发展" in out.stdout
    tree = json.loads(run("tree", "--json").stdout)
    assert [len(c["children"]) for c in tree[1]["tree"]["children"]] == [3, 3, 8, 5]


def test_unknown_document_is_a_clear_error() -> None:
    out = run("clauses", "--doc", "nope")
    assert out.returncode == 2 and "no document with id 'nope'" in out.stderr


def test_broken_corpus_is_one_line(tmp_path: object) -> None:
    out = subprocess.run([sys.executable, "-m", "rag", "clauses"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False,
                         env={"RAG_CORPUS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert "manifest not found" in out.stderr and "Traceback" not in out.stderr


def test_evaluating_another_set_without_out_is_refused_and_leaves_the_qa_report() -> None:
    # evaluation/ holds the QA set's committed report: a held-out set's, which lists its questions, must not land
    # there because --out was forgotten.
    report = ROOT / "evaluation" / "report.json"
    before = report.read_bytes()
    out = run("evaluate", "--qa", "evaluation/holdout")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("错误：用 --qa 指定了其他评测集（evaluation/holdout）时，请用 --out")
    assert report.read_bytes() == before
