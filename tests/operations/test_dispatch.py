"""Dispatch against the real PostgreSQL: offers over each channel, exactly one
winner, and every race dispatch engines are known for, each made impossible."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from operations import dispatch, scorecard, service
from operations.dispatch import AcceptResult
from operations.errors import InvalidInputError, NotFoundError, OfferConflictError
from operations.events import CATALOGUE, OfferEvent
from operations.gateways import Email, ItsdangerousLinkSigner, MemoryMessages, Sms
from operations.lifecycle import JobActor, JobStatus
from operations.linking import LinkConfig, LinkSender
from operations.models import (
    DispatchMessage,
    DispatchSettings,
    Job,
    Offer,
    OfferTransition,
    OutboxEvent,
)
from operations.offers import AcceptOutcome, OfferStatus, WithdrawReason
from operations.service import ArrivalSource, Operations
from registry import models as m
from registry.cells import point_cell
from registry.enums import Channel, PersonKind
from registry.points import Point
from registry.validation import make_cnpj
from tests.operations.support import (
    OPERATOR,
    Sessions,
    World,
    make_world,
    open_job,
    operations,
    outbox_rows,
)

OS = OfferStatus


class Reach:
    """Which providers are connected, as the live store would say."""

    def __init__(self, online: Collection[int] = (), web: Collection[int] = ()) -> None:
        self.online = set(online)
        self.web = set(web)

    async def live_channels(self, provider_ids: Collection[int]) -> dict[int, set[Channel]]:
        out: dict[int, set[Channel]] = {}
        for pid in provider_ids:
            out[pid] = {Channel.APP} if pid in self.online else set()
            if pid in self.web:
                out[pid].add(Channel.WEB)
        return out

    async def position(self, provider_id: int) -> Point | None:
        return None


async def _providers(db: Sessions, world: World, n: int, **columns: object) -> list[int]:
    """``n`` more tow providers with a price table, reachable by every channel."""
    ids = []
    async with db() as session, session.begin():
        for i in range(n):
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(100 + i),
                name=f"Guincho {i}",
                phone="+5511912345678",
                email=f"guincho{i}@example.com",
                base_location="SRID=4326;POINT(-46.64 -23.56)",
                base_h3=point_cell(-23.56, -46.64),
                channels=[Channel.APP, Channel.WEB, Channel.LINK, Channel.VERBAL],
                **columns,
            )
            session.add(provider)
            await session.flush()
            session.add(
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=world.tow,
                    departure_fee=Decimal("100.00"),
                    included_km=10,
                    price_per_km=Decimal("3.50"),
                )
            )
            ids.append(provider.id)
    return ids


async def _reason(db: Sessions) -> int:
    async with db() as session, session.begin():
        reason = m.RefusalReason(name="Longe demais")
        session.add(reason)
        await session.flush()
        return reason.id


def _provider(pid: int, channel: Channel = Channel.APP) -> JobActor:
    return JobActor.provider(pid, channel)


async def _offer(ops: Operations, job_id: int, pid: int, channel: Channel = Channel.APP) -> int:
    async with ops.unit() as uow:
        return (await dispatch.offer_job(uow, job_id, pid, channel, OPERATOR)).id


async def _accept(ops: Operations, offer_id: int, pid: int, eta: int = 20) -> AcceptResult:
    async with ops.unit() as uow:
        return await dispatch.accept_offer(uow, offer_id, _provider(pid), eta_minutes=eta)


async def _job(db: Sessions, job_id: int) -> Job:
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def _offers(db: Sessions, job_id: int) -> dict[int, Offer]:
    async with db() as session:
        rows = (await session.execute(select(Offer).where(Offer.job_id == job_id))).scalars()
        return {row.id: row for row in rows}


async def test_an_app_offer_tells_what_to_decide_and_nothing_personal(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, _ = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, pid)
    assert (await _job(db, job_id)).status is JobStatus.DISPATCHING
    events = [r for r in await outbox_rows(db) if r.type == "offer.created"]
    [created] = events
    event = CATALOGUE["offer.created"].decode(created.payload)
    assert isinstance(event, OfferEvent)
    offer = event.offer
    assert offer.id == offer_id and offer.status is OS.PENDING and offer.provider_id == pid
    assert offer.brief.service_name == "Reboque leve" and offer.brief.origin is not None
    assert offer.distance_km is not None and 0 < offer.distance_km < 5
    assert offer.price is not None and offer.price >= Decimal("100.00")
    assert (offer.expires_at - offer.created_at) == timedelta(seconds=60)
    text = str(created.payload)
    assert "+5511987654321" not in text and "Ana Souza" not in text  # no requester


async def test_channels_that_cannot_reach_the_provider_now_are_refused(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, _ = operations(db, reach=Reach(online=[]))
    job_id = await open_job(ops, world)
    for channel in (Channel.APP, Channel.WEB):
        with pytest.raises(OfferConflictError) as caught:
            await _offer(ops, job_id, pid, channel)
        assert caught.value.code == "channel_unavailable"
    with pytest.raises(InvalidInputError):  # world.provider has no price table
        await _offer(ops, job_id, world.provider, Channel.VERBAL)
    assert await _offers(db, job_id) == {}
    assert (await _job(db, job_id)).status is JobStatus.OPEN


async def test_accept_assigns_withdraws_the_others_and_is_idempotent(db: Sessions) -> None:
    world = await make_world(db)
    a, b, c = await _providers(db, world, 3)
    ops, _ = operations(db, reach=Reach(online=[a, b, c]))
    job_id = await open_job(ops, world)
    offers = [await _offer(ops, job_id, pid) for pid in (a, b, c)]
    first = await _accept(ops, offers[1], b, eta=25)
    assert first.outcome is AcceptOutcome.ACCEPTED and first.job is not None
    assert first.job.provider_id == b and first.job.requester.phone == "+5511987654321"
    again = await _accept(ops, offers[1], b)
    assert again.outcome is AcceptOutcome.ACCEPTED  # the same answer
    late = await _accept(ops, offers[0], a)
    assert late.outcome is AcceptOutcome.TAKEN
    rows = await _offers(db, job_id)
    assert rows[offers[1]].status is OS.ACCEPTED and rows[offers[1]].eta_minutes == 25
    for other in (offers[0], offers[2]):
        assert rows[other].status is OS.WITHDRAWN
        assert rows[other].withdraw_reason is WithdrawReason.TAKEN
    job = await _job(db, job_id)
    assert job.status is JobStatus.ASSIGNED and job.provider_id == b
    with pytest.raises(OfferConflictError) as caught:  # no more offers for it
        await _offer(ops, job_id, a)
    assert caught.value.code == "not_awaiting"


async def test_a_provider_sees_only_its_own_offers(db: Sessions) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    ops, _ = operations(db, reach=Reach(online=[a, b]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, a)
    with pytest.raises(NotFoundError):
        await _accept(ops, offer_id, b)


async def test_two_providers_accepting_at_once_make_one_winner(db: Sessions) -> None:
    world = await make_world(db)
    providers = await _providers(db, world, 8)
    ops, _ = operations(db, reach=Reach(online=providers))
    for _round in range(3):
        job_id = await open_job(ops, world)
        offers = {pid: await _offer(ops, job_id, pid) for pid in providers}
        results = await asyncio.gather(*(_accept(ops, o, pid) for pid, o in offers.items()))
        outcomes = sorted(r.outcome.value for r in results)
        assert outcomes == ["accepted"] + ["taken"] * (len(providers) - 1)
        async with db() as session:
            accepted = await session.scalar(
                select(func.count()).where(Offer.job_id == job_id, Offer.status == OS.ACCEPTED)
            )
        assert accepted == 1
        async with ops.unit() as uow:
            await service.cancel_job(uow, job_id, world.reason, OPERATOR)


async def test_one_provider_cannot_take_two_jobs_at_once_when_it_works_one_at_a_time(
    db: Sessions,
) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, _ = operations(db, reach=Reach(online=[pid]))
    jobs = [await open_job(ops, world) for _ in range(2)]
    offers = [await _offer(ops, job_id, pid) for job_id in jobs]
    results = await asyncio.gather(*(_accept(ops, o, pid) for o in offers))
    assert sorted(r.outcome.value for r in results) == ["accepted", "busy"]
    async with db() as session:
        await session.execute(
            update(m.Provider).where(m.Provider.id == pid).values(max_active_jobs=2)
        )
        await session.commit()
    busy = next(r for r in results if r.outcome is AcceptOutcome.BUSY)
    assert busy.offer is not None
    retry = await _accept(ops, busy.offer.id, pid)
    assert retry.outcome is AcceptOutcome.ACCEPTED  # a fleet takes both


async def test_cancel_withdraws_every_open_offer_so_nothing_assigns_it_after(
    db: Sessions,
) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    ops, _ = operations(db, reach=Reach(online=[a, b]))
    job_id = await open_job(ops, world)
    offers = [await _offer(ops, job_id, pid) for pid in (a, b)]
    async with ops.unit() as uow:
        await service.cancel_job(uow, job_id, world.reason, OPERATOR)
    rows = await _offers(db, job_id)
    assert {r.status for r in rows.values()} == {OS.WITHDRAWN}
    assert {r.withdraw_reason for r in rows.values()} == {WithdrawReason.CANCELLED}
    result = await _accept(ops, offers[0], a)
    assert result.outcome is AcceptOutcome.TAKEN
    assert (await _job(db, job_id)).status is JobStatus.CANCELLED


async def test_a_late_accept_expires_the_offer_and_the_sweep_returns_the_job(
    db: Sessions,
) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    ops, clock = operations(db, reach=Reach(online=[a, b]))
    job_id = await open_job(ops, world)
    offer_a = await _offer(ops, job_id, a)
    offer_b = await _offer(ops, job_id, b)
    clock.advance(timedelta(seconds=61))
    late = await _accept(ops, offer_a, a)
    assert late.outcome is AcceptOutcome.EXPIRED
    rows = await _offers(db, job_id)
    assert rows[offer_a].status is OS.EXPIRED  # committed with the answer
    assert (await _job(db, job_id)).status is JobStatus.DISPATCHING  # b is still open
    assert await dispatch.expire_due(ops) == 1
    rows = await _offers(db, job_id)
    assert rows[offer_b].status is OS.EXPIRED
    assert (await _job(db, job_id)).status is JobStatus.OPEN  # back to the queue
    assert await dispatch.expire_due(ops) == 0


async def test_an_app_offer_no_node_delivered_fails(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, clock = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, pid)
    clock.advance(timedelta(seconds=dispatch.DELIVERY_TIMEOUT_S + 1))
    assert await dispatch.expire_due(ops) == 1
    offer = (await _offers(db, job_id))[offer_id]
    assert offer.status is OS.FAILED and offer.failure is not None


async def test_delivery_then_refusal_with_a_reason(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    reason = await _reason(db)
    ops, _ = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, pid)
    async with ops.unit() as uow:
        delivered = await dispatch.offer_delivered(uow, offer_id)
    assert delivered is not None and delivered.status is OS.DELIVERED
    async with ops.unit() as uow:
        assert await dispatch.offer_delivered(uow, offer_id) is None  # once
    async with ops.unit() as uow:
        refused = await dispatch.refuse_offer(uow, offer_id, _provider(pid), reason)
    assert refused.status is OS.REFUSED and refused.refusal_reason_id == reason
    with pytest.raises(OfferConflictError):
        async with ops.unit() as uow:
            await dispatch.refuse_offer(uow, offer_id, _provider(pid), reason)
    assert (await _job(db, job_id)).status is JobStatus.OPEN
    async with db() as session:
        history = (
            await session.execute(
                select(OfferTransition.to_status, OfferTransition.actor).where(
                    OfferTransition.offer_id == offer_id
                )
            )
        ).all()
    assert [h[0] for h in history] == [OS.PENDING, OS.DELIVERED, OS.REFUSED]
    assert history[-1][1].value == "provider"


async def test_verbal_is_accepted_at_once_by_the_operator(db: Sessions) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    ops, _ = operations(db, reach=Reach(online=[a]))
    job_id = await open_job(ops, world)
    app_offer = await _offer(ops, job_id, a)
    async with ops.unit() as uow:
        view = await dispatch.offer_job(
            uow, job_id, b, Channel.VERBAL, JobActor.operator(None), eta_minutes=30
        )
    assert view.status is OS.ACCEPTED and view.eta_minutes == 30
    job = await _job(db, job_id)
    assert job.status is JobStatus.ASSIGNED and job.provider_id == b
    assert (await _offers(db, job_id))[app_offer].status is OS.WITHDRAWN


async def test_an_eta_over_the_clients_maximum_waits_for_the_operator(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    async with db() as session, session.begin():
        session.add(DispatchSettings(client_id=world.client, max_eta_min=30))
    ops, _ = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, pid)
    bid = await _accept(ops, offer_id, pid, eta=45)
    assert bid.outcome is AcceptOutcome.CONFIRM
    assert bid.offer is not None and bid.offer.awaiting_confirmation
    assert (await _job(db, job_id)).status is JobStatus.DISPATCHING
    async with ops.unit() as uow:
        confirmed = await dispatch.accept_offer(uow, offer_id, OPERATOR, confirmed=True)
    assert confirmed.outcome is AcceptOutcome.ACCEPTED
    assert confirmed.offer is not None and confirmed.offer.eta_minutes == 45
    assert (await _job(db, job_id)).provider_id == pid


async def test_a_link_version_works_once(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    reason = await _reason(db)
    ops, _ = operations(db, reach=Reach())
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, pid, Channel.LINK)
    version = (await _offers(db, job_id))[offer_id].version
    async with ops.unit() as uow:
        await dispatch.offer_delivered(uow, offer_id)  # the SMS went out: same version
    async with ops.unit() as uow:
        result = await dispatch.accept_offer(
            uow, offer_id, _provider(pid, Channel.LINK), eta_minutes=20, expected_version=version
        )
    assert result.outcome is AcceptOutcome.ACCEPTED
    with pytest.raises(OfferConflictError) as caught:  # the same link again
        async with ops.unit() as uow:
            await dispatch.refuse_offer(
                uow, offer_id, _provider(pid, Channel.LINK), reason, expected_version=version
            )
    assert caught.value.code == "stale"


async def test_a_provider_moves_only_its_own_job(db: Sessions) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    ops, _ = operations(db, reach=Reach(online=[a, b]))
    job_id = await open_job(ops, world)
    offer_id = await _offer(ops, job_id, a)
    await _accept(ops, offer_id, a)
    with pytest.raises(NotFoundError):
        async with ops.unit() as uow:
            await dispatch.provider_move(uow, job_id, JobStatus.EN_ROUTE, _provider(b))
    async with ops.unit() as uow:
        view = await dispatch.provider_move(uow, job_id, JobStatus.EN_ROUTE, _provider(a))
    assert view.status is JobStatus.EN_ROUTE
    async with ops.unit() as uow:  # giving the job back releases the accepted offer
        await service.move_job(uow, job_id, JobStatus.DISPATCHING, OPERATOR)
    offer = (await _offers(db, job_id))[offer_id]
    assert offer.status is OS.WITHDRAWN and offer.withdraw_reason is WithdrawReason.REDISPATCH
    again = await _offer(ops, job_id, b)
    assert (await _accept(ops, again, b)).outcome is AcceptOutcome.ACCEPTED


async def test_a_link_no_gateway_could_send_fails_the_offer(db: Sessions) -> None:
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, _ = operations(db, reach=Reach())
    messages = MemoryMessages()
    signer = ItsdangerousLinkSigner("k" * 32, ops.clock)
    sender = LinkSender(ops, signer, messages, messages, LinkConfig("https://acionar.example"))
    ops.links = sender
    job_id = await open_job(ops, world)
    sent = await _offer(ops, job_id, pid, Channel.LINK)  # sent after the commit
    assert (await _offers(db, job_id))[sent].status is OS.DELIVERED
    [sms, email] = messages.sent
    assert isinstance(sms, Sms) and "https://acionar.example/l/o/" in sms.text
    assert isinstance(email, Email) and email.to == "guincho0@example.com"
    async with ops.unit() as uow:
        await dispatch.withdraw_offer(uow, sent, OPERATOR)
    messages.down = True
    failed = await _offer(ops, job_id, pid, Channel.LINK)
    offer = (await _offers(db, job_id))[failed]
    assert offer.status is OS.FAILED and offer.failure
    async with db() as session:
        results = (await session.execute(select(DispatchMessage.status))).scalars().all()
    assert sorted(r.value for r in results) == ["failed", "failed", "sent", "sent"]
    assert (await _job(db, job_id)).status is JobStatus.OPEN  # nothing left out


async def test_the_promise_the_arrival_and_the_scorecard(db: Sessions) -> None:
    world = await make_world(db)
    a, b = await _providers(db, world, 2)
    reason = await _reason(db)
    ops, clock = operations(db, reach=Reach(online=[a, b]))
    first = await open_job(ops, world)
    offer = await _offer(ops, first, a)
    await _accept(ops, offer, a, eta=20)
    job = await _job(db, first)
    assert job.promised_at == clock.now() + timedelta(minutes=20)
    clock.advance(timedelta(minutes=12))
    async with ops.unit() as uow:
        seen = await service.record_arrival(uow, first, clock.now(), ArrivalSource.GEOFENCE)
    assert seen is not None and seen.arrived_at == clock.now()
    async with ops.unit() as uow:  # first news wins
        assert await service.record_arrival(uow, first, clock.now(), ArrivalSource.GEOFENCE) is None
    async with ops.unit() as uow:
        await dispatch.provider_move(uow, first, JobStatus.ON_SITE, _provider(a))
    job = await _job(db, first)
    assert (job.arrival_source, job.status) == ("geofence", JobStatus.ON_SITE)

    second = await open_job(ops, world)
    refused = await _offer(ops, second, a)
    async with ops.unit() as uow:
        await dispatch.refuse_offer(uow, refused, _provider(a), reason)
    await _offer(ops, second, a)
    clock.advance(timedelta(minutes=2))
    await dispatch.expire_due(ops)
    async with db() as session:
        card = await scorecard.scorecard(session, a, clock.now(), 90)
    assert (card.accepted, card.refused, card.expired) == (1, 1, 1)
    assert card.acceptance_rate == round(1 / 3, 4)  # an expired offer is a refusal
    assert (card.arrivals, card.on_time, card.on_time_rate) == (1, 1, 1.0)
    assert card.eta_error_minutes == 8.0
    async with db() as session, session.begin():
        assert await scorecard.refresh_rates(session, clock.now(), 90) == 2
    async with db() as session:
        provider = await session.get(m.Provider, a)
        assert provider is not None
        assert provider.acceptance_rate == Decimal("0.3333")
        assert provider.on_time_rate == Decimal("1.0000")


async def test_the_one_statement_writes_leave_the_session_as_the_database(
    db: Sessions,
) -> None:
    """An offer's creation and moves and the job's move are written by statements of
    their own, not by a flush: the session's job and offer, and so what is announced
    and answered, must say what the database says, with nothing left for a flush to
    write again; each move's history line is there at once."""
    world = await make_world(db)
    [pid] = await _providers(db, world, 1)
    ops, _ = operations(db, reach=Reach(online=[pid]))
    job_id = await open_job(ops, world)
    async with ops.unit() as uow:
        session = uow.session
        made = await dispatch.offer_job(uow, job_id, pid, Channel.APP, OPERATOR)
        job = await session.get(Job, job_id)  # held: the session's own from here on
        offer = await session.get(Offer, made.id)
        assert job is not None and offer is not None
        assert job.status is JobStatus.DISPATCHING and made.status is OS.PENDING
        accepted = await dispatch.accept_offer(uow, made.id, _provider(pid), eta_minutes=12)
        assert accepted.outcome is AcceptOutcome.ACCEPTED
        assert accepted.offer is not None and accepted.job is not None
        assert job not in session.dirty and offer not in session.dirty
        assert all(isinstance(row, OutboxEvent) for row in session.new)  # only the events
        jobs, offers = Job.__table__, Offer.__table__
        job_row = (
            await session.execute(
                select(jobs.c.status, jobs.c.provider_id).where(jobs.c.id == job_id)
            )
        ).one()
        assert (job.status, job.provider_id) == tuple(job_row) == (JobStatus.ASSIGNED, pid)
        assert accepted.job.status is JobStatus.ASSIGNED
        offer_row = (
            await session.execute(
                select(offers.c.status, offers.c.version, offers.c.eta_minutes).where(
                    offers.c.id == made.id
                )
            )
        ).one()
        seen = (offer.status, offer.version, offer.eta_minutes)
        assert seen == tuple(offer_row) == (OS.ACCEPTED, 2, 12)
        assert (accepted.offer.status, accepted.offer.version) == (OS.ACCEPTED, 2)
        lines = (
            await session.execute(
                select(OfferTransition.to_status)
                .where(OfferTransition.offer_id == made.id)
                .order_by(OfferTransition.id)
            )
        ).scalars()
        assert list(lines) == [OS.PENDING, OS.ACCEPTED]
