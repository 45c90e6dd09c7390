"""Local services: nothing is started when URLs are given; clear errors otherwise."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from server import services
from server.errors import ServicesError
from server.settings import Settings


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_nothing_local_is_started_when_urls_are_set(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u@127.0.0.1:1/x",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "LOCAL_SERVICES_DIR": str(tmp_path / "var"),
        }
    )
    lines = services.services_up(settings)
    assert lines == [
        "postgresql: DATABASE_URL (nothing started)",
        "redis: REDIS_URL (nothing started)",
    ]
    assert not (tmp_path / "var").exists()
    assert services.services_status(settings) == ["postgresql: DATABASE_URL", "redis: REDIS_URL"]


def test_down_with_nothing_running_says_so(tmp_path: Path) -> None:
    settings = Settings.from_env({"LOCAL_SERVICES_DIR": str(tmp_path)})
    assert services.services_down(settings) == [
        "postgresql: was not running",
        "redis: was not running",
    ]


def test_a_port_taken_by_another_program_is_refused(tmp_path: Path, taken_port: int) -> None:
    settings = Settings.from_env(
        {"LOCAL_SERVICES_DIR": str(tmp_path), "LOCAL_REDIS_PORT": str(taken_port)}
    )
    with pytest.raises(ServicesError, match=f"port {taken_port} is taken"):
        services.start_redis(settings, services.LocalPaths(tmp_path))


def test_status_reports_the_local_instances_this_run_uses(base_settings: Settings) -> None:
    lines = services.services_status(base_settings)
    if base_settings.uses_local_postgres:
        assert lines[0] == f"postgresql: running on 127.0.0.1:{base_settings.local_pg_port}"
    if base_settings.uses_local_redis:
        assert lines[1] == f"redis: running on 127.0.0.1:{base_settings.local_redis_port}"


def test_a_stale_redis_pidfile_does_not_count_as_running(tmp_path: Path) -> None:
    paths = services.LocalPaths(tmp_path)
    paths.redis_root.mkdir()
    paths.redis_pidfile.write_text("999999999\n")
    assert not services.redis_running(paths)
    settings = dataclasses.replace(Settings.from_env({}), local_services_dir=str(tmp_path))
    assert services.services_down(settings)[1] == "redis: was not running"
