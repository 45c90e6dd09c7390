"""Security headers on every HTTP response (docs/security.md, "Security headers").

What a browser may do with our pages: load scripts, styles and fonts from this
origin only (no inline script or style: the pages keep theirs in ``/static`` and
``/console/assets``), images from here, ``data:`` URLs (Leaflet's CSS icons) and
the map tile server, connect to this origin (API, websockets); never frame them,
never sniff a type, and send only the origin as a referrer to other sites. The
signed-link pages (``/l/...``) hold their token in the URL: they send no referrer
at all.

A pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer responses and
break streaming); a header the handler set itself is kept as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECRET_URL_PREFIXES = ("/l/",)
"""Paths whose URL is a credential (offer and tracking links): no referrer."""

Headers = tuple[tuple[bytes, bytes], ...]


def tile_source(tile_url: str) -> str | None:
    """The CSP source that lets the map load tiles from ``tile_url`` (a Leaflet URL
    template); None when it needs none (no tiles, or tiles from this origin).

    ``{s}`` subdomains become a wildcard; a host with any other placeholder
    allows its scheme as a whole (CSP cannot say more).
    """
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("{s}."):
        host = "*." + host.removeprefix("{s}.")
    if "{" in host or "}" in host:
        return f"{parts.scheme}:"
    return f"{parts.scheme}://{host}"


def websocket_source(public_url: str) -> str | None:
    """The ``ws:``/``wss:`` origin of PUBLIC_URL, if set ('self' covers it in CSP
    Level 3 browsers; older ones need it spelt out)."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme.replace('http', 'ws')}://{parts.netloc}"


def content_security_policy(tile_url: str, public_url: str) -> str:
    """The Content-Security-Policy of every response, for these settings
    (MAP_TILE_URL, PUBLIC_URL)."""
    images = ["'self'", "data:", tile_source(tile_url)]
    connect = ["'self'", websocket_source(public_url)]
    directives = [
        "default-src 'self'",
        "img-src " + " ".join(source for source in images if source),
        "connect-src " + " ".join(source for source in connect if source),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def security_headers(policy: str, referrer_policy: str) -> Headers:
    """The headers added to a response (names in lower case, as ASGI has them)."""
    return (
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", referrer_policy.encode()),
    )


def with_headers(headers: list[tuple[bytes, bytes]], extra: Headers) -> list[tuple[bytes, bytes]]:
    """``headers`` plus those of ``extra`` it does not have yet."""
    present = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in extra if name not in present]


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every HTTP response.

    Args:
        app: the application.
        policy: the Content-Security-Policy (:func:`content_security_policy`).
    """

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self.app = app
        self.common = security_headers(policy, "strict-origin-when-cross-origin")
        self.secret = security_headers(policy, "no-referrer")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secret = str(scope["path"]).startswith(SECRET_URL_PREFIXES)
        extra = self.secret if secret else self.common

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_headers(list(message.get("headers", [])), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)
