"""The application layer against the real PostgreSQL: a unit of work writes the
change, its timeline line and its events together or not at all, with the time of
its clock, and runs its after-commit hooks (busy flags, the relay's kick) only once
committed, tolerating Redis being down."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses import Address, AddressSource
from operations import service
from operations.errors import (
    CancellationReasonRequiredError,
    IllegalTransitionError,
    InvalidInputError,
)
from operations.events import CATALOGUE, IncidentEvent, JobEvent
from operations.gateways import ManualClock
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import ActorKind, JobActor, JobKind, JobStatus
from operations.models import Job, JobTransition, OutboxEvent
from operations.places import PlaceRequest
from operations.service import Operations, Policy, run_after_commit
from registry import models as m
from registry.cells import point_cell
from registry.enums import Channel, LimitPeriod, PersonKind, PlanKind, ServiceTarget
from registry.points import Point
from registry.validation import make_cnpj, make_cpf

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
OPERATOR = JobActor.operator(None)


@dataclasses.dataclass
class World:
    client: int
    kind: int
    reason: int
    tow: int
    beneficiary: int
    vehicle: int
    provider: int


class Flags:
    """Busy flags as the live store keeps them, or a Redis that is down."""

    def __init__(self, down: bool = False) -> None:
        self.busy: dict[int, bool] = {}
        self.down = down

    async def set_busy(self, provider_id: int, busy: bool) -> None:
        if self.down:
            raise RedisConnectionError("Redis is down")
        self.busy[provider_id] = busy


class Kicks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def _world(db: Sessions) -> World:
    async with db() as session, session.begin():
        client = m.Client(cnpj=make_cnpj(11), trade_name="Seguradora", legal_name="Seg SA")
        kind = m.IncidentType(name="Pane seca")
        reason = m.CancellationReason(name="Desistiu")
        tow = m.ServiceType(
            code="reboque_leve",
            name="Reboque leve",
            needs_destination=True,
            target=ServiceTarget.VEHICLE,
        )
        session.add_all([client, kind, reason, tow])
        await session.flush()
        plan = m.Plan(client_id=client.id, code="P1", name="Auto", kind=PlanKind.VEHICLE)
        session.add(plan)
        await session.flush()
        session.add(
            m.PlanService(
                plan_id=plan.id,
                service_type_id=tow.id,
                covered_value=Decimal("300.00"),
                uses_per_period=3,
                period=LimitPeriod.YEAR,
            )
        )
        person = m.Beneficiary(
            client_id=client.id,
            person_kind=PersonKind.PF,
            document=make_cpf(529982247),
            name="Ana Souza",
            location="SRID=4326;POINT(-46.65 -23.55)",
        )
        session.add(person)
        await session.flush()
        car = m.Vehicle(
            beneficiary_id=person.id,
            plate="ABC1D23",
            plan_id=plan.id,
            plan_starts_on=date(2020, 1, 1),
        )
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(12),
            name="Guincho",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add_all([car, provider])
        await session.flush()
        return World(client.id, kind.id, reason.id, tow.id, person.id, car.id, provider.id)


def _place(lat: float, lng: float) -> PlaceRequest:
    return PlaceRequest(Address(AddressSource.MANUAL, street="Rua Augusta", point=Point(lat, lng)))


async def _open(ops: Operations, world: World) -> int:
    """An incident with a tow; the job's id."""
    async with ops.unit() as uow:
        draft = IncidentDraft(world.client, world.kind, world.beneficiary, world.vehicle)
        incident = await service.open_incident(uow, draft, OPERATOR)
        job = await service.register_job(
            uow,
            incident.id,
            JobDraft(JobKind.ASSISTANCE, "Ana Souza", "+5511987654321", world.tow),
            OPERATOR,
            origin=_place(-23.55, -46.65),
            destination=_place(-23.56, -46.60),
        )
    return job.id


async def _outbox(db: Sessions) -> list[OutboxEvent]:
    async with db() as session:
        return list((await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars())


def _operations(db: Sessions, **seams: object) -> tuple[Operations, ManualClock]:
    clock = ManualClock(NOW)
    return Operations(db, clock=clock, policy=Policy(), **seams), clock  # type: ignore[arg-type]


async def test_a_change_and_its_events_commit_together(db: Sessions) -> None:
    world = await _world(db)
    kicks = Kicks()
    ops, _ = _operations(db, kick=kicks)
    job_id = await _open(ops, world)
    rows = await _outbox(db)
    assert [r.type for r in rows] == ["incident.updated", "job.created", "incident.updated"]
    created = CATALOGUE["job.created"].decode(rows[1].payload)
    assert isinstance(created, JobEvent) and created.job.id == job_id
    assert created.job.origin is not None and created.job.origin.one_line.startswith("Rua Augusta")
    assert created.job.requested_at == NOW  # the unit's clock, not the wall clock
    assert isinstance(CATALOGUE["incident.updated"].decode(rows[2].payload), IncidentEvent)
    assert all(r.seq is None for r in rows)  # not relayed yet: nothing runs a relay here
    assert kicks.count == 1  # once per unit, after the commit


async def test_a_unit_that_fails_leaves_nothing(db: Sessions) -> None:
    world = await _world(db)
    kicks = Kicks()
    ops, _ = _operations(db, kick=kicks)
    with pytest.raises(InvalidInputError):
        async with ops.unit() as uow:
            draft = IncidentDraft(world.client, world.kind, world.beneficiary)
            incident = await service.open_incident(uow, draft, OPERATOR)
            await service.register_job(
                uow,
                incident.id,
                JobDraft(JobKind.ASSISTANCE, "Ana", "+5511987654321", world.tow),
                OPERATOR,
                origin=_place(38.72, -9.14),  # Lisbon: outside Brazil
                destination=_place(-23.56, -46.60),
            )
    assert await _outbox(db) == [] and kicks.count == 0


async def test_moves_record_who_and_how_and_flag_the_provider(db: Sessions) -> None:
    world = await _world(db)
    flags = Flags()
    ops, clock = _operations(db, busy=flags)
    job_id = await _open(ops, world)
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
    statuses = [r.payload["job"]["status"] for r in await _outbox(db) if r.type == "job.status"]
    assert statuses == ["assigned", "on_site", "completed"]


async def test_redis_down_after_the_commit_is_logged_not_raised(
    db: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    world = await _world(db)
    ops, _ = _operations(db, busy=Flags(down=True))
    job_id = await _open(ops, world)
    async with ops.unit() as uow:
        await service.assign_job(uow, job_id, world.provider, OPERATOR)
    assert "not written (Redis is down)" in caplog.text
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.ASSIGNED  # committed all the same


async def test_cancelling_releases_the_provider(db: Sessions) -> None:
    world = await _world(db)
    flags = Flags()
    ops, _ = _operations(db, busy=flags)
    job_id = await _open(ops, world)
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
