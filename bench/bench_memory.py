"""Memory: server RSS per connected idle provider, measured with 10,000 connections
(1,000 with ``QUICK=1``).

Target (the issue's): under 50 KB of server RSS per connected idle provider.

The benchmark owns the database ``acionar_bench_memory`` (created, migrated, loaded
with 10,000 providers and their device tokens, dropped at the end) and the Redis
prefix ``acionar-bench-memory:``. For each server, the real one
(``python -m server.cli serve``) and the bare ``websockets`` server
(:mod:`clients.provider_app_sim.null_server`) as baseline:

1. start it; warm it up with :data:`WARMUP_APPS` apps streaming positions for
   :data:`WARMUP_S` (pools opened, code paths taken), which then leave;
2. read its ``VmRSS``;
3. connect 10,000 idle apps from :data:`PROCESSES` simulator processes: each
   authenticates, says ``hello`` and then sends nothing (the websocket library
   still answers pings); wait :data:`SETTLE_S`;
4. read ``VmRSS`` again: (after − before) / 10,000 is the figure.

Both servers are measured twice: with apps that offer permessage-deflate, as
OkHttp does, and with apps that do not. Both decline it (a negotiated deflate
context would hold zlib state on the server for the connection's life), so the two
samples differ only in the handshake.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.bench_ingest import (
    acionar_server,
    all_connected,
    bare_server,
    clear_redis,
    create_database,
    database_url,
    drop_database,
    generator,
    write_tokens,
)
from bench.report import Figure
from clients.provider_app_sim.processes import raise_open_file_limit, rss_kb
from server.settings import Settings

DATABASE = "acionar_bench_memory"
REDIS_PREFIX = "acionar-bench-memory:"
QUICK = os.environ.get("QUICK") == "1"
PROVIDERS = 1_000 if QUICK else 10_000
PROCESSES = 2
"""Simulator processes holding the idle connections (half the sockets each)."""

CONNECT_CONCURRENCY = 32
"""Handshakes in progress at once per simulator process."""

WARMUP_APPS = 200
WARMUP_S = 3.0 if QUICK else 8.0
WARMUP_INTERVAL_S = 0.5
SETTLE_S = 3.0 if QUICK else 10.0
"""Wait after the last connection before reading the RSS again."""

TARGET_KB = 50.0
COMPRESSION = (True,) if QUICK else (True, False)
"""Apps offering permessage-deflate, then not (the quick run: only as apps do)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """RSS of a server before and after the idle connections, in KiB."""

    before_kb: int
    after_kb: int
    connect_s: float

    @property
    def per_connection_kb(self) -> float:
        return (self.after_kb - self.before_kb) / PROVIDERS


async def _warm_up(port: int, tokens: Path, logs: Path, deflate: list[str]) -> None:
    options = ["--count", str(WARMUP_APPS), "--interval", str(WARMUP_INTERVAL_S), *deflate]
    async with generator(port, tokens, logs, "warmup", *options) as gen:
        await all_connected(gen, WARMUP_APPS)
        await asyncio.sleep(WARMUP_S)


async def _sample(
    pid: int, port: int, token_files: list[Path], logs: Path, compression: bool
) -> Sample:
    deflate = [] if compression else ["--no-compression"]
    await _warm_up(port, token_files[0], logs, deflate)
    await asyncio.sleep(2.0)  # the warm-up apps' connections are gone
    before = rss_kb(pid)
    per_process = PROVIDERS // len(token_files)
    options = ["--idle", "--connect-concurrency", str(CONNECT_CONCURRENCY), *deflate]
    async with contextlib.AsyncExitStack() as stack:
        gens = [
            await stack.enter_async_context(generator(port, path, logs, f"idle-{i}", *options))
            for i, path in enumerate(token_files)
        ]
        times = await asyncio.gather(*(all_connected(gen, per_process) for gen in gens))
        await asyncio.sleep(SETTLE_S)
        after = rss_kb(pid)
        for gen in gens:
            last = await gen.latest()
            if last["connected"] < per_process:
                raise RuntimeError(f"{gen.name}: connections dropped while idle: {last}")
    return Sample(before, after, max(times))


async def _acionar(
    settings: Settings, db_url: str, token_files: list[Path], logs: Path, compression: bool
) -> Sample:
    async with acionar_server(settings, db_url, REDIS_PREFIX, logs) as (server, port):
        sample = await _sample(server.pid, port, token_files, logs, compression)
    _show("server", sample, compression)
    return sample


async def _bare(token_files: list[Path], logs: Path, compression: bool) -> Sample:
    async with bare_server(logs) as (server, port):
        sample = await _sample(server.pid, port, token_files, logs, compression)
    _show("bare server", sample, compression)
    return sample


def _show(what: str, sample: Sample, compression: bool) -> None:
    print(
        f"[bench] memory: {what} (apps {'offer' if compression else 'do not offer'} deflate): RSS "
        f"{sample.before_kb / 1024:.0f} → {sample.after_kb / 1024:.0f} MiB, "
        f"{sample.per_connection_kb:.1f} KiB per connection "
        f"(connected in {sample.connect_s:.1f} s)",
        flush=True,
    )


def _figures(samples: dict[tuple[str, bool], Sample]) -> list[Figure]:
    server, bare = samples["server", True], samples["bare", True]
    figures = [
        Figure(
            f"server RSS per idle provider, {PROVIDERS:,} connections (apps offer deflate)",
            server.per_connection_kb,
            "KiB",
            f"< {TARGET_KB:.0f} KB",
            "bare websockets server (declines deflate too), same connections",
            bare.per_connection_kb,
        ),
        Figure(
            f"extra: server RSS with {PROVIDERS:,} idle providers (apps offer deflate)",
            server.after_kb / 1024,
            "MiB",
            "",
            "RSS after start-up and warm-up",
            server.before_kb / 1024,
        ),
        Figure(
            f"extra: connect and authenticate {PROVIDERS:,} apps "
            f"({PROCESSES} × {CONNECT_CONCURRENCY} handshakes at a time)",
            server.connect_s,
            "s",
            "",
            "the same against the bare server",
            bare.connect_s,
        ),
    ]
    if ("server", False) in samples:
        plain, bare_plain = samples["server", False], samples["bare", False]
        figures.insert(
            1,
            Figure(
                "extra: the same, apps not offering permessage-deflate",
                plain.per_connection_kb,
                "KiB",
                f"< {TARGET_KB:.0f} KB",
                "bare websockets server, no deflate",
                bare_plain.per_connection_kb,
            ),
        )
    return figures


async def run(settings: Settings) -> list[Figure]:
    """RSS per idle connection of the real and the bare server, with and without
    permessage-deflate."""
    raise_open_file_limit()
    samples: dict[tuple[str, bool], Sample] = {}
    with tempfile.TemporaryDirectory(prefix="acionar-bench-memory-") as tmp:
        logs = Path(tmp)
        tokens = await create_database(settings, DATABASE, PROVIDERS)
        share = PROVIDERS // PROCESSES
        token_files = [
            write_tokens(tokens[i * share : (i + 1) * share], logs / f"tokens-{i}.txt")
            for i in range(PROCESSES)
        ]
        db_url = database_url(settings, DATABASE)
        try:
            for compression in COMPRESSION:
                await clear_redis(settings, REDIS_PREFIX)
                samples["server", compression] = await _acionar(
                    settings, db_url, token_files, logs, compression
                )
                samples["bare", compression] = await _bare(token_files, logs, compression)
        finally:
            await clear_redis(settings, REDIS_PREFIX)
            await drop_database(settings, DATABASE)
    return _figures(samples)
