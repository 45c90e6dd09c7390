"""Command line: run a fleet of simulated provider apps against a server.

    python -m clients.provider_app_sim --url ws://127.0.0.1:8000/ws/provider \\
        --tokens tokens.txt [--count N] [--interval 5] [--duration 60] \\
        [--centre -23.55,-46.63] [--radius-km 20]

``tokens.txt`` holds one device token per line (blank lines and ``#`` comments are
skipped); app *i* uses token *i*, so no two apps replace each other. Stats go to
standard output every ``--stats-every`` seconds (``--json``: one JSON object per
line). Ctrl-C or SIGTERM stops the fleet cleanly.

Load mode (benchmarks): ``--load`` sends as fast as the server acknowledges,
``--rate R`` at R positions per second in total; each message is one fresh fix whose
device time is its send time, with at most ``--window`` messages per app awaiting an
ack (``--window 0`` never waits: for servers that do not reply).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from clients.provider_app_sim.app import AppConfig, LoadPlan, Pacer
from clients.provider_app_sim.callbacks import run_callback_load
from clients.provider_app_sim.fleet import CONNECT_CONCURRENCY, build_fleet
from clients.provider_app_sim.movement import MovementConfig
from clients.provider_app_sim.processes import raise_open_file_limit
from clients.provider_app_sim.stats import Stats

MAX_SEND_LOG = 2_000_000
"""Most sends recorded by ``--send-log`` (about 100 MB of memory at most)."""


class SendLog:
    """(provider id, fix time_ms, wall seconds) of each load-mode send, bounded."""

    def __init__(self, limit: int = MAX_SEND_LOG) -> None:
        self.limit = limit
        self.rows: list[tuple[int, int, float]] = []

    def __call__(self, provider_id: int, time_ms: int, wall_s: float) -> None:
        if len(self.rows) < self.limit:
            self.rows.append((provider_id, time_ms, wall_s))

    def write(self, path: Path) -> None:
        """One ``provider_id time_ms wall_s`` line per send."""
        with path.open("w", encoding="ascii") as out:
            out.writelines(f"{pid} {t} {wall:.6f}\n" for pid, t, wall in self.rows)


def read_tokens(path: Path) -> list[str]:
    """Device tokens of a file, one per line; blank lines and ``#`` comments skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _centre(text: str) -> tuple[float, float]:
    try:
        lat, lng = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected LAT,LNG") from None
    return lat, lng


