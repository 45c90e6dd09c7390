"""A small world for the application layer's tests: a client with a plan covering
tows, a beneficiary with a car, a provider that tows, and helpers to open a job."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses import Address, AddressSource
from operations import service
from operations.gateways import ManualClock
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import JobActor, JobKind
from operations.models import OutboxEvent
from operations.places import PlaceRequest
from operations.service import Operations, Policy
from registry import models as m
from registry.cells import point_cell
from registry.enums import LimitPeriod, PersonKind, PlanKind, ServiceTarget
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


async def make_world(db: Sessions) -> World:
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


def place(lat: float, lng: float) -> PlaceRequest:
    return PlaceRequest(Address(AddressSource.MANUAL, street="Rua Augusta", point=Point(lat, lng)))


async def open_job(ops: Operations, world: World) -> int:
    """An incident with a tow; the job's id."""
    async with ops.unit() as uow:
        draft = IncidentDraft(world.client, world.kind, world.beneficiary, world.vehicle)
        incident = await service.open_incident(uow, draft, OPERATOR)
        job = await service.register_job(
            uow,
            incident.id,
            JobDraft(JobKind.ASSISTANCE, "Ana Souza", "+5511987654321", world.tow),
            OPERATOR,
            origin=place(-23.55, -46.65),
            destination=place(-23.56, -46.60),
        )
    return job.id


async def outbox_rows(db: Sessions) -> list[OutboxEvent]:
    async with db() as session:
        return list((await session.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars())


def operations(db: Sessions, **seams: object) -> tuple[Operations, ManualClock]:
    clock = ManualClock(NOW)
    return Operations(db, clock=clock, policy=Policy(), **seams), clock  # type: ignore[arg-type]
