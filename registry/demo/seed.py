"""Loading the demo assistance into the database, idempotently.

Every row is inserted with ``INSERT ... ON CONFLICT DO NOTHING`` on its natural key
(CNPJ, client + code, plate...), in bulk; ids are then looked up by those keys. A
second run therefore inserts nothing and updates nothing. Demo users are upserted
with :func:`registry.users.upsert_user`, which keeps a password hash that still
verifies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Text, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute

from registry.demo.catalogue import (
    CANCELLATION_REASONS,
    CLIENTS,
    DEMO_PASSWORD,
    DEMO_USERS,
    INCIDENT_TYPES,
    REFUSAL_REASONS,
    SERVICE_TYPES,
    ClientSpec,
)
from registry.demo.generate import (
    BeneficiaryDraft,
    ProviderDraft,
    beneficiary_draft,
    provider_draft,
)
from registry.enums import ContactKind, PlanKind, UserKind
from registry.models import (
    Beneficiary,
    BeneficiaryPlan,
    CancellationReason,
    Client,
    ClientContact,
    Contract,
    ContractPlan,
    IncidentType,
    PartnerSite,
    Plan,
    PlanService,
    Provider,
    ProviderPartnership,
    ProviderService,
    RefusalReason,
    Role,
    ServiceType,
    User,
    Vehicle,
)
from registry.models.columns import point_wkt
from registry.roles import ensure_roles
from registry.users import find_user, upsert_user
from registry.validation import make_cnpj

COUNTED: tuple[type[DeclarativeBase], ...] = (
    ServiceType,
    IncidentType,
    CancellationReason,
    RefusalReason,
    Client,
    ClientContact,
    Contract,
    Plan,
    ContractPlan,
    PlanService,
    PartnerSite,
    Beneficiary,
    BeneficiaryPlan,
    Vehicle,
    Provider,
    ProviderService,
    ProviderPartnership,
    Role,
    User,
)


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What the demo holds after a run, and what this run added.

    ``counts`` and ``created`` are keyed by table name; ``created`` counts rows
    inserted by this run (users created or changed).
    """

    counts: dict[str, int]
    created: dict[str, int]
    logins: tuple[str, ...]
    password: str = DEMO_PASSWORD

    @property
    def created_total(self) -> int:
        """How many rows this run created, all tables together."""
        return sum(self.created.values())


@dataclass(frozen=True, slots=True)
class ClientIds:
    id: int
    vehicle_plan: int
    home_plan: int


def table_of(model: type[DeclarativeBase]) -> Table:
    """The Table of a model (every registry model maps one table)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class _Seeder:
    """One run of the demo seed over a session; counts what it inserts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.created: Counter[str] = Counter()

    async def insert(
        self, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]], keys: Sequence[str]
    ) -> None:
        """Insert the rows whose natural ``keys`` do not exist yet."""
        if not rows:
            return
        table = table_of(model)
        first_pk = next(iter(table.primary_key.columns))
        statement = insert(table).on_conflict_do_nothing(index_elements=list(keys))
        result = await self.session.execute(statement.returning(first_pk), list(rows))
        self.created[table.name] += len(result.all())

    async def ids(
        self, column: InstrumentedAttribute[str], values: Sequence[str]
    ) -> dict[str, int]:
        """``{value: id}`` for the rows of ``column``'s model whose column is in ``values``."""
        result = await self.session.execute(
            select(column, column.class_.id).where(column == any_(_array(values)))
        )
        return {value: id_ for value, id_ in result}


def _array(values: Sequence[str]) -> Any:
    """One ``text[]`` parameter (an IN list would take a parameter per value)."""
    return literal(list(values), ARRAY(Text))


async def _catalogue(seed: _Seeder) -> dict[str, int]:
    await seed.insert(
        ServiceType,
        [
            {"code": code, "name": name, "needs_destination": destination, "target": target}
            for code, name, destination, target in SERVICE_TYPES
        ],
        ["code"],
    )
    for model, names in (
        (IncidentType, INCIDENT_TYPES),
        (CancellationReason, CANCELLATION_REASONS),
        (RefusalReason, REFUSAL_REASONS),
    ):
        await seed.insert(model, [{"name": name} for name in names], ["name"])
    return await seed.ids(ServiceType.code, [code for code, _, _, _ in SERVICE_TYPES])


