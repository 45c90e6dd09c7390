"""deploy/haproxy.cfg, documentation of a multi-node deployment (docs/scaling.md),
names what the server serves: every websocket path, and a health check route."""

from __future__ import annotations

import re

from realtime.protocol import PATH as PROVIDER_PATH
from server.app import create_app
from server.settings import PROJECT_ROOT, Settings
from server.ws_panel import PATH as PANEL_PATH
from server.ws_portal import PATH as PORTAL_PATH

CONFIG = PROJECT_ROOT / "deploy" / "haproxy.cfg"


def _lines() -> list[str]:
    """The configuration without its comments."""
    text = CONFIG.read_text(encoding="utf-8")
    return [line.split("#", 1)[0].strip() for line in text.splitlines()]


def test_every_websocket_path_goes_to_the_sockets_backend() -> None:
    acls = {
        match[2]: match[1]
        for line in _lines()
        if (match := re.fullmatch(r"acl (\S+) path (\S+)", line))
    }
    assert set(acls) == {PROVIDER_PATH, PANEL_PATH, PORTAL_PATH}
    routing = next(line for line in _lines() if line.startswith("use_backend sockets if"))
    assert all(name in routing.split() for name in acls.values())


def test_every_backend_checks_a_route_the_server_answers_without_its_services(
    base_settings: Settings,
) -> None:
    routes = {getattr(route, "path", None) for route in create_app(base_settings).routes}
    checks = [line for line in _lines() if line.startswith("http-check send")]
    backends = [line for line in _lines() if line.startswith("backend ")]
    assert len(checks) == len(backends) == 2
    for check in checks:
        uri = check.split("uri ", 1)[1].split()[0]
        assert uri in routes
        # /readyz fails on every node at once when PostgreSQL or Redis does
        assert uri == "/healthz"
