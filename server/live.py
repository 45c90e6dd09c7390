"""What a server process owns while it runs: node id, live store, bus, hub, writer,
the mirror of the live store, the provider catalogue, the job tracks, the outbox
relay and the application layer (:class:`operations.service.Operations`).

Opened by the app's lifespan after the database and Redis clients; every background
task here (live mirror, bus listener, position writer, track recorder, outbox relay,
presence keeper, catalogue reloads and announcements) is owned by :func:`open_live`
and cancelled and awaited when the server stops.

Bus subscriptions, by event (:mod:`operations.events`): a newer connection of a
provider on another node closes ours (``provider.online``); a revoked token closes
the sockets that used it (``device_token.revoked``); providers edited in the
registry are reread for candidate search (``registry.providers_changed``); the job
tracks follow who is on which job (``job.status``); the node holding a provider's
socket sends it its offers, their withdrawal and its jobs' updates (``offer.created``,
``offer.status``, ``job.status``: :mod:`server.dispatching`); the operators'
consoles get every panel event (:mod:`server.ws_panel`). A bus outage loses news
(durable events come again from the outbox), so on resubscribing each node reloads
its catalogue and its active jobs whole.

Candidate search reads this node's mirror of the live store
(:class:`realtime.mirror.MirrorFeed`: positions and busy flags, fed by the store's
live channel). The catalogue (:class:`geo.source.CatalogueKeeper`) learns of
registry writes to providers at commit (:func:`geo.watch.watching`): this node's
copy is invalidated before the request that wrote answers, and the ids go out on the
bus to the other nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from geo.ranking import ScoreOptions, Weights
from geo.source import RESOLUTION, CatalogueKeeper
from geo.watch import watching
from operations.candidates import CandidateFinder
from operations.events import (
    DEVICE_TOKEN_REVOKED,
    JOB_STATUS,
    OFFER_CREATED,
    OFFER_STATUS,
    PROVIDER_ONLINE,
    PROVIDERS_CHANGED,
    ProviderOnlinePayload,
    ProvidersChangedEvent,
    TokenRevokedEvent,
)
from operations.gateways import SystemClock
from operations.geofence import GeofenceConfig
from operations.jobs import JobRules
from operations.linking import LinkSender
from operations.outbox import OutboxRelay, RelayConfig
from operations.service import ArrivalSource, Operations, Policy, record_arrival
from operations.sla import SlaPolicy
from operations.tracking import Tracking
from operations.tracks import TrackRecorder
from realtime.bus import Bus
from realtime.events import Received
from realtime.filter import FilterConfig, RejectionCounts
from realtime.hub import Hub, HubNews
from realtime.lag import LagConfig, LoopLag
from realtime.mirror import MirrorFeed
from realtime.session import ConnectionConfig
from realtime.store import LiveStore
from realtime.tasks import owned_task
from realtime.writer import PositionWriter, WriterConfig
from registry.devices import blocked_among
from server.dispatching import (
    AppDispatch,
    LiveReach,
    refresh_scorecards,
    step_runs,
    sweep_offers,
)
from server.errors import AcionarServerError
from server.gateways import link_secret, link_senders
from server.resources import Resources
from server.settings import Settings
from server.ws_panel import PanelHub
from server.ws_portal import PortalHub

log = logging.getLogger("acionar.live")

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


def policy(settings: Settings) -> Policy:
    """What the application layer applies, from the settings."""
    return Policy(
        rules=JobRules(
            default_sla=SlaPolicy(settings.sla_dispatch_minutes, settings.sla_arrival_minutes),
            max_schedule_ahead=timedelta(days=settings.job_max_schedule_days),
        ),
        allow_outside_brazil=settings.addresses_allow_outside_brazil,
    )


def relay_config(settings: Settings) -> RelayConfig:
    return RelayConfig(
        poll_s=settings.outbox_poll_s,
        batch=settings.outbox_batch,
        retention=timedelta(hours=settings.outbox_retention_h),
        prune_s=settings.outbox_prune_s,
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
    catalogue: CatalogueKeeper
    tracks: TrackRecorder
    mirror: MirrorFeed
    relay: OutboxRelay
    operations: Operations
    candidates: CandidateFinder
    apps: AppDispatch
    links: LinkSender
    tracking: Tracking
    portal: PortalHub
    panels: PanelHub
    lag: LoopLag
    rejections: RejectionCounts = field(default_factory=RejectionCounts)
    announcements: asyncio.Queue[set[int] | None] = field(
        default_factory=lambda: asyncio.Queue(ANNOUNCE_QUEUE)
    )

    def all_providers_changed(self) -> None:
        """Many providers changed (their rates were recomputed): every node reloads."""
        self.catalogue.invalidate_all()
        with contextlib.suppress(asyncio.QueueFull):
            self.announcements.put_nowait(None)

    def providers_committed(self, provider_ids: set[int]) -> None:
        """Registry writes to these providers committed on this node (synchronous)."""
        self.catalogue.invalidate(provider_ids)
        try:
            self.announcements.put_nowait(provider_ids)
        except asyncio.QueueFull:  # the bus is slow: have every node reload instead
            self.announcements.get_nowait()
            self.announcements.put_nowait(None)


def _subscribe(live: Live) -> None:
    async def online(event: Received[ProviderOnlinePayload]) -> None:
        if event.node != live.node_id:
            payload = event.payload
            live.hub.replaced_elsewhere(payload["provider_id"], payload["connection_id"])

    async def revoked(event: Received[TokenRevokedEvent]) -> None:
        live.hub.revoke(event.payload.provider_id, event.payload.token_id)

    async def providers_changed(event: Received[ProvidersChangedEvent]) -> None:
        if event.node == live.node_id:
            return  # invalidated at commit already
        ids = event.payload.provider_ids
        if ids is None:
            live.catalogue.invalidate_all()
        else:
            live.catalogue.invalidate(ids)
        await _close_blocked(live, None if ids is None else set(ids))

    def missed_news() -> None:
        live.catalogue.invalidate_all()
        live.tracks.reload_soon()
        live.apps.resend_soon()

    live.bus.on(PROVIDER_ONLINE, online)
    live.bus.on(DEVICE_TOKEN_REVOKED, revoked)
    live.bus.on(PROVIDERS_CHANGED, providers_changed)
    live.bus.on(JOB_STATUS, live.tracks.on_status)
    live.bus.on(JOB_STATUS, live.apps.on_job_status)
    live.bus.on(OFFER_CREATED, live.apps.on_offer_created)
    live.bus.on(OFFER_STATUS, live.apps.on_offer_status)
    live.bus.on_resubscribe(missed_news)
    live.panels.subscribe(live.bus)


async def _close_blocked(live: Live, ids: set[int] | None) -> None:
    """Close the sockets held here (apps and portal pages) of providers (among
    ``ids``; None: any) that the registry now says are blocked (close 4006)."""
    held = set(live.hub.providers()) | set(live.portal.providers())
    try:
        blocked = await blocked_among(live.operations.sessions, held if ids is None else held & ids)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("blocked providers not checked (%s)", exc)
        return
    for provider_id in blocked:
        log.info("provider %d blocked: closing its sockets", provider_id)
        live.hub.block(provider_id)
        live.portal.block(provider_id)


async def _announce(live: Live) -> None:
    """Tell the other nodes which providers changed here (None: reload them all),
    and close the sockets of those blocked here."""
    while True:
        ids = await live.announcements.get()
        await _close_blocked(live, ids)
        payload = ProvidersChangedEvent(provider_ids=None if ids is None else sorted(ids))
        try:
            await live.bus.publish(PROVIDERS_CHANGED, payload)
        except (RedisError, OSError) as exc:
            log.warning("catalogue: could not announce changed providers (%s)", exc)


async def _tidy_redis(live: Live) -> None:
    """Keys of earlier layouts go; the busy flags are rebuilt from the jobs in
    PostgreSQL (the track recorder just loaded them): a Redis that restarted, or
    missed an update, is right again."""
    try:
        dropped = await live.store.drop_legacy_keys()
        if dropped:
            log.info("redis: %d keys of earlier layouts deleted", dropped)
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


async def arrived(operations: Operations, job_id: int, at: datetime) -> None:
    """The geofence saw a job's provider arrive: record it (the panel suggests
    ``on_site``; the provider's own status wins)."""
    async with operations.unit() as uow:
        await record_arrival(uow, job_id, at, ArrivalSource.GEOFENCE)