def _client_row(spec: ClientSpec) -> dict[str, Any]:
    return {
        "cnpj": make_cnpj(spec.cnpj_base),
        "state_registration": spec.state_registration,
        "contract_date": spec.contract_date,
        "trade_name": spec.trade_name,
        "legal_name": spec.legal_name,
        "street": spec.street,
        "number": spec.number,
        "complement": None,
        "neighbourhood": spec.neighbourhood,
        "city": "São Paulo",
        "state": "SP",
        "cep": spec.cep,
        "vip": spec.vip,
        "operator_script": spec.operator_script,
        "sla_dispatch_minutes": spec.sla_dispatch_minutes,
        "sla_arrival_minutes": spec.sla_arrival_minutes,
    }


async def _client_children(seed: _Seeder, spec: ClientSpec, client_id: int) -> None:
    await seed.insert(
        ClientContact,
        [
            {
                "client_id": client_id,
                "kind": ContactKind.PHONE,
                "value": spec.phone,
                "label": "Central 24h",
            },
            {
                "client_id": client_id,
                "kind": ContactKind.EMAIL,
                "value": spec.email,
                "label": "Operação",
            },
        ],
        ["client_id", "kind", "value"],
    )
    await seed.insert(
        Contract,
        [
            {
                "client_id": client_id,
                "code": contract_code(spec),
                "description": f"Contrato de assistência 24 horas {spec.trade_name}",
            },
        ],
        ["client_id", "code"],
    )
    await seed.insert(
        PartnerSite,
        [
            {
                "client_id": client_id,
                "name": site.name,
                "kind": site.kind,
                "street": site.street,
                "number": site.number,
                "neighbourhood": site.neighbourhood,
                "city": site.city,
                "state": "SP",
                "cep": site.cep,
                "location": point_wkt(site.lat, site.lng),
            }
            for site in spec.sites
        ],
        ["client_id", "name"],
    )


def contract_code(spec: ClientSpec) -> str:
    """The code of a demo client's contract (its natural key with the client)."""
    return f"CT-{spec.key}-{spec.contract_date.year}"


async def _plans(
    seed: _Seeder, spec: ClientSpec, client_id: int, services: dict[str, int]
) -> ClientIds:
    """The client's vehicle and home plans, their services, linked to its contract."""
    codes = [f"AUTO-{spec.key}", f"RESID-{spec.key}"]
    kinds = (PlanKind.VEHICLE, PlanKind.BENEFICIARY)
    await seed.insert(
        Plan,
        [
            {
                "client_id": client_id,
                "code": code,
                "name": name,
                "kind": kind,
                "beneficiary_pays_excess_km": spec.beneficiary_pays_excess_km,
                "count_km_all_trips": False,
            }
            for code, kind, name in zip(codes, kinds, spec.plan_names, strict=True)
        ],
        ["client_id", "code"],
    )
    plan_ids = await _ids_of_client(seed, Plan, client_id, codes)
    [contract_id] = await _ids_of_client(seed, Contract, client_id, [contract_code(spec)])
    await seed.insert(
        ContractPlan,
        [{"contract_id": contract_id, "plan_id": plan_id} for plan_id in plan_ids],
        ["contract_id", "plan_id"],
    )
    await seed.insert(
        PlanService,
        [
            {"plan_id": plan_id, "service_type_id": services[code], **limit.row()}
            for plan_id, limits in zip(plan_ids, (spec.vehicle_plan, spec.home_plan), strict=True)
            for code, limit in limits.items()
        ],
        ["plan_id", "service_type_id"],
    )
    return ClientIds(client_id, plan_ids[0], plan_ids[1])


async def _ids_of_client(
    seed: _Seeder, model: type[Plan] | type[Contract], client_id: int, codes: list[str]
) -> list[int]:
    """Ids of a client's plans or contracts, in the order of ``codes``."""
    result = await seed.session.execute(
        select(model.code, model.id).where(
            model.client_id == client_id, model.code == any_(_array(codes))
        )
    )
    by_code = dict(result.all())
    return [by_code[code] for code in codes]


async def _clients(seed: _Seeder, services: dict[str, int]) -> list[ClientIds]:
    rows = [_client_row(spec) for spec in CLIENTS]
    await seed.insert(Client, rows, ["cnpj"])
    ids = await seed.ids(Client.cnpj, [row["cnpj"] for row in rows])
    clients = []
    for spec, row in zip(CLIENTS, rows, strict=True):
        client_id = ids[row["cnpj"]]
        await _client_children(seed, spec, client_id)
        clients.append(await _plans(seed, spec, client_id, services))
    return clients


