"""The Starlette application factory: the composition root of Acionar."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server import health, link_pages, tracking_pages, ws_panel, ws_portal
from server.api import api_routes
from server.http import error_response
from server.live import open_live
from server.logs import RequestIdMiddleware
from server.metrics import Metrics, MetricsMiddleware, metrics, route_templates
from server.resources import open_resources
from server.security_headers import SecurityHeadersMiddleware, content_security_policy
from server.settings import PROJECT_ROOT, Settings, load_settings

WEB_STATIC = PROJECT_ROOT / "clients" / "web" / "static"
CONSOLE_DIST = PROJECT_ROOT / "clients" / "web" / "dist"
"""The console as Vite builds it (``make web``; ``make run`` and ``make test`` do)."""

GC_THRESHOLDS = (20_000, 50, 10)
"""The collector's generation thresholds (CPython's defaults: 700, 10, 10).

With thousands of provider sockets, the parser state each frame leaves until the
next one was promoted at the default pace, and full collections over every
connection's objects paused the process for 100 ms and more (the ingest benchmark's
latency p99). Young collections every 20,000 allocations let that state die young;
full ones still come after 10 middle passes, so the objects of closed connections
are reclaimed within minutes (docs/architecture.md, "The provider socket")."""

log = logging.getLogger("acionar.app")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    known = {
        404: ("not_found", "Recurso não encontrado."),
        405: ("method_not_allowed", "Método não permitido."),
    }
    code, message = known.get(exc.status_code, ("http_error", str(exc.detail)))
    return error_response(code, message, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    response = error_response("internal_error", "Erro interno. Tente novamente.", 500)
    # Starlette re-raises after this answer and uvicorn then drops the connection:
    # say so, so that a keep-alive client does not send its next request into it.
    response.headers["connection"] = "close"
    return response


async def _index(request: Request) -> Response:
    return FileResponse(WEB_STATIC / "index.html")


NOT_BUILT = """<!doctype html><html lang="pt-BR"><meta charset="utf-8">
<title>Acionar — console</title><link rel="stylesheet" href="/static/acionar.css"><body>
<h1>Console não compilado</h1><p>Rode <code>make web</code> (ou <code>make run</code>)
e recarregue a página.</p></body></html>"""


async def _console(request: Request) -> Response:
    page = CONSOLE_DIST / "index.html"
    if not page.is_file():
        return HTMLResponse(NOT_BUILT, status_code=503)
    return FileResponse(page, headers={"Cache-Control": "no-cache"})


async def _portal(request: Request) -> Response:
    return FileResponse(WEB_STATIC / "portal.html")


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the application; its lifespan owns the database engine and Redis client."""
    settings = settings or load_settings()
    measured = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_resources(settings) as resources, open_live(resources) as live:
            app.state.resources = resources
            app.state.live = live
            measured.watch(live)
            # Objects alive after start-up (modules, routes, schemas) live as long as
            # the process: keep them out of the collector's full passes, which
            # otherwise pause requests for tens of milliseconds (measured in search).
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLDS)
            log.info("acionar started")
            yield
        log.info("acionar stopped")

    routes = [
        *api_routes(),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/", _index, methods=["GET"]),
        Route("/portal", _portal, methods=["GET"]),
        *link_pages.ROUTES,
        *tracking_pages.ROUTES,
        *ws_portal.ROUTES,
        *ws_panel.ROUTES,
        Route("/console", _console, methods=["GET"]),
        Mount(
            "/console/assets",
            StaticFiles(directory=CONSOLE_DIST / "assets", check_dir=False),
            name="console-assets",
        ),
        Mount("/static", StaticFiles(directory=WEB_STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(MetricsMiddleware, metrics=measured, templates=route_templates(routes)),
            Middleware(RequestIdMiddleware, max_len=settings.request_id_max_len),
            Middleware(
                SecurityHeadersMiddleware,
                policy=content_security_policy(settings.map_tile_url, settings.public_url),
            ),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.metrics = measured
    return app
