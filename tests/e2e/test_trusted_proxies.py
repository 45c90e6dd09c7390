"""X-Forwarded-For is believed from TRUSTED_PROXIES only, against real server
processes: the sign-in rate limiter counts failures per client address, so it shows
which address the application saw (docs/security.md, "Proxies")."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from tests.conftest import unit
from tests.support.server import running_server

pytestmark = pytest.mark.slow

LIMITS = {
    # Two failures per address, whatever the login (both the per-address limit and
    # the older per-address-and-login one), before sign-in answers 429.
    "LOGIN_MAX_FAILURES": "2",
    "LOGIN_MAX_FAILURES_PER_ADDRESS": "2",
}


async def _failed_logins(url: str, forged: list[str]) -> list[int]:
    """Statuses of sign-ins with unknown logins, each claiming another address."""
    statuses = []
    async with httpx.AsyncClient(base_url=url, timeout=unit(10)) as http:
        for n, address in enumerate(forged):
            response = await http.post(
                "/api/v1/auth/login",
                json={"login": f"ninguem-{n}", "password": "errada"},
                headers={"X-Forwarded-For": address, "X-Forwarded-Proto": "https"},
            )
            statuses.append(response.status_code)
    return statuses


FORGED = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]


async def _metrics_status(url: str, forwarded_for: str | None) -> int:
    """What ``/metrics`` (no token set: loopback only) answers a request from here,
    as a proxy on this machine would send it."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    async with httpx.AsyncClient(base_url=url, timeout=unit(10)) as http:
        return (await http.get("/metrics", headers=headers)).status_code


async def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    with running_server(settings, tmp_path, **LIMITS) as server:  # TRUSTED_PROXIES empty
        statuses = await _failed_logins(server.url, FORGED)
        # a local proxy's clients would all read /metrics (docs/security.md)
        metrics = await _metrics_status(server.url, "203.0.113.9")
    assert statuses == [401, 401, 429]  # all three came from 127.0.0.1, as they did
    assert metrics == 200


async def test_a_trusted_proxys_forwarded_for_names_the_client(
    settings: Settings, tmp_path: Path
) -> None:
    with running_server(settings, tmp_path, TRUSTED_PROXIES="127.0.0.1", **LIMITS) as server:
        statuses = await _failed_logins(server.url, FORGED)
        metrics = [await _metrics_status(server.url, a) for a in ("203.0.113.9", None)]
    assert statuses == [401, 401, 401]  # three clients, one failure each
    assert metrics == [403, 200]  # a client behind the proxy, and the scraper beside it
