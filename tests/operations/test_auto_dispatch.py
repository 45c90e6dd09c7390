"""Automatic dispatch: the pure planner, and durable runs against the real
PostgreSQL and Redis (the real candidate search), stepped by a timer any node may
run: offers in ranking order, widening, giving up, no step taken twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from geo.ranking import ScoreOptions, Weights
from geo.source import CatalogueKeeper
from operations import auto_dispatch, dispatch, reaching
from operations.auto_plan import Candidate, RunState, RunStatus, StepKind, plan_step
from operations.candidates import CandidateFinder
from operations.dispatch_rules import DispatchRules
from operations.gateways import ManualClock
from operations.lifecycle import JobActor, JobStatus
from operations.models import DispatchRun, DispatchSettings, Job, Offer
from operations.offers import OfferStatus
from operations.service import Operations
from realtime.mirror import MirrorFeed
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.enums import Channel, PersonKind
from registry.validation import make_cnpj
from server.dispatching import LiveReach
from server.settings import Settings
from tests.conftest import unit
from tests.operations.support import Sessions, World, make_world, open_job, operations

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
RULES = DispatchRules(auto_enabled=True, radius_steps_km=(5, 20), max_attempts=3)


def _c(pid: int, *, partner: bool = False, busy: bool = False, ch: str = "app") -> Candidate:
    return Candidate(pid, partner, busy, tuple(Channel(c) for c in ch.split(",") if c))


def test_plan_waits_while_offers_are_out() -> None:
    step = plan_step(RULES, RunState(1, 0, frozenset({1})), [AT, AT - timedelta(1)], [_c(2)])
    assert step.kind is StepKind.WAIT and step.until == AT - timedelta(1)


def test_plan_offers_the_best_not_asked_free_and_reachable() -> None:
    found = [_c(1), _c(2, busy=True), _c(3, ch=""), _c(4, ch="web,link"), _c(5)]
    step = plan_step(RULES, RunState(1, 0, frozenset({1})), [], found)
    assert step.kind is StepKind.OFFER and step.offers == ((5, Channel.APP),)
    linky = DispatchRules(channels=(Channel.APP, Channel.LINK), batch_size=3, max_attempts=9)
    step = plan_step(linky, RunState(0, 0, frozenset()), [], found)
    assert step.offers == ((1, Channel.APP), (4, Channel.LINK), (5, Channel.APP))


def test_plan_puts_partners_first_and_respects_the_attempts_left() -> None:
    rules = DispatchRules(batch_size=3, max_attempts=4)
    found = [_c(1), _c(2, partner=True), _c(3), _c(4, partner=True)]
    step = plan_step(rules, RunState(2, 0, frozenset()), [], found)
    assert step.offers == ((2, Channel.APP), (4, Channel.APP))  # 2 attempts left


def test_plan_widens_then_gives_up() -> None:
    assert plan_step(RULES, RunState(0, 0, frozenset()), [], []).kind is StepKind.WIDEN
    assert plan_step(RULES, RunState(0, 1, frozenset()), [], []).kind is StepKind.GIVE_UP
    spent = plan_step(RULES, RunState(3, 0, frozenset()), [], [_c(9)])
    assert spent.kind is StepKind.GIVE_UP


# -- durable runs ----------------------------------------------------------------------------


@pytest.fixture
async def live(
    db: Sessions, redis: aioredis.Redis, settings: Settings
) -> AsyncIterator[tuple[LiveStore, CandidateFinder]]:
    store = LiveStore(redis, settings.redis_prefix)
    keeper = CatalogueKeeper(db, reload_s=3600)
    async with MirrorFeed(store).running() as feed, keeper.running():
        await asyncio.wait_for(feed.wait_ready(), unit(5))
        finder = CandidateFinder(
            keeper, feed, store, weights=Weights(), options=ScoreOptions(), fresh_s=120.0
        )
        yield store, finder


async def _fleet(db: Sessions, world: World, store: LiveStore, km_east: list[float]) -> list[int]:
    """Online tow providers at these km east of the job's origin (-23.55, -46.65)."""
    ids = []
    async with db() as session, session.begin():
        for i, km in enumerate(km_east):
            lng = -46.65 + km / 102.0
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(300 + i),
                name=f"Auto {i}",
                phone="+5511912345678",
                base_location=f"SRID=4326;POINT({lng} -23.55)",
                base_h3=point_cell(-23.55, lng),
                channels=[Channel.APP],
                working_radius_km=100,
            )
            session.add(provider)
            await session.flush()
            session.add(
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=world.tow,
                    departure_fee=Decimal(100),
                    price_per_km=Decimal(3),
                )
            )
            ids.append(provider.id)
        session.add(
            DispatchSettings(
                client_id=world.client,
                auto_enabled=True,
                radius_steps_km=[5, 20],
                max_attempts=3,
                offer_timeout_s=30,
            )
        )
        session.add(m.RefusalReason(name="Ocupado"))
    for pid in ids:
        await store.hold(pid, f"c{pid}", 600)
    return ids


