"""What the operators' console reads besides the operations API: its settings (map
tiles) and the live map's snapshot of providers (where each is, whether it is on a
job, how it can be reached now). After the snapshot, ``/ws/panel`` carries the
positions as they change."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy import func, select

from registry.enums import ProviderStatus
from registry.models import Provider
from registry.permissions import Permission
from server.api.core import Access, Ctx, Operation

MAX_MAP_PROVIDERS = 20_000
"""Providers one snapshot lists at most (the map's canvas layer draws them all)."""

Reach = Literal["app", "web", "offline", "unknown"]


def _reach(value: str) -> Reach:
    return "app" if value == "app" else "web" if value == "web" else "offline"


class ConsoleConfigOut(BaseModel):
    tile_url: str
    tile_attribution: str
    positions_ms: float
    fresh_s: float


class MapProviderOut(BaseModel):
    """A provider on the live map: its live position when fresh, else its base."""

    id: int
    name: str
    lat: float
    lng: float
    live: bool
    position_ms: int | None
    busy: bool
    reach: Reach


class MapProvidersOut(BaseModel):
    providers: list[MapProviderOut]
    truncated: bool


async def console_config(ctx: Ctx) -> ConsoleConfigOut:
    s = ctx.resources.settings
    return ConsoleConfigOut(
        tile_url=s.map_tile_url,
        tile_attribution=s.map_tile_attribution,
        positions_ms=s.panel_positions_ms,
        fresh_s=s.position_fresh_s,
    )


async def map_providers(ctx: Ctx) -> MapProvidersOut:
    live = ctx.request.app.state.live
    rows = (
        await ctx.session.execute(
            select(
                Provider.id,
                Provider.name,
                func.ST_Y(func.geometry(Provider.base_location)),
                func.ST_X(func.geometry(Provider.base_location)),
            )
            .where(Provider.status == ProviderStatus.ACTIVE)
            .order_by(Provider.id)
            .limit(MAX_MAP_PROVIDERS + 1)
        )
    ).all()
    truncated = len(rows) > MAX_MAP_PROVIDERS
    rows = rows[:MAX_MAP_PROVIDERS]
    ids = [r[0] for r in rows]
    reach: dict[int, Reach] = {}
    try:
        found = await live.store.connectivity(ids)
        reach = {pid: _reach(found[pid].value) for pid in ids}
    except (RedisError, OSError):
        reach = {}
    mirror = live.mirror.mirror
    now_ms = int(time.time() * 1000)
    fresh_ms = ctx.resources.settings.position_fresh_s * 1000
    out: list[MapProviderOut] = []
    for pid, name, base_lat, base_lng in rows:
        fix = mirror.position(pid)
        is_live = fix is not None and now_ms - fix[2] <= fresh_ms
        if fix is not None and is_live:
            lat, lng, at = fix[0], fix[1], fix[2]
        elif base_lat is not None:
            lat, lng, at = base_lat, base_lng, None
        else:
            continue
        out.append(
            MapProviderOut(
                id=pid,
                name=name,
                lat=lat,
                lng=lng,
                live=is_live,
                position_ms=at,
                busy=mirror.is_busy(pid),
                reach=reach.get(pid, "unknown"),
            )
        )
    return MapProvidersOut(providers=out, truncated=truncated)


OPERATIONS = [
    Operation(
        "GET",
        "/console/config",
        console_config,
        "The console's settings: map tiles, how often positions come",
        "operations",
        access=Access.USER,
        response=ConsoleConfigOut,
    ),
    Operation(
        "GET",
        "/console/providers",
        map_providers,
        "The live map's providers: position (live when fresh, else base), busy, reach",
        "operations",
        permission=Permission.OPERATIONS_VIEW,
        response=MapProvidersOut,
    ),
]
