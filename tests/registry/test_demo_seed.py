"""The demo seed: idempotent, deterministic, valid data in São Paulo."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.models import Job
from registry.cells import point_cell
from registry.db import transaction
from registry.demo import DEMO_PASSWORD, DEMO_USERS, DemoSummary, seed_demo
from registry.demo.catalogue import CLIENTS
from registry.demo.places import LAT_MAX, LAT_MIN, LNG_MAX, LNG_MIN
from registry.enums import Channel, PersonKind, ProviderStatus, UserKind
from registry.models import Beneficiary, Client, Provider, ProviderService, User, Vehicle
from registry.models.columns import point_wkt
from registry.users import authenticate
from registry.validation import cnpj_is_valid, cpf_is_valid, is_mercosul_plate, normalize_plate
from server.demo import seed_demo_command
from server.settings import Settings

Sessions = async_sessionmaker[AsyncSession]


async def _seed(db: Sessions, providers: int, beneficiaries: int) -> DemoSummary:
    async with transaction(db) as session:
        return await seed_demo(session, providers=providers, beneficiaries=beneficiaries)


async def _rows(db: Sessions, table: str) -> list[Any]:
    """Every row of ``table`` as JSON, ordered by id: a full snapshot of its contents."""
    async with db() as session:
        result = await session.execute(text(f"SELECT to_jsonb(t) FROM {table} t ORDER BY 1"))
        return list(result.scalars())


@pytest.fixture
async def seeded(db: Sessions, settings: Settings) -> DemoSummary:
    return await _seed(db, settings.demo_providers, settings.demo_beneficiaries)


async def test_counts_match_the_settings(seeded: DemoSummary, settings: Settings) -> None:
    assert seeded.counts["providers"] == settings.demo_providers
    assert seeded.counts["beneficiaries"] == settings.demo_beneficiaries
    assert seeded.counts["clients"] == len(CLIENTS) == 3
    assert seeded.counts["roles"] == 8
    assert seeded.counts["users"] == len(DEMO_USERS)
    # beneficiaries have one or two vehicles each
    assert settings.demo_beneficiaries <= seeded.counts["vehicles"]
    assert seeded.counts["vehicles"] <= 2 * settings.demo_beneficiaries
    # providers serve one to four service types
    assert settings.demo_providers <= seeded.counts["provider_services"]
    assert seeded.counts["provider_services"] <= 4 * settings.demo_providers
    assert seeded.created == seeded.counts  # the database was empty


async def test_seeding_twice_creates_and_changes_nothing(
    db: Sessions, settings: Settings, seeded: DemoSummary
) -> None:
    tables = ("providers", "provider_services", "beneficiaries", "vehicles", "users", "roles")
    before = {table: await _rows(db, table) for table in tables}

    again = await _seed(db, settings.demo_providers, settings.demo_beneficiaries)

    assert again.created_total == 0
    assert again.counts == seeded.counts
    assert again.logins == seeded.logins
    for table in tables:
        assert await _rows(db, table) == before[table], table


async def test_a_bigger_seed_keeps_the_first_rows_and_adds_the_rest(db: Sessions) -> None:
    await _seed(db, providers=5, beneficiaries=3)
    first = await _rows(db, "providers")

    bigger = await _seed(db, providers=8, beneficiaries=4)

    assert bigger.created["providers"] == 3
    assert bigger.created["beneficiaries"] == 1
    assert bigger.created["users"] == 0
    assert (await _rows(db, "providers"))[:5] == first


async def test_documents_and_plates_are_valid(db: Sessions, seeded: DemoSummary) -> None:
    async with db() as session:
        clients = (await session.scalars(select(Client.cnpj))).all()
        people = (
            await session.execute(
                select(Beneficiary.person_kind, Beneficiary.document).union_all(
                    select(Provider.person_kind, Provider.document)
                )
            )
        ).all()
        plates = (await session.scalars(select(Vehicle.plate))).all()
    assert all(cnpj_is_valid(cnpj) for cnpj in clients)
    for kind, document in people:
        assert (cpf_is_valid if kind == PersonKind.PF else cnpj_is_valid)(document), document
    assert {kind for kind, _ in people} == {PersonKind.PF, PersonKind.PJ}
    assert all(normalize_plate(plate) == plate for plate in plates)
    formats = {is_mercosul_plate(plate) for plate in plates}
    assert formats == {True, False}  # both old and Mercosul plates


async def test_provider_rows_load_as_typed_values(db: Sessions, seeded: DemoSummary) -> None:
    async with db() as session:
        providers = (await session.scalars(select(Provider))).all()
        prices = (await session.scalars(select(ProviderService))).all()
    assert all(isinstance(channel, Channel) for p in providers for channel in p.channels)
    assert {p.status for p in providers} <= set(ProviderStatus)
    assert all(0 <= p.preference <= 5 for p in providers)
    assert all(p.on_time_rate is None or isinstance(p.on_time_rate, Decimal) for p in providers)
    assert all(isinstance(row.departure_fee, Decimal) and row.departure_fee > 0 for row in prices)
    served = Counter(row.provider_id for row in prices)
    assert set(served.values()) <= {1, 2, 3, 4}


async def test_providers_lie_in_the_sao_paulo_box_denser_near_the_centre(
    db: Sessions, seeded: DemoSummary
) -> None:
    async with db() as session:
        result = await session.execute(
            select(
                func.ST_Y(func.geometry(Provider.base_location)),
                func.ST_X(func.geometry(Provider.base_location)),
                Provider.base_h3,
            )
        )
        points = result.all()
        near_centre = await session.scalar(
            select(func.count()).where(
                func.ST_DWithin(
                    Provider.base_location,
                    func.ST_GeogFromText(point_wkt(-23.5505, -46.6333)),
                    15_000,
                )
            )
        )
    assert len(points) == seeded.counts["providers"]
    for lat, lng, cell in points:
        assert LAT_MIN <= lat <= LAT_MAX and LNG_MIN <= lng <= LNG_MAX
        assert cell == point_cell(lat, lng)
    # a 15 km circle around Sé is ~7% of the box but holds most providers
    assert near_centre is not None and near_centre > len(points) // 2


async def test_demo_users_log_in_with_the_demo_password(db: Sessions, seeded: DemoSummary) -> None:
    assert seeded.logins == tuple(user.login for user in DEMO_USERS)
    async with db() as session:
        for login in seeded.logins:
            user = await authenticate(session, login.upper(), DEMO_PASSWORD)
            assert user is not None, login
        assert await authenticate(session, "admin", DEMO_PASSWORD + "x") is None
        portal = await session.scalar(select(User).where(User.login == "cliente"))
        first_client = await session.scalar(select(Client).order_by(Client.id).limit(1))
        provider_user = await session.scalar(select(User).where(User.login == "prestador"))
    assert portal is not None and first_client is not None and provider_user is not None
    assert portal.kind is UserKind.CLIENT
    assert portal.client_id == first_client.id
    assert first_client.trade_name == CLIENTS[0].trade_name
    assert provider_user.kind is UserKind.PROVIDER
    assert provider_user.provider_id is not None


async def test_seed_demo_command_reports_logins_and_password(
    db: Sessions, settings: Settings
) -> None:
    first = await seed_demo_command(settings)
    second = await seed_demo_command(settings)
    async with db() as session:  # each job given by hand went to a provider that tows
        given = (
            await session.execute(
                select(Job.service_type_id, Provider, ProviderService.id)
                .join(Provider, Provider.id == Job.provider_id)
                .outerjoin(
                    ProviderService,
                    (ProviderService.provider_id == Provider.id)
                    & (ProviderService.service_type_id == Job.service_type_id),
                )
            )
        ).all()
    assert len(given) == 3  # the demo's assigned, en route and on site jobs
    for _, provider, price_row in given:
        assert price_row is not None, provider.name
        assert Channel.VERBAL in provider.channels and (provider.phone or provider.whatsapp)
    assert "admin" in first and "prestador" in first and DEMO_PASSWORD in first
    assert f"providers {settings.demo_providers}" in first
    assert "nothing (already seeded)" in second
    assert "nothing" not in first
