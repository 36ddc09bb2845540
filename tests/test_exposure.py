"""Exposure: loopback by default; on another address, a login when credentials are set.

Traffic goes to 127.0.0.1 only: an app bound to 0.0.0.0 is reached through loopback.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from webapp.launch import running_app

pytestmark = pytest.mark.slow


def status(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_default_binds_loopback_only(tmp_path: Path) -> None:
    with running_app(tmp_path) as app:
        assert status(app.url + "config") == 200
        listening = Path("/proc/net/tcp").read_text() + Path("/proc/net/tcp6").read_text()
        port_hex = f":{app.port:04X}"
        local = [line.split()[1] for line in listening.splitlines()[1:] if line.split()[1].endswith(port_hex)
                 and line.split()[3] == "0A"]  # 0A: LISTEN
        assert local, "the app is not listening"
        # 0100007F is 127.0.0.1 (little-endian hex); 00000000 would be 0.0.0.0, every interface.
        assert all(addr.split(":")[0] in ("0100007F", "00000000000000000000000001000000") for addr in local), local


def test_other_address_with_credentials_requires_a_login(tmp_path: Path) -> None:
    env = {"RAG_APP_USER": "official", "RAG_APP_PASSWORD": "s3cret-pass"}
    with running_app(tmp_path, ["--host", "0.0.0.0"], env=env, ready_status=(200, 401, 403)) as app:
        assert status(app.url + "config") in (401, 403)
        wrong = urllib.parse.urlencode({"username": "official", "password": "nope"}).encode()
        assert status(app.url + "login", wrong) in (400, 401, 403)
        right = urllib.parse.urlencode({"username": "official", "password": "s3cret-pass"}).encode()
        assert status(app.url + "login", right) == 200


def test_other_address_without_credentials_warns(tmp_path: Path) -> None:
    with running_app(tmp_path, ["--host", "0.0.0.0"], env={"RAG_APP_USER": "", "RAG_APP_PASSWORD": ""}) as app:
        assert status(app.url + "config") == 200
        assert "警告" in app.log.read_text(encoding="utf-8")