def _glue_centre(argv: list[str]) -> list[str]:
    """``--centre -23.55,-46.63`` as ``--centre=-23.55,-46.63``: argparse would take
    the value, which starts with a dash, for an option."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        out.append(f"--centre={next(args, '')}" if arg == "--centre" else arg)
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(prog="python -m clients.provider_app_sim")
    parser.add_argument("--url", required=True, help="ws://host:port/ws/provider")
    parser.add_argument("--tokens", required=True, type=Path, help="one device token per line")
    parser.add_argument("--count", type=int, help="apps to run (default: one per token)")
    parser.add_argument("--interval", type=float, help="seconds between fixes (default: welcome)")
    parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--centre", type=_centre, default=(-23.55, -46.63), help="LAT,LNG")
    parser.add_argument("--radius-km", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stats-every", type=float, default=5.0, help="seconds between stats")
    parser.add_argument("--json", action="store_true", help="stats as JSON lines")
    parser.add_argument("--connect-concurrency", type=int, default=CONNECT_CONCURRENCY)
    parser.add_argument("--no-compression", action="store_true", help="do not offer deflate")
    parser.add_argument("--idle", action="store_true", help="authenticate, then send nothing")
    load = parser.add_argument_group("load mode")
    load.add_argument("--load", action="store_true", help="send as fast as acks allow")
    load.add_argument("--rate", type=float, help="total positions per second (load mode)")
    load.add_argument("--window", type=int, default=1, help="unacked messages per app (0: any)")
    load.add_argument("--send-log", type=Path, help="write each send's (id, time_ms, wall)")
    load.add_argument(
        "--engine",
        choices=("tasks", "callbacks"),
        default="tasks",
        help="callbacks: apps as socket callbacks, no task per app (--load only, "
        "window 0 or 1, no reconnection); far less CPU per position (benchmarks)",
    )
    args = parser.parse_args(_glue_centre(argv))
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.idle and (args.load or args.rate):
        parser.error("--idle excludes --load and --rate")
    if args.engine == "callbacks" and not (
        args.load and args.rate is None and args.send_log is None and args.window in (0, 1)
    ):
        parser.error("--engine callbacks needs --load, window 0 or 1, no --rate or --send-log")
    return args


class Printer:
    """Prints stats lines, with the accepted rate since the previous line."""

    def __init__(self, total_apps: int, as_json: bool) -> None:
        self.total_apps = total_apps
        self.as_json = as_json
        self._last = (0.0, 0, 0)  # elapsed, accepted, frames sent

    def __call__(self, elapsed: float, stats: Stats) -> None:
        last_elapsed, last_accepted, last_sent = self._last
        span = max(elapsed - last_elapsed, 1e-9)
        accepted_rate = (stats.accepted - last_accepted) / span
        sent_rate = (stats.frames_sent - last_sent) / span
        self._last = (elapsed, stats.accepted, stats.frames_sent)
        if self.as_json:
            line = {
                "elapsed_s": round(elapsed, 3),
                "wall": time.time(),
                "accepted_per_s": round(accepted_rate, 1),
                "sent_per_s": round(sent_rate, 1),
                **stats.snapshot(),
            }
            print(orjson.dumps(line).decode(), flush=True)
        else:
            print(
                f"[{elapsed:7.1f} s] {stats.line(self.total_apps)} "
                f"| {sent_rate:.0f} sent/s {accepted_rate:.0f} accepted/s",
                flush=True,
            )


async def main_async(args: argparse.Namespace) -> int:
    """Run the fleet the options describe; returns the exit status."""
    tokens = read_tokens(args.tokens)
    count = args.count or len(tokens)
    if count > len(tokens):
        print(f"only {len(tokens)} tokens for {count} apps", file=sys.stderr)
        return 2
    if args.engine == "callbacks":
        return await _callback_load(args, tokens[:count])
    send_log = SendLog() if args.send_log else None
    load = None
    if args.load or args.rate:
        load = LoadPlan(Pacer(args.rate), window=args.window, on_send=send_log)
    fleet = build_fleet(
        args.url,
        tokens[:count],
        movement=MovementConfig(centre=args.centre, radius_m=args.radius_km * 1000),
        config=AppConfig(
            interval_s=args.interval, compression=not args.no_compression, idle=args.idle
        ),
        load=load,
        seed=args.seed,
        connect_concurrency=args.connect_concurrency,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    printer = Printer(count, args.json)
    stats = await fleet.run(
        args.duration, stop=stop, report=printer, report_every_s=args.stats_every
    )
    if send_log is not None:
        send_log.write(args.send_log)
    return 1 if stats.gave_up == count else 0


async def _callback_load(args: argparse.Namespace, tokens: list[str]) -> int:
    stop = _stop_on_signals()
    stats = await run_callback_load(
        args.url,
        tokens,
        movement=MovementConfig(centre=args.centre, radius_m=args.radius_km * 1000),
        window=args.window,
        compression=not args.no_compression,
        seed=args.seed,
        connect_concurrency=args.connect_concurrency,
        duration_s=args.duration,
        stop=stop,
        report=Printer(len(tokens), args.json),
        report_every_s=args.stats_every,
    )
    return 1 if stats.connects == 0 else 0


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, raise the open-file limit, run on uvloop when present."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_open_file_limit()
    runner: Callable[[Coroutine[Any, Any, int]], int] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    try:
        return runner(main_async(args))
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


if __name__ == "__main__":
    sys.exit(main())
