"""Tracks of jobs in progress and the busy flag: who is on which job, the bounded
buffer, batched writes to PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations import queries
from operations.events import JobEvent
from operations.lifecycle import JobKind, JobStatus
from operations.models import Incident, Job, TrackPoint
from operations.tracks import ActiveJobs, PendingPoint, TrackBuffer, TrackRecorder, busy_providers
from realtime.events import Received
from realtime.filter import PositionFix
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.enums import PersonKind
from registry.validation import make_cnpj
from server.app import create_app
from server.settings import Settings

Sessions = async_sessionmaker[AsyncSession]
T0 = 1_790_000_000_000


def fix(i: int) -> PositionFix:
    return PositionFix(-23.55 + i * 1e-4, -46.63, 8.0, T0 + i * 5000, speed_kmh=30.0)


def test_active_jobs_follow_status_changes() -> None:
    active = ActiveJobs()
    active.apply(10, 7, JobStatus.ASSIGNED)
    active.apply(10, 7, JobStatus.EN_ROUTE)
    assert active.job_of(7) == 10
    active.apply(10, None, JobStatus.DISPATCHING)  # the provider gave up
    assert active.job_of(7) is None
    active.apply(11, 7, JobStatus.ON_SITE)
    active.apply(11, 7, JobStatus.COMPLETED)
    assert active.job_of(7) is None and len(active) == 0


def test_the_buffer_keeps_the_newest_points_and_counts_the_dropped() -> None:
    buffer = TrackBuffer(limit=3)
    points = [
        PendingPoint(1, 1, datetime.fromtimestamp(i, UTC), 0.0, 0.0, None, None) for i in range(5)
    ]
    for point in points:
        buffer.add(point)
    assert buffer.dropped == 2
    taken = buffer.take()
    assert taken == points[2:] and len(buffer) == 0
    buffer.add(points[0])
    buffer.put_back(taken)  # a failed write: older points first, still bounded
    assert len(buffer) == 3 and buffer.dropped == 3


async def _job_in_progress(db: Sessions) -> tuple[int, int]:
    async with db() as session, session.begin():
        client = m.Client(cnpj=make_cnpj(5), trade_name="C", legal_name="C SA")
        kind = m.IncidentType(name="Pane seca")
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(6),
            name="Guincho",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add_all([client, kind, provider])
        await session.flush()
        now = datetime.now(UTC)
        incident = Incident(client_id=client.id, incident_type_id=kind.id, opened_at=now)
        session.add(incident)
        await session.flush()
        job = Job(
            incident_id=incident.id,
            client_id=client.id,
            kind=JobKind.INQUIRY,
            status=JobStatus.ASSIGNED,
            provider_id=provider.id,
            requester_name="Maria",
            requester_phone="+5511987654321",
            requested_at=now,
            status_changed_at=now,
            handling_time_s=0,
        )
        session.add(job)
        await session.flush()
        return job.id, provider.id


async def test_points_of_providers_on_a_job_are_written_in_batches(db: Sessions) -> None:
    job_id, provider_id = await _job_in_progress(db)
    recorder = TrackRecorder(db, flush_s=60.0, buffer_max=100)
    await recorder.load()
    assert recorder.active.job_of(provider_id) == job_id
    recorder.offer(provider_id, [fix(0), fix(1)])
    recorder.offer(provider_id + 1, [fix(2)])  # on no job: not kept
    assert len(recorder.buffer) == 2
    await recorder.flush()
    async with db() as session:
        rows = (await session.execute(select(TrackPoint).order_by(TrackPoint.at))).scalars().all()
        assert [(r.job_id, r.provider_id) for r in rows] == [(job_id, provider_id)] * 2
        assert rows[1].at == datetime.fromtimestamp((T0 + 5000) / 1000, UTC)
        assert await busy_providers(session, [provider_id, provider_id + 1]) == {provider_id}
        view = await queries.job(session, job_id)
    released = view.model_copy(update={"provider_id": None, "status": JobStatus.OPEN})
    await recorder.on_status(Received(JobEvent(incident_id=view.incident_id, job=released), "n"))
    recorder.offer(provider_id, [fix(3)])
    assert len(recorder.buffer) == 0 and recorder.written == 2


async def test_a_starting_node_rebuilds_the_busy_flags_from_postgresql(
    db: Sessions, redis: aioredis.Redis, settings: Settings
) -> None:
    job_id, provider_id = await _job_in_progress(db)
    store = LiveStore(redis, settings.redis_prefix)
    await store.set_busy(999, True)  # stale: that job finished while Redis was away
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert await store.busy([provider_id, 999]) == {provider_id}
        live = app.state.live
        assert live.tracks.active.job_of(provider_id) == job_id
