"""The realtime parts a server process owns: node id, live store, bus, hub, writer.

Opened by the app's lifespan after the database and Redis clients; every background
task here (bus listener, position writer, presence keeper) is owned by
:func:`open_live` and cancelled and awaited when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from realtime.bus import Bus
from realtime.filter import FilterConfig, RejectionCounts
from realtime.hub import Hub
from realtime.session import ConnectionConfig
from realtime.store import LiveStore
from realtime.writer import PositionWriter, WriterConfig
from server.resources import Resources
from server.settings import Settings

log = logging.getLogger("acionar.live")

ONLINE_EVENT = "provider.online"
REVOKED_EVENT = "device_token.revoked"


def connection_config(settings: Settings) -> ConnectionConfig:
    return ConnectionConfig(
        auth_deadline_s=settings.ws_auth_deadline_s,
        idle_timeout_s=settings.ws_idle_timeout_s,
        max_frame_bytes=settings.ws_max_frame_bytes,
        max_batch_fixes=settings.ws_max_batch_fixes,
        rate_limit_per_s=settings.ws_rate_limit_per_s,
        rate_limit_burst=settings.ws_rate_limit_burst,
        flood_close_after=settings.ws_flood_close_after,
        position_interval_s=settings.position_interval_s,
        ping_interval_s=settings.ws_ping_interval_s,
        ping_timeout_s=settings.ws_ping_timeout_s,
        filter=FilterConfig(
            max_speed_kmh=settings.position_max_speed_kmh,
            max_accuracy_m=settings.position_max_accuracy_m,
            max_future_s=settings.position_max_future_s,
            max_age_s=settings.position_max_age_s,
        ),
    )


@dataclass
class Live:
    settings: Settings
    node_id: str
    store: LiveStore
    bus: Bus
    hub: Hub
    writer: PositionWriter
    config: ConnectionConfig
    rejections: RejectionCounts = field(default_factory=RejectionCounts)


def _subscribe(live: Live) -> None:
    async def online(event: dict[str, Any]) -> None:
        if event.get("node") != live.node_id:
            live.hub.replaced_elsewhere(int(event["provider_id"]), str(event["connection_id"]))

    async def revoked(event: dict[str, Any]) -> None:
        live.hub.revoke(int(event["provider_id"]), int(event["token_id"]))

    live.bus.on(ONLINE_EVENT, online)
    live.bus.on(REVOKED_EVENT, revoked)


async def _keep_presence(live: Live) -> None:
    """Refresh the presence of this node's connections well within its TTL."""
    ttl = live.settings.presence_ttl_s
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            await live.store.refresh(live.hub.held(), ttl)
        except (RedisError, OSError) as exc:
            log.warning("presence: refresh failed (%s)", exc)


@contextlib.asynccontextmanager
async def open_live(resources: Resources) -> AsyncIterator[Live]:
    settings = resources.settings
    store = LiveStore(resources.redis, settings.redis_prefix)
    bus = Bus(resources.redis, settings.redis_prefix + settings.bus_channel, uuid.uuid4().hex)
    writer_config = WriterConfig(
        flush_s=settings.position_flush_ms / 1000,
        flush_max=settings.position_flush_max,
        publish_interval_s=settings.position_publish_interval_s,
    )
    live = Live(
        settings,
        bus.node_id,
        store,
        bus,
        Hub(),
        PositionWriter(store, bus, writer_config),
        connection_config(settings),
    )
    _subscribe(live)
    async with bus.running(), live.writer.running():
        presence = asyncio.create_task(_keep_presence(live), name="presence-keeper")
        try:
            yield live
        finally:
            live.hub.notify_all("shutdown")
            presence.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await presence
