"""Chat under concurrent load: N sessions asking QA-set questions of a freshly started app.

    python benchmarks/load.py                          # 20 clients, 200 questions
    python benchmarks/load.py --clients 5 --questions 40

Starts `python app.py` on a free loopback port, computes every question's expected citations
in-process first, then sends the questions from N gradio_client sessions at once (see
benchmarks/loadgen.py for how, and for the checks each reply goes through). Prints the figures
and writes them to benchmarks/load_results.json: throughput (questions/s over the burst),
p50/p95/max latency of a question (the /reset before it excluded), errors, replies with wrong
or foreign citations, and the app's RSS at start, after the warm-up, at peak and at the end.

The app serves at most CONCURRENCY (app.py: 2) questions at a time and queues up to QUEUE_MAX
(64) more events; with N clients most of a question's latency is waiting in that queue, so
p50 ≈ N / throughput. Figures depend on the machine and its load; nothing is asserted here
(tests/test_load.py asserts correctness and memory bounds on the same run code).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from loadgen import run_load

RESULTS = Path(__file__).resolve().parent / "load_results.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line: clients, questions, the time limits and where to write the results."""
    p = argparse.ArgumentParser(description="Concurrent chat load against a freshly started app.py.")
    p.add_argument("--clients", type=int, default=20, help="concurrent sessions (default 20)")
    p.add_argument("--questions", type=int, default=200, help="questions in the burst (default 200)")
    p.add_argument("--deadline", type=float, default=240.0, help="no request is sent after this many seconds")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.name})")
    args = p.parse_args(argv)
    if args.clients < 1 or args.questions < 1 or args.deadline <= 0 or args.timeout <= 0:
        p.error("clients, questions, deadline and timeout must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load, print the summary and any faulty replies, write the JSON; 1 if any reply was wrong."""
    args = parse_args(argv)
    report = run_load(args.clients, args.questions, args.deadline, args.timeout, progress=True)
    summary = report.summary()
    result = {"when": datetime.now().astimezone().isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "deadline_s": args.deadline, "request_timeout_s": args.timeout, **summary}
    for i, reply, problems in report.problems()[:10]:  # the first few are enough to see what broke
        print(f"  #{i} client {reply.client} {reply.question!r}: {'; '.join(problems)}")
    lat, rss = summary["latency_ms"], summary["rss_mb"]
    print(f"{summary['completed']}/{summary['questions']} answered by {summary['clients']} clients in "
          f"{summary['burst_s']} s: {summary['throughput_qps']} questions/s; latency p50 {lat['p50']} ms, "
          f"p95 {lat['p95']} ms, max {lat['max']} ms (in-process {summary['in_process_ms_per_question']} ms)")
    print(f"errors {summary['errors']}, wrong replies {summary['wrong_replies']}, cross-talk {summary['cross_talk']}; "
          f"RSS MB start {rss['start']}, after warm-up {rss['after_warmup']}, peak {rss['peak']}, end {rss['end']}; "
          f"alive after: {summary['alive_after']}, probe ok: {summary['probe_ok']}")
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    bad = summary["errors"] or summary["wrong_replies"] or not summary["alive_after"] or not summary["probe_ok"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
