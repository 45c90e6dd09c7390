"""A server that only parses what the apps send: the load generator's counterpart.

``python -m clients.provider_app_sim.null_server PORT`` accepts ``acionar.v1``
websockets, sends each connection one ``welcome`` (the apps wait for it), then only
``orjson.loads`` every frame and counts it; it never replies. It prints its counters
as one JSON object per line every :data:`REPORT_EVERY_S` (``{"elapsed_s": ...,
"frames": ..., "connections": ...}``) until SIGINT or SIGTERM.

It answers two questions: how fast the generator can push frames (its own ceiling),
and how fast a bare ``websockets`` server on this machine receives and parses them
(the baseline of the ingest benchmark). It is configured like the real server's
websocket layer: 64 KiB frames, pings every 20 s, and no permessage-deflate even when
the apps offer it (the provider socket declines it: docs/protocol.md, "Frames").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import sys
import time

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from clients.provider_app_sim.processes import raise_open_file_limit
from clients.provider_app_sim.protocol import (
    DEFAULT_MAX_BATCH_FIXES,
    DEFAULT_MAX_FIX_AGE_S,
    DEFAULT_POSITION_INTERVAL_S,
    SUBPROTOCOL,
)

REPORT_EVERY_S = 1.0
MAX_FRAME_BYTES = 65_536
PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
BACKLOG = 2048
"""Pending connections the listening socket holds (uvicorn's default too)."""


def welcome(provider_id: int) -> str:
    """The ``welcome`` an app waits for before sending."""
    return orjson.dumps(
        {
            "type": "welcome",
            "provider_id": provider_id,
            "server_time_ms": time.time_ns() // 1_000_000,
            "position_interval_s": DEFAULT_POSITION_INTERVAL_S,
            "config": {
                "max_batch_fixes": DEFAULT_MAX_BATCH_FIXES,
                "max_fix_age_s": DEFAULT_MAX_FIX_AGE_S,
            },
        }
    ).decode()


async def serve_forever(port: int, host: str = "127.0.0.1") -> None:
    """Serve until SIGINT or SIGTERM, printing the counters."""
    counts = {"frames": 0, "connections": 0}
    ids = itertools.count(1)

    async def handler(ws: ServerConnection) -> None:
        counts["connections"] += 1
        try:
            await ws.send(welcome(next(ids)))
            async for message in ws:
                orjson.loads(message)
                counts["frames"] += 1
        except ConnectionClosed:
            pass
        finally:
            counts["connections"] -= 1

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    started = time.monotonic()
    async with serve(
        handler,
        host,
        port,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        max_size=MAX_FRAME_BYTES,
        compression=None,
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_TIMEOUT_S,
        backlog=BACKLOG,
    ):
        while not stop.is_set():
            line = {"elapsed_s": round(time.monotonic() - started, 3), **counts}
            print(orjson.dumps(line).decode(), flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPORT_EVERY_S)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``PORT``; runs on uvloop when present."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m clients.provider_app_sim.null_server PORT", file=sys.stderr)
        return 2
    raise_open_file_limit()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_forever(int(args[0])))
    else:
        uvloop.run(serve_forever(int(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
