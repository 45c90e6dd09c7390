"""The application layer against the real PostgreSQL: a unit of work writes the
change, its timeline line and its events together or not at all, with the time of
its clock, and runs its after-commit hooks (busy flags, the relay's kick) only once
committed, tolerating Redis being down."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update

from operations import service
from operations.errors import (
    CancellationReasonRequiredError,
    IllegalTransitionError,
    InvalidInputError,
    OfferConflictError,
)
from operations.events import CATALOGUE, IncidentEvent, JobEvent
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import ActorKind, JobActor, JobKind, JobStatus
from operations.models import Job, JobTransition
from operations.service import run_after_commit
from registry import models as m
from registry.enums import Channel
from registry.points import Point
from tests.operations.support import (
    NOW,
    OPERATOR,
    Flags,
    Kicks,
    Sessions,
    World,
    make_world,
    open_job,
    operations,
    outbox_rows,
    place,
)


async def serving(db: Sessions, world: World, *channels: Channel) -> int:
    """``world.provider`` made assignable by hand: its price table lists tows, it has
    a phone, and takes ``channels`` (verbal and app by default)."""
    async with db() as session, session.begin():
        session.add(
            m.ProviderService(
                provider_id=world.provider,
                service_type_id=world.tow,
                departure_fee=Decimal("100.00"),
                price_per_km=Decimal("3.50"),
            )
        )
        await session.execute(
            update(m.Provider)
            .where(m.Provider.id == world.provider)
            .values(
                phone="+5511912345678", channels=list(channels or (Channel.APP, Channel.VERBAL))
            )
        )
    return world.provider


class Reach:
    """The providers whose app (``online``) or portal (``web``) is connected now."""

    def __init__(self, online: Collection[int] = (), web: Collection[int] = ()) -> None:
        self.online, self.web = set(online), set(web)

    async def live_channels(self, provider_ids: Collection[int]) -> dict[int, set[Channel]]:
        return {
            pid: {
                c
                for c, on in ((Channel.APP, pid in self.online), (Channel.WEB, pid in self.web))
                if on
            }
            for pid in provider_ids
        }

    async def position(self, provider_id: int) -> Point | None:
        return None


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
    await serving(db, world)
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
    await serving(db, world)
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
    await serving(db, world)
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


async def test_assigning_by_hand_needs_the_service_in_the_providers_price_table(
    db: Sessions,
) -> None:
    world = await make_world(db)  # world.provider's price table is empty
    async with db() as session, session.begin():
        await session.execute(
            update(m.Provider)
            .where(m.Provider.id == world.provider)
            .values(phone="+5511912345678", channels=[Channel.VERBAL])
        )
    ops, _ = operations(db)
    job_id = await open_job(ops, world)
    with pytest.raises(InvalidInputError) as caught:
        async with ops.unit() as uow:
            await service.assign_job(uow, job_id, world.provider, OPERATOR)
    assert caught.value.field == "provider_id"
    assert caught.value.message == "Guincho não atende este serviço (tabela de preços)."
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.OPEN and job.provider_id is None


async def test_assigning_by_hand_needs_a_channel_that_reaches_the_provider_now(
    db: Sessions,
) -> None:
    world = await make_world(db)
    pid = await serving(db, world, Channel.APP, Channel.WEB, Channel.VERBAL)
    ops, _ = operations(db, reach=Reach(online=[], web=[]))  # app and portal closed
    job_id = await open_job(ops, world)
    for channel in (Channel.WEB, Channel.APP):
        with pytest.raises(OfferConflictError) as caught:
            async with ops.unit() as uow:
                await service.assign_job(uow, job_id, pid, JobActor.operator(None, channel))
        assert caught.value.code == "channel_unavailable"
        assert caught.value.message == f"Guincho não pode ser acionado por {channel.value} agora."
    with pytest.raises(OfferConflictError) as not_taken:  # a channel it does not take
        async with ops.unit() as uow:
            await service.assign_job(uow, job_id, pid, JobActor.operator(None, Channel.LINK))
    assert not_taken.value.code == "channel_unavailable"
    async with ops.unit() as uow:  # no channel named: the operator heard it on the phone
        view = await service.assign_job(uow, job_id, pid, OPERATOR)
    assert view.status is JobStatus.ASSIGNED and view.provider_id == pid
    async with db() as session:
        line = await session.scalar(
            select(JobTransition).where(
                JobTransition.job_id == job_id, JobTransition.to_status == JobStatus.ASSIGNED
            )
        )
        assert line is not None and line.channel is Channel.VERBAL


async def test_an_online_provider_is_assigned_over_its_app(db: Sessions) -> None:
    world = await make_world(db)
    pid = await serving(db, world, Channel.APP)
    ops, _ = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    with pytest.raises(OfferConflictError):  # it does not take phone calls
        async with ops.unit() as uow:
            await service.assign_job(uow, job_id, pid, OPERATOR)
    async with ops.unit() as uow:
        view = await service.assign_job(uow, job_id, pid, JobActor.operator(None, Channel.APP))
    assert view.status is JobStatus.ASSIGNED


@pytest.mark.parametrize("target", [JobStatus.DISPATCHING, JobStatus.CANCELLED])
async def test_only_assigning_takes_a_provider(db: Sessions, target: JobStatus) -> None:
    world = await make_world(db)
    pid = await serving(db, world)
    ops, _ = operations(db)
    job_id = await open_job(ops, world)
    with pytest.raises(InvalidInputError) as caught:
        async with ops.unit() as uow:
            await service.move_job(
                uow, job_id, target, OPERATOR, provider_id=pid, cancellation_reason_id=world.reason
            )
    assert caught.value.field == "provider_id"
    assert "envie uma oferta" in caught.value.message
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.OPEN and job.provider_id is None


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
