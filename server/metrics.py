"""``GET /metrics``: this process's metrics in the Prometheus text format
(``prometheus_client``; docs/operations.md, "Metrics").

Aggregates only, never business data:

* ``acionar_http_request_duration_seconds{method,route}``: a latency histogram per
  route *template* (``/api/v1/jobs/{job_id}``, never the raw path: the label set
  stays bounded whatever the clients send), and
  ``acionar_http_responses_total{method,route,status}``;
* ``acionar_api_errors_total{code}``: API error answers by their stable code
  (``validation_error``, ``not_found``, ``unavailable``...);
* sockets held by this process: provider apps, provider portal pages, operators'
  panels; positions written, dropped and rejected (per filter reason); outbox
  events relayed to the bus; the event loop's lateness and the pauses it asked of
  provider sockets (load shedding, realtime/lag.py);
* the bus: whether this process is subscribed to it, and the outbox's backlog
  (events committed and not yet relayed, and the oldest one's age) as the relay
  last measured it (:meth:`operations.outbox.OutboxRelay.measure`, at most once per
  ``OUTBOX_POLL_S``: a scrape itself never queries the database).

Each server process reports its own; a scraper sums them. Who may read it: with
``METRICS_TOKEN`` set, a request bearing ``Authorization: Bearer <token>``; without
it, only a client on this machine (loopback): the operator's scraper runs beside
the server or through the token.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http import error_response

if TYPE_CHECKING:
    from server.live import Live

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER_ROUTE = "other"  # static files, unknown paths: one label, not one per path
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one app, in a registry of its own (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "acionar_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.responses = Counter(
            "acionar_http_responses",
            "HTTP responses by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.api_errors = Counter(
            "acionar_api_errors",
            "API error answers by their code.",
            ["code"],
            registry=self.registry,
        )

    def watch(self, live: Live) -> None:
        """Report the live state (sockets, positions, outbox) at each scrape."""
        self.registry.register(_LiveCollector(live))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(self, live: Live) -> None:
        self.live = live

    def collect(self) -> Iterator[Metric]:
        live = self.live
        sockets = GaugeMetricFamily(
            "acionar_sockets", "Websockets held by this process, by kind.", labels=["kind"]
        )
        sockets.add_metric(["provider_app"], len(live.hub))
        sockets.add_metric(["provider_portal"], len(live.portal))
        sockets.add_metric(["panel"], len(live.panels))
        yield sockets
        # the name this gauge always had (dashboards use it)
        yield GaugeMetricFamily(
            "acionar_provider_connections",
            "Provider app sockets held by this process.",
            value=len(live.hub),
        )
        yield CounterMetricFamily(
            "acionar_positions_written", "Positions written to the live store.", live.writer.written
        )
        yield CounterMetricFamily(
            "acionar_positions_dropped",
            "Positions dropped while Redis was down.",
            live.writer.dropped,
        )
        rejected = CounterMetricFamily(
            "acionar_positions_rejected",
            "Fixes rejected by the position filter.",
            labels=["reason"],
        )
        for reason, count in live.rejections.as_dict().items():
            rejected.add_metric([reason], count)
        yield rejected
        yield CounterMetricFamily(
            "acionar_outbox_relayed", "Outbox events relayed to the bus.", live.relay.relayed
        )
        backlog = live.relay.backlog
        yield GaugeMetricFamily(
            "acionar_outbox_waiting",
            f"Outbox events committed and not yet relayed to the bus (counted up to "
            f"{live.relay.config.count_cap}), as last measured.",
            value=backlog.waiting,
        )
        yield GaugeMetricFamily(
            "acionar_outbox_lag_seconds",
            "Age of the oldest outbox event not yet relayed (0: none waits), as last measured.",
            value=backlog.oldest_s,
        )
        yield GaugeMetricFamily(
            "acionar_bus_connected",
            "1 while this process is subscribed to the Redis bus, else 0.",
            value=int(live.bus.connected),
        )
        yield GaugeMetricFamily(
            "acionar_event_loop_lag_seconds",
            "How late this process's event loop ran its last probe.",
            value=live.lag.lag_s,
        )
        yield CounterMetricFamily(
            "acionar_provider_reads_eased",
            "Pauses in reading provider sockets while the event loop ran late.",
            live.lag.eased,
        )


def route_templates(routes: list[BaseRoute], prefix: str = "") -> dict[Any, str]:
    """Each route's endpoint → its path template (``{job_id}``, converters dropped)."""
    found: dict[Any, str] = {}
    for route in routes:
        if isinstance(route, Route):
            found[route.endpoint] = prefix + route.path.replace(":int", "")
        elif isinstance(route, Mount) and route.routes:
            found |= route_templates(list(route.routes), prefix + route.path)
    return found


class MetricsMiddleware:
    """Times every HTTP request and counts its status, by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: dict[Any, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the answer started is a 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.templates.get(scope.get("endpoint"), OTHER_ROUTE)
            method = scope["method"]
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.responses.labels(method, route, str(status)).inc()


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed(request: Request, token: str) -> bool:
    """Whether ``request`` may read the metrics (see the module's docstring)."""
    if not token:
        return _loopback(request)
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


async def metrics(request: Request) -> Response:
    token: str = request.app.state.resources.settings.metrics_token
    if not allowed(request, token):
        return error_response("forbidden", "Métricas: acesso negado.", 403)
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)
