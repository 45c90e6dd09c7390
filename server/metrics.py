"""``GET /metrics``: this process's counters in the Prometheus text format.

Aggregates only (no business data): provider sockets held by this node, positions
written to and dropped from Redis, and fixes rejected by the position filter, per
reason. Each server process reports its own; a scraper sums them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from server.live import Live

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(live: Live) -> str:
    lines = [
        "# HELP acionar_provider_connections Provider app sockets held by this process.",
        "# TYPE acionar_provider_connections gauge",
        f"acionar_provider_connections {len(live.hub)}",
        "# HELP acionar_positions_written_total Positions written to the live store.",
        "# TYPE acionar_positions_written_total counter",
        f"acionar_positions_written_total {live.writer.written}",
        "# HELP acionar_positions_dropped_total Positions dropped while Redis was down.",
        "# TYPE acionar_positions_dropped_total counter",
        f"acionar_positions_dropped_total {live.writer.dropped}",
        "# HELP acionar_positions_rejected_total Fixes rejected by the position filter.",
        "# TYPE acionar_positions_rejected_total counter",
    ]
    lines += [
        f'acionar_positions_rejected_total{{reason="{reason}"}} {count}'
        for reason, count in live.rejections.as_dict().items()
    ]
    return "\n".join(lines) + "\n"


async def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(render(request.app.state.live), media_type=CONTENT_TYPE)
