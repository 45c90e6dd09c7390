"""The candidate search on real PostgreSQL and Redis is exactly the brute-force top N."""

from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.distance import haversine_km
from geo.ranking import CandidateFacts, Weights
from geo.search import SearchQuery
from geo.source import find_candidates, load_catalogue
from geo.topn import brute_force_top_n
from realtime.filter import PositionFix
from realtime.mirror import MirrorFeed
from realtime.store import LiveStore, now_ms
from registry import models as m
from registry.cells import point_cell
from registry.enums import PersonKind, ProviderStatus, ServiceTarget
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit

ORIGIN = (-23.55, -46.63)
Truth = tuple[float, float, float | None, float | None, int, bool, bool, bool]


async def _world(
    db: async_sessionmaker[AsyncSession], store: LiveStore, rng: random.Random
) -> tuple[int, int, dict[int, Truth]]:
    """Providers scattered around the origin; returns (service type, client, truth).

    truth: id -> (lat, lng, on_time, acceptance, preference, partner, eligible, busy);
    eligible: active, serving tows, and no further from the origin (where it counts)
    than its own working radius."""
    truth: dict[int, Truth] = {}
    live: list[tuple[int, PositionFix, int]] = []
    async with db() as session, session.begin():
        tow = m.ServiceType(code="tow", name="Reboque", target=ServiceTarget.VEHICLE)
        taxi = m.ServiceType(code="taxi", name="Táxi", target=ServiceTarget.VEHICLE)
        client = m.Client(cnpj=make_cnpj(1), trade_name="C", legal_name="C SA")
        session.add_all([tow, taxi, client])
        await session.flush()
        for i in range(300):
            lat = ORIGIN[0] + rng.uniform(-0.2, 0.2)
            lng = ORIGIN[1] + rng.uniform(-0.2, 0.2)
            blocked = rng.random() < 0.1
            own_radius = rng.choice([8, 15, 30, 60])
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(1000 + i),
                name=f"P{i}",
                base_location=f"SRID=4326;POINT({lng} {lat})",
                base_h3=point_cell(lat, lng),
                preference=rng.randint(0, 5),
                on_time_rate=Decimal(f"{rng.random():.4f}") if rng.random() < 0.8 else None,
                acceptance_rate=Decimal(f"{rng.random():.4f}") if rng.random() < 0.8 else None,
                status=ProviderStatus.BLOCKED if blocked else ProviderStatus.ACTIVE,
                working_radius_km=own_radius,
            )
            session.add(provider)
            await session.flush()
            serves_tow = rng.random() < 0.7
            session.add(
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=(tow if serves_tow else taxi).id,
                    departure_fee=Decimal("100"),
                    price_per_km=Decimal("3"),
                )
            )
            partner = rng.random() < 0.1
            if partner:
                session.add(m.ProviderPartnership(provider_id=provider.id, client_id=client.id))
            counted = (lat, lng)
            roll = rng.random()
            if roll < 0.3:  # a fresh live position elsewhere: it counts
                counted = (ORIGIN[0] + rng.uniform(-0.2, 0.2), ORIGIN[1] + rng.uniform(-0.2, 0.2))
                live.append((provider.id, PositionFix(counted[0], counted[1], 5.0, 1), now_ms()))
            elif roll < 0.4:  # a stale live position: the base counts
                far = (ORIGIN[0] + rng.uniform(-0.2, 0.2), ORIGIN[1] + rng.uniform(-0.2, 0.2))
                live.append((provider.id, PositionFix(far[0], far[1], 5.0, 1), now_ms() - 600_000))
            truth[provider.id] = (
                counted[0],
                counted[1],
                float(provider.on_time_rate) if provider.on_time_rate is not None else None,
                float(provider.acceptance_rate) if provider.acceptance_rate is not None else None,
                provider.preference,
                partner,
                serves_tow and not blocked and haversine_km(*ORIGIN, *counted) <= own_radius,
                rng.random() < 0.2,
            )
        tow_id, client_id = tow.id, client.id
    await store.write_positions(live)
    for pid, t in truth.items():
        if t[7]:
            await store.set_busy(pid, True)
    return tow_id, client_id, truth


async def _caught_up(feed: MirrorFeed, store: LiveStore) -> None:
    """Until the mirror holds what Redis holds (messages take a few ms)."""
    positions = await store.client.hlen(store.prefix + "pos")
    busy = await store.all_busy()
    deadline = time.monotonic() + unit(5)
    while len(feed.mirror) != positions or feed.mirror.busy != busy:
        assert time.monotonic() < deadline, "the mirror did not catch up"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_search_equals_brute_force_on_real_storage(
    db: async_sessionmaker[AsyncSession], redis: aioredis.Redis, settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    store = LiveStore(redis, settings.redis_prefix)
    async with MirrorFeed(store).running() as feed:
        if seed % 2:  # the mirror hears the writes; else it loads them as a snapshot
            await asyncio.wait_for(feed.wait_ready(), unit(5))
        tow, client, truth = await _world(db, store, rng)
        await asyncio.wait_for(feed.wait_ready(), unit(5))
        await _caught_up(feed, store)
        weights = Weights().with_overrides({"partnership": rng.choice([0, 20, 60])})
        radius, n = rng.choice([5.0, 10.0, 25.0]), rng.choice([1, 5, 20, 400])
        query = SearchQuery(ORIGIN[0], ORIGIN[1], tow, client, radius, n, weights)
        async with db() as session:
            catalogue = await load_catalogue(session)
        result = await find_candidates(catalogue, feed.mirror, store, query, fresh_s=120.0)
    reference = brute_force_top_n(
        [
            CandidateFacts(
                pid, haversine_km(*ORIGIN, lat, lng), on_time, acceptance, pref, partner, busy
            )
            for pid, (lat, lng, on_time, acceptance, pref, partner, eligible, busy) in truth.items()
            if eligible
        ],
        weights,
        radius,
        n,
    )
    assert [c.facts.provider_id for c in result.candidates] == [
        c.facts.provider_id for c in reference
    ]
    for got, want in zip(result.candidates, reference, strict=True):
        assert got.score == pytest.approx(want.score, abs=1e-9)
        assert got.facts.distance_km == pytest.approx(want.facts.distance_km, abs=1e-6)
    live_ones = [c for c in result.candidates if c.facts.position_source.value == "live"]
    assert all(c.facts.position_age_s is not None for c in live_ones)
    for c in result.candidates:
        assert c.facts.busy == truth[c.facts.provider_id][7]
        assert c.facts.price is not None and c.facts.eta_minutes is not None