def _ops(db: Sessions, store: LiveStore, finder: CandidateFinder) -> tuple[Operations, ManualClock]:
    ops, clock = operations(db, reach=LiveReach(store, 120.0))
    ops.candidates = finder
    return ops, clock


async def _offers(db: Sessions, job_id: int) -> list[Offer]:
    async with db() as session:
        stmt = select(Offer).where(Offer.job_id == job_id).order_by(Offer.id)
        return list((await session.execute(stmt)).scalars())


async def _run(db: Sessions, job_id: int) -> DispatchRun:
    async with db() as session:
        run = await session.get(DispatchRun, job_id)
        assert run is not None
        return run


async def _reason(db: Sessions) -> int:
    async with db() as session:
        found: int | None = await session.scalar(select(m.RefusalReason.id))
        assert found is not None
        return found


async def test_a_run_offers_in_order_widens_and_ends_with_the_accept(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    store, finder = live
    world = await make_world(db)
    near, nearer, far = await _fleet(db, world, store, [3.0, 1.0, 12.0])
    ops, clock = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    assert (await _run(db, job_id)).status is RunStatus.ACTIVE  # the client's rules
    assert await auto_dispatch.take_due_steps(ops) == 1
    [first] = await _offers(db, job_id)
    assert first.provider_id == nearer
    assert await auto_dispatch.take_due_steps(ops) == 0  # waiting for the answer

    async with ops.unit() as uow:
        await dispatch.refuse_offer(
            uow, first.id, JobActor.provider(nearer, Channel.APP), await _reason(db)
        )
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.DISPATCHING  # not back to the queue
    assert await auto_dispatch.take_due_steps(ops) == 1  # woken by the refusal
    second = (await _offers(db, job_id))[-1]
    assert second.provider_id == near

    clock.advance(timedelta(seconds=31))
    assert await dispatch.expire_due(ops) == 1
    assert await auto_dispatch.take_due_steps(ops) == 1  # nobody left within 5 km: widen
    assert (await _run(db, job_id)).step == 1
    assert await auto_dispatch.take_due_steps(ops) == 1
    third = (await _offers(db, job_id))[-1]
    assert third.provider_id == far
    async with ops.unit() as uow:
        result = await dispatch.accept_offer(
            uow, third.id, JobActor.provider(far, Channel.APP), eta_minutes=20
        )
    assert result.outcome.value == "accepted"
    run = await _run(db, job_id)
    assert run.status is RunStatus.DONE and run.attempts == 3


async def test_a_run_that_runs_out_of_attempts_hands_over_to_the_operator(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    store, finder = live
    world = await make_world(db)
    await _fleet(db, world, store, [1.0, 2.0, 3.0, 4.0])
    ops, clock = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    for _ in range(3):
        assert await auto_dispatch.take_due_steps(ops) == 1
        clock.advance(timedelta(seconds=31))
        assert await dispatch.expire_due(ops) == 1
    assert await auto_dispatch.take_due_steps(ops) == 1
    run = await _run(db, job_id)
    assert run.status is RunStatus.GAVE_UP and run.attempts == 3
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status is JobStatus.ATTEMPTS_EXCEEDED
    assert len(await _offers(db, job_id)) == 3


async def test_two_nodes_stepping_at_once_take_each_step_once(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    store, finder = live
    world = await make_world(db)
    await _fleet(db, world, store, [1.0, 2.0, 3.0])
    ops, _ = _ops(db, store, finder)
    other, _ = _ops(db, store, finder)
    other.clock = ops.clock
    jobs = [await open_job(ops, world) for _ in range(3)]  # the plan covers three a year
    taken = await asyncio.gather(
        auto_dispatch.take_due_steps(ops), auto_dispatch.take_due_steps(other)
    )
    assert sum(taken) == len(jobs)
    for job_id in jobs:
        offers = await _offers(db, job_id)
        assert len(offers) == 1 and offers[0].status is OfferStatus.PENDING
        assert (await _run(db, job_id)).attempts == 1


async def test_a_step_ranks_with_the_clients_weights_as_they_are_at_that_step(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    """The step reads the client's weights with its locks: weights that cannot be
    used hold the run (with the reason) and retry; mended, the next step offers."""
    store, finder = live
    world = await make_world(db)
    [nearest] = await _fleet(db, world, store, [1.0])
    ops, clock = _ops(db, store, finder)
    async with db() as session, session.begin():
        client = await session.get(m.Client, world.client)
        assert client is not None
        client.ranking_weights = {"no_such_factor": 10}  # as an old release could leave
    job_id = await open_job(ops, world)
    assert await auto_dispatch.take_due_steps(ops) == 1
    run = await _run(db, job_id)
    assert await _offers(db, job_id) == [] and run.attempts == 0
    assert run.note and "no_such_factor" in run.note
    assert run.next_at == clock.now() + auto_dispatch.RETRY_AFTER
    async with db() as session, session.begin():
        client = await session.get(m.Client, world.client)
        assert client is not None
        client.ranking_weights = {"distance": 100}
    clock.advance(auto_dispatch.RETRY_AFTER)
    assert await auto_dispatch.take_due_steps(ops) == 1
    [offer] = await _offers(db, job_id)
    assert offer.provider_id == nearest and (await _run(db, job_id)).attempts == 1


async def test_a_step_looks_past_a_full_list_of_providers_it_cannot_reach(
    db: Sessions, live: tuple[LiveStore, CandidateFinder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two best are offline (their app closed): with room for two in the list,
    the step ranks more at the same radius and offers the third, rather than widen
    the radius or give up with a free provider 3 km away."""
    monkeypatch.setattr(auto_dispatch, "CANDIDATES_PER_STEP", 2)
    monkeypatch.setattr(auto_dispatch, "MAX_CANDIDATES", 8)
    store, finder = live
    world = await make_world(db)
    first, second, online = await _fleet(db, world, store, [1.0, 2.0, 3.0])
    for pid in (first, second):
        assert await store.release(pid, f"c{pid}")
    ops, _ = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    assert await auto_dispatch.take_due_steps(ops) == 1
    [offer] = await _offers(db, job_id)
    assert offer.provider_id == online and offer.channel is Channel.APP
    assert (await _run(db, job_id)).step == 0  # not widened


async def test_a_batch_step_fills_its_room_past_a_short_first_list(
    db: Sessions, live: tuple[LiveStore, CandidateFinder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two: the first list (twice the room, four) holds one provider it
    can reach; the step ranks more at the same radius and offers two, not one."""
    monkeypatch.setattr(auto_dispatch, "CANDIDATES_PER_STEP", 1)
    store, finder = live
    world = await make_world(db)
    fleet = await _fleet(db, world, store, [1.0, 1.5, 2.0, 2.5, 3.0])
    for pid in fleet[:3]:
        assert await store.release(pid, f"c{pid}")
    async with db() as session, session.begin():
        settings = await session.scalar(
            select(DispatchSettings).where(DispatchSettings.client_id == world.client)
        )
        assert settings is not None
        settings.batch_size = 2
    ops, _ = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    assert await auto_dispatch.take_due_steps(ops) == 1
    assert [o.provider_id for o in await _offers(db, job_id)] == fleet[3:]
    assert (await _run(db, job_id)).attempts == 2


async def test_a_partner_ranked_below_the_short_list_still_goes_first(
    db: Sessions, live: tuple[LiveStore, CandidateFinder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partners first (the default) and the client has one, 4.9 km away behind two
    nearer providers: the step ranks the longer list and offers the partner."""
    monkeypatch.setattr(auto_dispatch, "CANDIDATES_PER_STEP", 1)
    monkeypatch.setattr(auto_dispatch, "CANDIDATES_PARTNERS_FIRST", 8)
    store, finder = live
    world = await make_world(db)
    *_, partner = await _fleet(db, world, store, [0.3, 0.4, 4.9])
    async with db() as session, session.begin():
        session.add(m.ProviderPartnership(provider_id=partner, client_id=world.client))
    ops, _ = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    assert await auto_dispatch.take_due_steps(ops) == 1
    [offer] = await _offers(db, job_id)
    assert offer.provider_id == partner


async def test_the_operator_stops_a_run(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    store, finder = live
    world = await make_world(db)
    await _fleet(db, world, store, [1.0])
    ops, _ = _ops(db, store, finder)
    job_id = await open_job(ops, world)
    async with ops.unit() as uow:
        view = await auto_dispatch.stop(uow, job_id, None)
    assert view is not None and view.status is RunStatus.STOPPED
    assert await auto_dispatch.take_due_steps(ops) == 0
    assert await _offers(db, job_id) == []


async def test_the_candidate_list_shows_presence_and_channels_and_follows_edits(
    db: Sessions, live: tuple[LiveStore, CandidateFinder]
) -> None:
    store, finder = live
    world = await make_world(db)
    online, offline = await _fleet(db, world, store, [1.0, 2.0])
    await store.release(offline, f"c{offline}")
    ops, _ = _ops(db, store, finder)
    job_id = await open_job(ops, world)

    async def listed() -> dict[int, tuple[str, list[Channel]]]:
        async with ops.unit() as uow:
            job = await uow.session.get(Job, job_id)
            assert job is not None
            found = await reaching.find_for_job(uow, job, radius_km=5, limit=5)
        return {
            c.ranked.facts.provider_id: (c.ranked.facts.connectivity.value, c.channels_now)
            for c in found
        }

    assert await listed() == {online: ("app", [Channel.APP]), offline: ("offline", [])}
    async with db() as session, session.begin():
        provider = await session.get(m.Provider, offline)
        assert provider is not None
        provider.channels = [Channel.APP, Channel.LINK]
    finder.catalogue.invalidate([offline])  # as the registry's commit hook does
    assert (await listed())[offline] == ("offline", [Channel.LINK])
