"""GPS tracks of jobs in progress, arrival on site by geofence, and the providers'
busy flag.

While a provider is committed to a job (assigned, en route, on site, in transit) its
accepted positions are also kept in PostgreSQL (``job_track_points``), for the km
closing will count and for audit. Every node knows which providers are on which job:
it loads them from PostgreSQL when it starts (and again after missing bus news) and
follows the ``job.status`` events of the bus. Positions are buffered and written in
batches (``TRACK_FLUSH_MS``), in one ``INSERT`` per batch; the buffer is bounded
(``TRACK_BUFFER_MAX``): while PostgreSQL is down the oldest points are dropped and
counted, never the server's memory.

The same fixes feed the geofence of each job whose provider is on its way
(:mod:`operations.geofence`): an arrival is handed to the application
(``arrival``), which records it on the job and suggests ``on_site``.

The busy flag the candidate search reads lives in Redis (``LiveStore.set_busy``): set
after each committed status change (:mod:`operations.service`) and rebuilt from
PostgreSQL at start, so that a Redis restart forgets nothing for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses.records import location_of
from operations.geofence import ArrivalDetector, GeofenceConfig
from operations.lifecycle import WITH_PROVIDER, JobStatus
from operations.models import Job, JobPlace, TrackPoint
from realtime.events import Received
from realtime.tasks import owned_task

if TYPE_CHECKING:
    from operations.events import JobEvent

log = logging.getLogger("acionar.tracks")

ARRIVALS_MAX = 10_000
"""Arrivals waiting for PostgreSQL; beyond, the oldest go (the provider's own
``on_site`` records it anyway)."""


class FixLike(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lng(self) -> float: ...
    @property
    def accuracy_m(self) -> float: ...
    @property
    def time_ms(self) -> int: ...
    @property
    def speed_kmh(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class PendingPoint:
    job_id: int
    provider_id: int
    at: datetime
    lat: float
    lng: float
    accuracy_m: float | None
    speed_kmh: float | None


class ActiveJobs:
    """Which job each committed provider is on (pure)."""

    def __init__(self) -> None:
        self._by_provider: dict[int, int] = {}

    def job_of(self, provider_id: int) -> int | None:
        return self._by_provider.get(provider_id)

    def replace(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Start over from (provider id, job id) pairs."""
        self._by_provider = dict(pairs)

    def apply(self, job_id: int, provider_id: int | None, status: JobStatus) -> None:
        """A job's new status: its provider is on it, or no longer."""
        if provider_id is not None and status in WITH_PROVIDER:
            self._by_provider[provider_id] = job_id
            return
        for provider, job in list(self._by_provider.items()):
            if job == job_id:
                del self._by_provider[provider]

    def providers(self) -> list[int]:
        return sorted(self._by_provider)

    def __len__(self) -> int:
        return len(self._by_provider)


class TrackBuffer:
    """Points waiting for PostgreSQL, at most ``limit``: the oldest go first (pure)."""

    def __init__(self, limit: int) -> None:
        self._points: deque[PendingPoint] = deque(maxlen=limit)
        self.dropped = 0

    def add(self, point: PendingPoint) -> None:
        if len(self._points) == self._points.maxlen:
            self.dropped += 1
        self._points.append(point)

    def take(self) -> list[PendingPoint]:
        points = list(self._points)
        self._points.clear()
        return points

    def put_back(self, points: Sequence[PendingPoint]) -> None:
        """Points a failed write did not store, before the newer ones (bounded)."""
        newer = list(self._points)
        self._points.clear()
        for point in [*points, *newer]:
            self.add(point)

    def __len__(self) -> int:
        return len(self._points)


def _row(point: PendingPoint) -> dict[str, Any]:
    return {
        "job_id": point.job_id,
        "provider_id": point.provider_id,
        "at": point.at,
        "location": f"SRID=4326;POINT({point.lng:.7f} {point.lat:.7f})",
        "accuracy_m": point.accuracy_m,
        "speed_kmh": point.speed_kmh,
    }


Arrival = Callable[[int, datetime], Awaitable[None]]
"""Records that the provider of a job arrived on site, by geofence, at a time."""

APPROACHING = frozenset({JobStatus.ASSIGNED, JobStatus.EN_ROUTE})
"""Statuses in which a job's origin is watched for the provider's arrival."""


class Approaches:
    """The geofences of jobs whose provider is on its way (pure): one arrival
    detector per job, fed by its provider's fixes."""

    def __init__(self, config: GeofenceConfig) -> None:
        self.config = config
        self._by_job: dict[int, ArrivalDetector] = {}

    def watch(self, job_id: int, lat: float, lng: float) -> None:
        if job_id not in self._by_job:
            self._by_job[job_id] = ArrivalDetector(lat, lng, self.config)

    def forget(self, job_id: int) -> None:
        self._by_job.pop(job_id, None)

    def replace(self, origins: Iterable[tuple[int, float, float]]) -> None:
        self._by_job = {job: ArrivalDetector(lat, lng, self.config) for job, lat, lng in origins}

    def feed(self, job_id: int, fixes: Sequence[FixLike]) -> datetime | None:
        """The arrival the fixes show, once (the job is then no longer watched)."""
        detector = self._by_job.get(job_id)
        if detector is None:
            return None
        for fix in fixes:
            arrived = detector.feed(fix.lat, fix.lng, fix.accuracy_m, fix.time_ms / 1000)
            if arrived is not None:
                del self._by_job[job_id]
                return datetime.fromtimestamp(arrived, UTC)
        return None

    def __len__(self) -> int:
        return len(self._by_job)


