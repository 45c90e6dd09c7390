"""Liveness (/healthz) and readiness (/readyz) of a server process.

/readyz checks, concurrently and each within READY_TIMEOUT_S, that PostgreSQL answers,
that PostGIS is installed in it, and that Redis answers. It answers 200 when all hold,
else 503 with a JSON body naming each check that failed; the process keeps running
and the next call checks again (the pools reconnect by themselves).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.exceptions
import sqlalchemy.exc
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from server.http import json_response
from server.resources import Resources

log = logging.getLogger("acionar.health")


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    error: str | None = None


UNREACHABLE = (OSError, redis.exceptions.ConnectionError, sqlalchemy.exc.DBAPIError)


def _describe(exc: Exception) -> str:
    """A short, detail-free reason for a failed check (the log has the details)."""
    return "unreachable" if isinstance(exc, UNREACHABLE) else type(exc).__name__


async def _check(name: str, probe: Callable[[], Awaitable[None]], limit_s: float) -> CheckResult:
    try:
        await asyncio.wait_for(probe(), limit_s)
    except TimeoutError:
        return CheckResult(name, False, f"no answer within {limit_s:g}s")
    except Exception as exc:
        log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
        return CheckResult(name, False, _describe(exc))
    return CheckResult(name, True)


async def check_database(resources: Resources, limit_s: float) -> list[CheckResult]:
    """PostgreSQL reachable, then PostGIS present (reported as two checks)."""
    postgis_missing = False

    async def probe() -> None:
        nonlocal postgis_missing
        async with resources.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            found = await conn.scalar(
                text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
            )
            postgis_missing = not found

    pg = await _check("postgresql", probe, limit_s)
    if not pg.ok:
        return [pg, CheckResult("postgis", False, "postgresql unavailable")]
    if postgis_missing:
        return [pg, CheckResult("postgis", False, "extension not installed")]
    return [pg, CheckResult("postgis", True)]


async def check_redis(resources: Resources, limit_s: float) -> CheckResult:
    async def probe() -> None:
        await resources.redis.ping()

    return await _check("redis", probe, limit_s)


async def readiness(resources: Resources) -> list[CheckResult]:
    limit_s = resources.settings.ready_timeout_s
    database, redis = await asyncio.gather(
        check_database(resources, limit_s), check_redis(resources, limit_s)
    )
    return [*database, redis]


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    results = await readiness(request.app.state.resources)
    failed = [r.name for r in results if not r.ok]
    body = {
        "status": "ready" if not failed else "unavailable",
        "failed": failed,
        "checks": {
            r.name: {"ok": r.ok, **({"error": r.error} if r.error else {})} for r in results
        },
    }
    return json_response(body, status_code=503 if failed else 200)
