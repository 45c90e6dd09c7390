"""The application layer against the real PostgreSQL: a unit of work writes the
change, its timeline line and its events together or not at all, with the time of
its clock, and runs its after-commit hooks (busy flags, the relay's kick) only once
committed, tolerating Redis being down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from operations import service
from operations.errors import (
    CancellationReasonRequiredError,
    IllegalTransitionError,
    InvalidInputError,
)
from operations.events import CATALOGUE, IncidentEvent, JobEvent
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import ActorKind, JobActor, JobKind, JobStatus
from operations.models import Job, JobTransition
from operations.service import run_after_commit
from registry.enums import Channel
from tests.operations.support import (
    NOW,
    OPERATOR,
    Flags,
    Kicks,
    Sessions,
    make_world,
    open_job,
    operations,
    outbox_rows,
    place,
)


async def test_a_change_and_its_events_commit_together(db: Sessions) -> None:
    world = await make_world(db)
    kicks = Kicks()
    ops, _ = operations(db, kick=kicks)
    job_id = await open_job(ops, world)
    rows = await outbox_rows(db)
    assert [r.type for r in rows] == ["incident.updated", "job.created", "incident.updated"]
    created = CATALOGUE["job.created"].decode(rows[1].payload)
    assert isinstance(created, JobEvent) and created.job.id == job_id
    assert created.job.origin is not None and created.job.origin.one_line.startswith("Rua Augusta")
    assert created.job.requested_at == NOW  # the unit's clock, not the wall clock
    assert isinstance(CATALOGUE["incident.updated"].decode(rows[2].payload), IncidentEvent)
    assert all(r.seq is None for r in rows)  # not relayed yet: nothing runs a relay here
    assert kicks.count == 1  # once per unit, after the commit


async def test_a_unit_that_fails_leaves_nothing(db: Sessions) -> None:
    world = await make_world(db)
    kicks = Kicks()
    ops, _ = operations(db, kick=kicks)
    with pytest.raises(InvalidInputError):
        async with ops.unit() as uow:
            draft = IncidentDraft(world.client, world.kind, world.beneficiary)
            incident = await service.open_incident(uow, draft, OPERATOR)
            await service.register_job(
                uow,
                incident.id,
                JobDraft(JobKind.ASSISTANCE, "Ana", "+5511987654321", world.tow),
                OPERATOR,
                origin=place(38.72, -9.14),  # Lisbon: outside Brazil
                destination=place(-23.56, -46.60),
            )
    assert await outbox_rows(db) == [] and kicks.count == 0


async def test_moves_record_who_and_how_and_flag_the_provider(db: Sessions) -> None:
    world = await make_world(db)
    flags = Flags()
    ops, clock = operations(db, busy=flags)
    job_id = await open_job(ops, world)
    clock.advance(timedelta(minutes=3))
    async with ops.unit() as uow:
        await service.assign_job(
            uow, job_id, world.provider, JobActor.operator(None, Channel.VERBAL)
        )
        assert flags.busy == {}  # not before the commit
    assert flags.busy == {world.provider: True}
    clock.advance(timedelta(minutes=20))
    async with ops.unit() as uow:
        arrived = await service.move_job(
            uow, job_id, JobStatus.ON_SITE, JobActor.provider(world.provider, Channel.APP)
        )
    assert arrived.status_changed_at == NOW + timedelta(minutes=23)
    async with ops.unit() as uow:
        with pytest.raises(IllegalTransitionError):
            await service.move_job(uow, job_id, JobStatus.EN_ROUTE, OPERATOR)
    async with ops.unit() as uow:
        with pytest.raises(CancellationReasonRequiredError):
            await service.move_job(uow, job_id, JobStatus.CANCELLED, OPERATOR)
    async with ops.unit() as uow:
        done = await service.move_job(uow, job_id, JobStatus.COMPLETED, OPERATOR)
    assert done.status is JobStatus.COMPLETED and flags.busy == {world.provider: False}
    async with db() as session:
        lines = (
            await session.execute(
                select(JobTransition)
                .where(JobTransition.job_id == job_id)
                .order_by(JobTransition.id)
            )
        ).scalars()
        assert [(t.to_status, t.actor, t.channel) for t in lines] == [
            (JobStatus.OPEN, ActorKind.OPERATOR, None),
            (JobStatus.ASSIGNED, ActorKind.OPERATOR, Channel.VERBAL),
            (JobStatus.ON_SITE, ActorKind.PROVIDER, Channel.APP),
            (JobStatus.COMPLETED, ActorKind.OPERATOR, None),
        ]
    statuses = [r.payload["job"]["status"] for r in await outbox_rows(db) if r.type == "job.status"]
    assert statuses == ["assigned", "on_site", "completed"]


async def test_redis_down_after_the_commit_is_logged_not_raised(
    db: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(db)
    ops, _ = operations(db, busy=Flags(down=True))
    job_id = await open_job(ops, world)
    async with ops.unit() as uow:
        await service.assign_job(uow, job_id, world.provider, OPERATOR)
    assert "not written (Redis is down)" in caplog.text
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.ASSIGNED  # committed all the same


async def test_cancelling_releases_the_provider(db: Sessions) -> None:
    world = await make_world(db)
    flags = Flags()
    ops, _ = operations(db, busy=flags)
    job_id = await open_job(ops, world)
    async with ops.unit() as uow:
        await service.assign_job(uow, job_id, world.provider, OPERATOR)
    async with ops.unit() as uow:
        cancelled = await service.cancel_job(uow, job_id, world.reason, OPERATOR, "desistiu")
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.cancellation_reason_id == world.reason
    assert flags.busy == {world.provider: False}


async def test_after_commit_hooks_go_on_past_a_redis_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    async def publish() -> None:
        raise RedisConnectionError("Connection refused")

    async def flag() -> None:
        ran.append("flag")

    await run_after_commit([publish, flag])
    assert ran == ["flag"]
    assert "publish skipped (Redis unavailable" in caplog.text
