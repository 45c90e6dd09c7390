"""The realtime parts a server process owns: node id, live store, bus, hub, writer,
the mirror of the live store and the provider catalogue of candidate search.

Opened by the app's lifespan after the database and Redis clients; every background
task here (live mirror, bus listener, position writer, presence keeper, catalogue
reloads and announcements) is owned by :func:`open_live` and cancelled and awaited
when the server stops.

The job tracks (:class:`server.tracks.TrackRecorder`) follow the ``job.status``
events; at start, the busy flags in Redis are rebuilt from the jobs in progress.

Candidate search reads this node's mirror of the live store
(:class:`realtime.mirror.MirrorFeed`: positions and busy flags, fed by the store's
live channel). The catalogue (:class:`geo.source.CatalogueKeeper`) learns of
registry writes to providers at commit (:func:`geo.watch.watching`): this node's
copy is invalidated before the request that wrote answers, and the ids go out on the
bus (:data:`PROVIDERS_CHANGED_EVENT`) to the other nodes. A bus outage loses news, so
on resubscribing each node reloads its catalogue whole.
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

from geo.ranking import ScoreOptions, Weights
from geo.source import RESOLUTION, CatalogueKeeper
from geo.watch import watching
from realtime.bus import Bus
from realtime.filter import FilterConfig, RejectionCounts
from realtime.hub import Hub
from realtime.mirror import MirrorFeed
from realtime.session import ConnectionConfig
from realtime.store import LiveStore
from realtime.tasks import owned_task
from realtime.writer import PositionWriter, WriterConfig
from server.resources import Resources
from server.settings import Settings
from server.tracks import JOB_STATUS_EVENT, TrackRecorder

log = logging.getLogger("acionar.live")

ONLINE_EVENT = "provider.online"
REVOKED_EVENT = "device_token.revoked"
PROVIDERS_CHANGED_EVENT = "registry.providers_changed"
ANNOUNCE_QUEUE = 1_000
"""Commits whose changed providers wait to go out on the bus; beyond, the next
announcement asks every node to reload its whole catalogue."""


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


def default_weights(settings: Settings) -> Weights:
    """The ranking weights of settings ``RANKING_WEIGHT_*``, normalised."""
    s = settings
    return Weights.from_mapping(
        {
            "distance": s.ranking_weight_distance,
            "on_time_rate": s.ranking_weight_on_time_rate,
            "acceptance_rate": s.ranking_weight_acceptance_rate,
            "preference": s.ranking_weight_preference,
            "partnership": s.ranking_weight_partnership,
            "price": s.ranking_weight_price,
        }
    )


def score_options(settings: Settings) -> ScoreOptions:
    return ScoreOptions(busy_penalty=settings.ranking_busy_penalty)


@dataclass
class Live:
    settings: Settings
    node_id: str
    store: LiveStore
    bus: Bus
    hub: Hub
    writer: PositionWriter
    config: ConnectionConfig
    catalogue: CatalogueKeeper
    tracks: TrackRecorder
    mirror: MirrorFeed
    rejections: RejectionCounts = field(default_factory=RejectionCounts)
    announcements: asyncio.Queue[set[int] | None] = field(
        default_factory=lambda: asyncio.Queue(ANNOUNCE_QUEUE)
    )

    @property
    def weights(self) -> Weights:
        """The default ranking weights (settings ``RANKING_WEIGHT_*``, normalised)."""
        return default_weights(self.settings)

    @property
    def score_options(self) -> ScoreOptions:
        return score_options(self.settings)

    def providers_committed(self, provider_ids: set[int]) -> None:
        """Registry writes to these providers committed on this node (synchronous)."""
        self.catalogue.invalidate(provider_ids)
        try:
            self.announcements.put_nowait(provider_ids)
        except asyncio.QueueFull:  # the bus is slow: have every node reload instead
            self.announcements.get_nowait()
            self.announcements.put_nowait(None)


def _subscribe(live: Live) -> None:
    async def online(event: dict[str, Any]) -> None:
        if event.get("node") != live.node_id:
            live.hub.replaced_elsewhere(int(event["provider_id"]), str(event["connection_id"]))

    async def revoked(event: dict[str, Any]) -> None:
        live.hub.revoke(int(event["provider_id"]), int(event["token_id"]))

    async def providers_changed(event: dict[str, Any]) -> None:
        if event.get("node") == live.node_id:
            return  # invalidated at commit already
        ids = event.get("provider_ids")
        if ids is None:
            live.catalogue.invalidate_all()
        else:
            live.catalogue.invalidate(int(pid) for pid in ids)

    live.bus.on(ONLINE_EVENT, online)
    live.bus.on(REVOKED_EVENT, revoked)

    async def job_status(event: dict[str, Any]) -> None:
        live.tracks.on_status(event)

    live.bus.on(PROVIDERS_CHANGED_EVENT, providers_changed)
    live.bus.on(JOB_STATUS_EVENT, job_status)
    live.bus.on_resubscribe(live.catalogue.invalidate_all)


async def _announce(live: Live) -> None:
    """Tell the other nodes which providers changed here (None: reload them all)."""
    while True:
        ids = await live.announcements.get()
        payload = {"provider_ids": None if ids is None else sorted(ids)}
        try:
            await live.bus.publish(PROVIDERS_CHANGED_EVENT, payload)
        except (RedisError, OSError) as exc:
            log.warning("catalogue: could not announce changed providers (%s)", exc)


async def _rebuild_busy(live: Live) -> None:
    """The busy flags from the jobs in PostgreSQL (the tracks recorder just loaded
    them): a Redis that restarted, or missed an update, is right again."""
    try:
        await live.store.replace_busy(live.tracks.active.providers())
    except (RedisError, OSError) as exc:
        log.warning("busy flags not rebuilt (%s)", exc)


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
        CatalogueKeeper(
            resources.sessions,
            reload_s=settings.catalogue_reload_s,
            warm=[(default_weights(settings), score_options(settings))],
        ),
        TrackRecorder(
            resources.sessions,
            flush_s=settings.track_flush_ms / 1000,
            buffer_max=settings.track_buffer_max,
        ),
        MirrorFeed(store),
    )
    _subscribe(live)
    engine = resources.engine.sync_engine
    if store.resolution != RESOLUTION:
        raise RuntimeError(f"live cells at resolution {store.resolution}, not {RESOLUTION}")
    async with (
        live.mirror.running(),
        bus.running(),
        live.writer.running(),
        live.catalogue.running(),
        live.tracks.running(),
    ):
        await _rebuild_busy(live)
        async with (
            owned_task(_keep_presence(live), "presence-keeper"),
            owned_task(_announce(live), "catalogue-announcer"),
        ):
            try:
                with watching(engine, live.providers_committed):
                    yield live
            finally:
                live.hub.notify_all("shutdown")
