"""server/security_headers.py: the policy built from the settings, and the middleware
on every response (in process, no server)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from server.app import create_app
from server.security_headers import (
    SecurityHeadersMiddleware,
    content_security_policy,
    tile_source,
    websocket_source,
)
from server.settings import Settings

POLICY = content_security_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "")


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
        ("http://localhost:8080/tiles/{z}/{x}/{y}.png", "http://localhost:8080"),
        ("https://tiles-{s}.example.org/{z}/{x}/{y}.png", "https:"),
        ("/tiles/{z}/{x}/{y}.png", None),  # this origin: 'self' has it
        ("", None),  # no tiles
        ("javascript:alert(1)", None),
    ],
)
def test_the_tile_server_is_the_one_image_source_besides_this_origin(
    url: str, source: str | None
) -> None:
    assert tile_source(url) == source


def test_the_policy_allows_nothing_inline_and_no_framing() -> None:
    directives = dict(d.split(" ", 1) for d in POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["img-src"] == "'self' data: https://tile.openstreetmap.org"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in POLICY and "script-src" not in POLICY  # default-src 'self' rules


def test_a_public_url_adds_its_websocket_origin() -> None:
    assert websocket_source("https://acionar.example.com/") == "wss://acionar.example.com"
    assert websocket_source("http://10.0.0.5:8000") == "ws://10.0.0.5:8000"
    policy = content_security_policy("", "https://acionar.example.com")
    assert "connect-src 'self' wss://acionar.example.com" in policy
    assert "img-src 'self' data:;" in policy


async def _page(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _framable(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"X-Frame-Options": "SAMEORIGIN"})


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t")  # type: ignore[arg-type]


async def test_every_response_gets_the_headers_and_a_handlers_own_are_kept() -> None:
    routes = [Route("/page", _page), Route("/own", _framable), Route("/l/o/{token}", _page)]
    app = SecurityHeadersMiddleware(Starlette(routes=routes), policy=POLICY)
    async with _client(app) as client:
        page, own, missing, link = [
            await client.get(path) for path in ("/page", "/own", "/nowhere", "/l/o/secret")
        ]
    for response in (page, missing, link):
        assert response.headers["content-security-policy"] == POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert missing.status_code == 404  # errors too
    assert link.headers["referrer-policy"] == "no-referrer"  # the token is in the URL
    assert own.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


async def test_the_application_sends_them_with_the_configured_tile_server(
    settings: Settings,
) -> None:
    tiles = dataclasses.replace(settings, map_tile_url="https://{s}.tiles.example.net/{z}.png")
    async with _client(create_app(tiles)) as client:
        response = await client.get("/")  # the landing page (no lifespan needed)
    assert response.status_code == 200
    assert (
        "img-src 'self' data: https://*.tiles.example.net;"
        in (response.headers["content-security-policy"])
    )
    assert response.headers["x-frame-options"] == "DENY"