async def _providers(
    seed: _Seeder, count: int, services: dict[str, int], clients: list[ClientIds]
) -> list[int]:
    drafts: list[ProviderDraft] = [provider_draft(index) for index in range(count)]
    await seed.insert(Provider, [draft.row for draft in drafts], ["document"])
    ids = await seed.ids(Provider.document, [draft.row["document"] for draft in drafts])
    provider_ids = [ids[draft.row["document"]] for draft in drafts]
    await seed.insert(
        ProviderService,
        [
            {"provider_id": provider_id, "service_type_id": services[code], **prices}
            for provider_id, draft in zip(provider_ids, drafts, strict=True)
            for code, prices in draft.prices.items()
        ],
        ["provider_id", "service_type_id"],
    )
    await seed.insert(
        ProviderPartnership,
        [
            {"provider_id": provider_id, "client_id": clients[draft.partner_client].id}
            for provider_id, draft in zip(provider_ids, drafts, strict=True)
            if draft.partner_client is not None
        ],
        ["provider_id", "client_id"],
    )
    return provider_ids


async def _beneficiaries(seed: _Seeder, count: int, clients: list[ClientIds]) -> None:
    drafts: list[BeneficiaryDraft] = [beneficiary_draft(index) for index in range(count)]
    await seed.insert(
        Beneficiary,
        [{"client_id": clients[draft.client].id, **draft.row} for draft in drafts],
        ["client_id", "document"],
    )
    result = await seed.session.execute(
        select(Beneficiary.client_id, Beneficiary.document, Beneficiary.id).where(
            Beneficiary.document == any_(_array([d.row["document"] for d in drafts]))
        )
    )
    ids = {(client_id, document): id_ for client_id, document, id_ in result}
    keyed = [(ids[clients[d.client].id, d.row["document"]], clients[d.client], d) for d in drafts]
    await seed.insert(
        BeneficiaryPlan,
        [
            {
                "beneficiary_id": id_,
                "plan_id": client.home_plan,
                "starts_on": d.plan_starts_on,
                "ends_on": None,
            }
            for id_, client, d in keyed
        ],
        ["beneficiary_id", "plan_id", "starts_on"],
    )
    await seed.insert(
        Vehicle,
        [
            {"beneficiary_id": id_, "plan_id": client.vehicle_plan, **vehicle}
            for id_, client, d in keyed
            for vehicle in d.vehicles
        ],
        ["plate"],
    )


async def _users(seed: _Seeder, client_id: int, provider_id: int | None) -> tuple[str, ...]:
    logins = []
    for user in DEMO_USERS:
        scope = {"client_id": client_id} if user.kind is UserKind.CLIENT else {}
        if user.kind is UserKind.PROVIDER:
            if provider_id is None:
                continue
            scope = {"provider_id": provider_id}
        before = _user_state(await find_user(seed.session, user.login))
        row = await upsert_user(
            seed.session, user.login, user.name, DEMO_PASSWORD, user.role, kind=user.kind, **scope
        )
        if _user_state(row) != before:
            seed.created["users"] += 1
        logins.append(user.login)
    return tuple(logins)


def _user_state(user: User | None) -> tuple[Any, ...] | None:
    if user is None:
        return None
    return (
        user.name,
        user.role_id,
        user.kind,
        user.client_id,
        user.provider_id,
        user.password_hash,
    )


async def _counts(session: AsyncSession) -> dict[str, int]:
    counts = {}
    for model in COUNTED:
        table = table_of(model)
        counts[table.name] = await session.scalar(select(func.count()).select_from(table)) or 0
    return counts


async def seed_demo(session: AsyncSession, *, providers: int, beneficiaries: int) -> DemoSummary:
    """Load (or complete) the demo assistance; running it again changes nothing.

    Creates the catalogues, 3 clients with contracts, plans and partner sites,
    ``beneficiaries`` beneficiaries with vehicles, ``providers`` providers with price
    tables, the seeded roles and one demo user per role. Flushes; the caller commits.
    """
    seed = _Seeder(session)
    seed.created["roles"] += len(await ensure_roles(session))
    services = await _catalogue(seed)
    clients = await _clients(seed, services)
    provider_ids = await _providers(seed, providers, services, clients)
    await _beneficiaries(seed, beneficiaries, clients)
    logins = await _users(seed, clients[0].id, provider_ids[0] if provider_ids else None)
    created = {name: seed.created[name] for name in (table_of(m).name for m in COUNTED)}
    return DemoSummary(await _counts(session), created, logins)
