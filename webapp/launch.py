"""Start the real web app (`python app.py`) as a subprocess on a free port; always stop it.

Used by the browser, exposure and load tests and by benchmarks/load.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.config import ROOT


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class App:
    url: str                  # always a loopback URL: tests send traffic to this machine only
    port: int
    log: Path
    process: subprocess.Popen[bytes]


@contextmanager
def running_app(tmp: Path, args: Sequence[str] = (), env: dict[str, str] | None = None,
                ready_status: Sequence[int] = (200,), timeout: float = 90.0,
                drop_env: Sequence[str] = ()) -> Iterator[App]:
    """`python app.py --port N *args`, waited for until GET / answers with one of `ready_status`."""
    port = free_port()
    log = tmp / f"app-{port}.log"
    full_env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    for name in ("RAG_HOST", *drop_env):
        full_env.pop(name, None)
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *args], cwd=ROOT, env=full_env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text(encoding='utf-8')}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status in ready_status:
                        break
            except urllib.error.HTTPError as exc:
                if exc.code in ready_status:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s:\n"
                                   f"{log.read_text(encoding='utf-8')}")
            time.sleep(0.3)
        yield App(url, port, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
