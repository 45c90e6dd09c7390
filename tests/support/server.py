"""Run ``acionar serve`` as a real process for end-to-end and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from server.settings import PROJECT_ROOT, Settings
from tests.conftest import unit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str) -> tuple[int, bytes, dict[str, str]]:
    """GET a URL; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=unit(5)) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + unit(20)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.stderr_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if http_get(self.url + "/readyz")[0] == 200:
                    return
            time.sleep(0.1)
        raise AssertionError("server did not become ready")

    def interrupt(self) -> int:
        """Ctrl-C the server; returns its exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=unit(15))


@contextlib.contextmanager
def running_server(settings: Settings, tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    """A server process on a free port against the test database and Redis prefix,
    ready."""
    with server_on(settings, tmp_path, free_port(), **env) as server:
        server.wait_ready()
        yield server


@contextlib.contextmanager
def server_on(settings: Settings, tmp_path: Path, port: int, **env: str) -> Iterator[ServerProcess]:
    """A server process on ``port`` (a restart keeps its address), not waited for:
    a caller in an event loop waits with ``asyncio.to_thread(server.wait_ready)``."""
    full_env = {
        **os.environ,
        "DATABASE_URL": settings.effective_database_url,
        "REDIS_URL": settings.effective_redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        **env,
    }
    stderr_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"  # restarts keep theirs
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        server = ServerProcess(proc, port, stderr_path)
        try:
            yield server
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