def _build(resources: Resources, secret: str) -> Live:
    settings = resources.settings
    store = LiveStore(resources.redis, settings.redis_prefix)
    bus = Bus(resources.redis, settings.redis_prefix + settings.bus_channel, uuid.uuid4().hex)
    writer_config = WriterConfig(
        flush_s=settings.position_flush_ms / 1000,
        flush_max=settings.position_flush_max,
        publish_interval_s=settings.position_publish_interval_s,
    )
    weights, options = default_weights(settings), score_options(settings)
    catalogue = CatalogueKeeper(
        resources.sessions, reload_s=settings.catalogue_reload_s, warm=[(weights, options)]
    )
    mirror = MirrorFeed(store)
    relay = OutboxRelay(resources.sessions, bus, relay_config(settings))
    hub = Hub()
    portal = PortalHub()
    operations = Operations(
        resources.sessions,
        clock=SystemClock(),
        policy=policy(settings),
        busy=store,
        kick=relay.kick,
        reach=LiveReach(store, settings.position_fresh_s, local=(hub, portal)),
    )
    return Live(
        settings,
        bus.node_id,
        store,
        bus,
        hub,
        PositionWriter(store, bus, writer_config),
        connection_config(settings),
        catalogue,
        TrackRecorder(
            resources.sessions,
            flush_s=settings.track_flush_ms / 1000,
            buffer_max=settings.track_buffer_max,
            geofence=GeofenceConfig(
                radius_m=settings.arrival_radius_m, dwell_s=settings.arrival_dwell_s
            ),
        ),
        mirror,
        relay,
        operations,
        CandidateFinder(
            catalogue,
            mirror,
            store,
            weights=weights,
            options=options,
            fresh_s=settings.position_fresh_s,
        ),
        AppDispatch(operations, hub, portal, concurrency=max(2, settings.db_pool_size // 2)),
        *link_senders(settings, resources, operations, secret),
        portal,
        PanelHub(settings.panel_positions_ms / 1000),
        LoopLag(
            LagConfig(
                probe_s=settings.loop_lag_probe_ms / 1000,
                ease_above_s=settings.loop_lag_ease_ms / 1000,
                pause_s=settings.loop_lag_pause_ms / 1000,
            )
        ),
    )


@contextlib.asynccontextmanager
async def open_live(resources: Resources) -> AsyncIterator[Live]:
    live = _build(resources, await link_secret(resources))
    live.operations.links = live.links
    live.operations.tracking = live.tracking
    live.operations.candidates = live.candidates
    live.tracks.arrival = functools.partial(arrived, live.operations)
    _subscribe(live)
    engine = resources.engine.sync_engine
    if live.store.resolution != RESOLUTION:
        raise AcionarServerError(
            f"live cells at resolution {live.store.resolution}, not {RESOLUTION}"
        )
    async with (
        live.mirror.running(),
        live.bus.running(),
        live.writer.running(),
        live.catalogue.running(),
        live.tracks.running(),
        live.relay.running(),
        live.panels.running(),
    ):
        await _tidy_redis(live)
        async with (
            owned_task(live.lag.run(), "loop-lag"),
            owned_task(_keep_presence(live), "presence-keeper"),
            owned_task(_announce(live), "catalogue-announcer"),
            owned_task(live.apps.record_deliveries(), "offer-deliveries"),
            owned_task(live.apps.resend_forever(), "offer-resender"),
            owned_task(sweep_offers(live.operations, live.settings.offer_sweep_s), "offer-sweeper"),
            owned_task(
                step_runs(live.operations, live.settings.auto_dispatch_poll_s), "auto-dispatch"
            ),
            owned_task(
                refresh_scorecards(
                    live.operations,
                    live.settings.scorecard_refresh_s,
                    live.settings.scorecard_window_days,
                    live.all_providers_changed,
                ),
                "scorecards",
            ),
        ):
            try:
                with watching(engine, live.providers_committed):
                    yield live
            finally:
                live.hub.notify_all(HubNews.SHUTDOWN)
                live.portal.close_all()
                live.panels.close_all()
