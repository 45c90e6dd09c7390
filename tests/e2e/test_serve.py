"""`acionar serve` as a real process: it serves, logs JSON lines, and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from server.settings import PROJECT_ROOT, Settings
from tests.conftest import unit

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=unit(5)) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + unit(20)
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited during start-up"
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


def test_serve_answers_logs_json_and_stops_cleanly_on_sigint(
    settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.effective_database_url,
        "REDIS_URL": settings.effective_redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "LOG_FORMAT": "json",
    }
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )
        try:
            _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
            status, body, headers = _get(f"http://127.0.0.1:{port}/readyz")
            assert status == 200 and orjson.loads(body)["failed"] == []
            request_id = headers["x-request-id"]
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=unit(15)) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = [orjson.loads(line) for line in stderr_path.read_bytes().splitlines() if line]
    access = [e for e in lines if e["logger"] == "acionar.access"]
    assert any(e["request_id"] == request_id and "/readyz 200" in e["msg"] for e in access)
    assert any(e["msg"] == "acionar stopped" for e in lines)
