"""`acionar serve` as a real process: it serves, logs JSON lines, and stops on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from server.settings import Settings
from tests.support.server import http_get, running_server

pytestmark = pytest.mark.slow


def test_serve_answers_logs_json_and_stops_cleanly_on_sigint(
    settings: Settings, tmp_path: Path
) -> None:
    with running_server(settings, tmp_path, LOG_FORMAT="json") as server:
        status, body, headers = http_get(server.url + "/readyz")
        assert status == 200 and orjson.loads(body)["failed"] == []
        request_id = headers["x-request-id"]
        assert server.interrupt() == 0
    log_lines = server.stderr_path.read_bytes().splitlines()
    entries = [orjson.loads(line) for line in log_lines if line]
    access = [e for e in entries if e["logger"] == "acionar.access"]
    assert any(e["request_id"] == request_id and "/readyz 200" in e["msg"] for e in access)
    assert any(e["msg"] == "acionar stopped" for e in entries)