class TrackRecorder:
    """Keeps the tracks of this node's providers that are on a job, and watches
    their approach to the job's origin (arrival by geofence)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        flush_s: float,
        buffer_max: int,
        geofence: GeofenceConfig | None = None,
        arrival: Arrival | None = None,
    ) -> None:
        self.sessions = sessions
        self.flush_s = flush_s
        self.active = ActiveJobs()
        self.approaches = Approaches(geofence or GeofenceConfig())
        self.arrival = arrival
        self.arrivals: deque[tuple[int, datetime]] = deque(maxlen=ARRIVALS_MAX)
        self.buffer = TrackBuffer(buffer_max)
        self.written = 0
        self._reload = False

    def offer(self, provider_id: int, fixes: Sequence[FixLike]) -> None:
        """Accepted fixes of a provider (cheap when it is on no job)."""
        job_id = self.active.job_of(provider_id)
        if job_id is None:
            return
        for fix in fixes:
            at = datetime.fromtimestamp(fix.time_ms / 1000, UTC)
            self.buffer.add(
                PendingPoint(
                    job_id, provider_id, at, fix.lat, fix.lng, fix.accuracy_m, fix.speed_kmh
                )
            )
        arrived = self.approaches.feed(job_id, fixes)
        if arrived is not None:
            self.arrivals.append((job_id, arrived))

    async def on_status(self, event: Received[JobEvent]) -> None:
        """A ``job.status`` event from the bus (any node)."""
        job = event.payload.job
        self.active.apply(job.id, job.provider_id, job.status)
        origin = job.origin
        watch = job.status in APPROACHING and job.arrived_at is None
        if watch and origin is not None and origin.lat is not None and origin.lng is not None:
            self.approaches.watch(job.id, origin.lat, origin.lng)
        else:
            self.approaches.forget(job.id)

    def reload_soon(self) -> None:
        """The bus lost news (an outage): reload who is on which job at the next
        flush."""
        self._reload = True

    async def load(self) -> None:
        """Who is on which job now, and the origins being approached, from PostgreSQL."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Job.provider_id, Job.id).where(
                    Job.status.in_(WITH_PROVIDER), Job.provider_id.is_not(None)
                )
            )
            self.active.replace((p, j) for p, j in rows.all() if p is not None)
            origins = await session.execute(
                select(Job.id, JobPlace.location)
                .join(JobPlace, (JobPlace.job_id == Job.id) & (JobPlace.role == "origin"))
                .where(Job.status.in_(APPROACHING), Job.arrived_at.is_(None))
            )
            points = [(job_id, location_of(loc)) for job_id, loc in origins.all()]
            self.approaches.replace((j, p.lat, p.lng) for j, p in points if p is not None)

    async def record_arrivals(self) -> None:
        """Hand the arrivals seen to the application (a failure keeps them)."""
        while self.arrivals and self.arrival is not None:
            job_id, at = self.arrivals[0]
            try:
                await self.arrival(job_id, at)
            except (SQLAlchemyError, OSError) as exc:
                log.warning("job %d: arrival not recorded yet (%s)", job_id, exc)
                return
            self.arrivals.popleft()

    async def flush(self) -> None:
        points = self.buffer.take()
        if not points:
            return
        try:
            async with self.sessions() as session, session.begin():
                await session.execute(insert(TrackPoint), [_row(p) for p in points])
            self.written += len(points)
        except (SQLAlchemyError, OSError) as exc:
            self.buffer.put_back(points)
            log.warning("tracks: %d points wait for PostgreSQL (%s)", len(points), exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            if self._reload:
                self._reload = False
                await self._load_or_warn()
            await self.flush()
            await self.record_arrivals()

    async def _load_or_warn(self) -> None:
        try:
            await self.load()
        except (SQLAlchemyError, OSError) as exc:
            self._reload = True
            log.warning("tracks: active jobs not loaded (%s); following events only", exc)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TrackRecorder]:
        await self._load_or_warn()
        try:
            async with owned_task(self._run(), "track-recorder"):
                yield self
        finally:
            await asyncio.shield(self.flush())


class BusyFlags(Protocol):
    async def set_busy(self, provider_id: int, busy: bool) -> None: ...


async def busy_providers(session: AsyncSession, provider_ids: Iterable[int]) -> set[int]:
    """Which of ``provider_ids`` are committed to a job now."""
    ids = sorted(set(provider_ids))
    if not ids:
        return set()
    rows = await session.execute(
        select(Job.provider_id)
        .where(Job.provider_id.in_(ids), Job.status.in_(WITH_PROVIDER))
        .distinct()
    )
    return {int(p) for p in rows.scalars().all() if p is not None}


async def sync_busy(flags: BusyFlags, provider_ids: Iterable[int], busy: set[int]) -> None:
    """Write each provider's busy flag; a Redis outage is logged (rebuilt at start)."""
    for provider_id in sorted(set(provider_ids)):
        try:
            await flags.set_busy(provider_id, provider_id in busy)
        except (RedisError, OSError) as exc:
            log.warning("busy flag of provider %d not written (%s)", provider_id, exc)
