"""Run the server with uvicorn (``acionar serve``)."""

from __future__ import annotations

import logging

import uvicorn

from server.app import create_app
from server.http_guard import GuardLimits, guarded_protocol
from server.logs import configure_logging
from server.settings import Settings
from server.ws_provider import websocket_protocol

log = logging.getLogger("acionar")


def guard_limits(settings: Settings) -> GuardLimits:
    """The HTTP read deadlines and connection cap the settings ask for."""
    return GuardLimits(
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        body_total_s=settings.http_body_total_s,
        upload_total_s=settings.http_upload_total_s,
        upload_above_bytes=settings.api_max_body_bytes,
        max_per_address=settings.http_max_connections_per_address,
        spared=settings.trusted_proxy_networks,
    )


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; open connections get SHUTDOWN_TIMEOUT_S to finish."""
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    proxies = settings.trusted_proxy_networks
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # uvicorn's httptools protocol with read deadlines and a cap of connections
        # per address (server/http_guard.py).
        http=guarded_protocol(guard_limits(settings)),
        timeout_keep_alive=settings.http_keep_alive_s,
        # X-Forwarded-For/-Proto are believed from the listed proxies only; uvicorn's
        # default believes any local peer (docs/security.md, "Proxies").
        proxy_headers=bool(proxies),
        forwarded_allow_ips=[str(network) for network in proxies],
        # /ws/provider skips ASGI (server/ws_provider.py); other websocket paths get
        # uvicorn's sans-I/O websockets protocol.
        ws=websocket_protocol(app),
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        ws_max_size=settings.ws_max_frame_bytes,
        # Positions are small, and a negotiated deflate holds zlib state of tens of
        # KiB per connection (docs/protocol.md, "Frames"). The provider socket never
        # offers it; this turns it off for the other websocket paths too.
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        server_header=False,
    )
    log.info(
        "Acionar serving at http://%s:%d (operators' console: /console; Ctrl-C stops it)",
        host,
        port,
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the SIGINT it handled once shutdown is complete: a
        # requested stop, not a failure.
        log.info("stopped by Ctrl-C")
