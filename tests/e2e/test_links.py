"""Dispatch by signed link, end to end: the offer goes out by SMS and e-mail (the
outbox gateway), the provider opens the link on its phone, accepts, reports its
statuses; a link replayed, altered, or for a withdrawn offer shows a clear page and
changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import select

from operations.gateways.models import SentMessage
from operations.models import DispatchMessage, Job, MessageStatus, Offer
from operations.offers import OfferStatus
from registry.enums import Channel
from registry.models import Provider
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import Sessions, dispatch_world, login, new_job
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
LINK = re.compile(r"https?://\S+/l/o/([A-Za-z0-9_.\-]+)")
REPORT_TOKEN = "relatorio-de-entrega-do-provedor"


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("links")
    with running_server(settings, logs, SMS_REPORT_TOKEN=REPORT_TOKEN) as process:
        yield process


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def _sent_link(db: Sessions, offer_id: int) -> str:
    """The token of the offer's link, from the SMS the outbox gateway stored."""
    async with asyncio.timeout(unit(5)):
        while True:
            async with db() as session:
                rows = (
                    await session.execute(select(SentMessage).order_by(SentMessage.id))
                ).scalars()
                for row in rows:
                    found = LINK.search(row.body)
                    if row.kind == "sms" and found:
                        return found.group(1)
            await asyncio.sleep(0.05)


async def _offer(db: Sessions, offer_id: int) -> Offer:
    async with db() as session:
        offer = await session.get(Offer, offer_id)
        assert offer is not None
        return offer


async def test_a_provider_takes_and_runs_a_job_by_link(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1, channels=(Channel.LINK,))
    [pid] = world["p"]
    await login(http)
    job_id = await new_job(http, world)
    made = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "link"}
    )
    assert made.status_code == 201, made.text
    offer_id = made.json()["id"]
    token = await _sent_link(db, offer_id)
    async with db() as session:
        sms = (
            await session.execute(select(SentMessage).where(SentMessage.kind == "sms"))
        ).scalar_one()
        sent = (await session.execute(select(DispatchMessage))).scalars().all()
    assert "Reboque" in sms.body and "98888" not in sms.body  # no requester in the SMS
    assert {(m.kind, m.status) for m in sent} == {
        ("sms", MessageStatus.SENT),
        ("email", MessageStatus.SENT),
    }
    for _ in range(50):
        if (await _offer(db, offer_id)).status is OfferStatus.DELIVERED:
            break
        await asyncio.sleep(0.05)
    assert (await _offer(db, offer_id)).status is OfferStatus.DELIVERED

    page = await http.get(f"/l/o/{token}")
    assert page.status_code == 200 and "Aceitar" in page.text and "Recusar" in page.text
    assert "Sem viatura" in page.text  # the refusal reasons to choose from
    assert "98888" not in page.text  # still nothing personal
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert (await http.get(f"/l/o/{tampered}")).status_code == 404
    bad = await http.post(f"/l/o/{token}/accept", data={"eta_min": "zero"})
    assert bad.status_code == 422 and (await _offer(db, offer_id)).status is OfferStatus.DELIVERED

    accepted = await http.post(f"/l/o/{token}/accept", data={"eta_min": "25"})
    assert accepted.status_code == 303, accepted.text
    next_url = accepted.headers["location"]
    assert next_url != f"/l/o/{token}"
    job_page = await http.get(next_url)
    assert "+5511988887777" in job_page.text and "Estou a caminho" in job_page.text

    replay = await http.post(f"/l/o/{token}/accept", data={"eta_min": "25"})
    assert replay.status_code == 409 and "já foi usado" in replay.text
    assert (await http.get(f"/l/o/{token}")).status_code == 409

    step = await http.post(next_url + "/status", data={"status": "en_route"})
    assert step.status_code == 303
    again = await http.post(next_url + "/status", data={"status": "en_route"})
    assert again.status_code == 409  # each link works once per step
    on_site = await http.post(step.headers["location"] + "/status", data={"status": "on_site"})
    assert on_site.status_code == 303
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.status.value == "on_site" and job.provider_id == pid
    offer = await _offer(db, offer_id)
    assert offer.status is OfferStatus.ACCEPTED and offer.eta_minutes == 25

    report = await http.post(
        "/api/v1/sms/delivery-reports",
        json={"id": "1", "delivered": True},
        headers={"X-Acionar-Token": "wrong"},
    )
    assert report.status_code == 401


async def _delivered_link_offer(db: Sessions, http: httpx.AsyncClient) -> tuple[int, int, str]:
    """A job offered by link to its one provider, the link delivered: (job, offer, token)."""
    world = await dispatch_world(db, 1, channels=(Channel.LINK,))
    [pid] = world["p"]
    await login(http)
    job_id = await new_job(http, world)
    made = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "link"}
    )
    offer_id = made.json()["id"]
    token = await _sent_link(db, offer_id)
    for _ in range(50):  # the link is good once the gateway took it
        if (await _offer(db, offer_id)).status is OfferStatus.DELIVERED:
            break
        await asyncio.sleep(0.05)
    return job_id, offer_id, token


async def test_a_link_to_a_withdrawn_offer_changes_nothing(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    job_id, offer_id, token = await _delivered_link_offer(db, http)
    withdrawn = await http.post(f"/api/v1/offers/{offer_id}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    page = await http.get(f"/l/o/{token}")
    assert page.status_code == 409  # the withdrawal moved the version on
    late = await http.post(f"/l/o/{token}/accept", data={"eta_min": "10"})
    assert late.status_code == 409
    assert (await _offer(db, offer_id)).status is OfferStatus.WITHDRAWN
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.provider_id is None
    assert (await http.get("/l/o/not-a-token")).status_code == 404


async def test_digits_of_other_scripts_get_a_clear_page_and_change_nothing(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    """``'²'.isdigit()`` is True but ``int('²')`` fails: the form was a 500 (issue 12)."""
    job_id, offer_id, token = await _delivered_link_offer(db, http)
    for action, form, title in (
        ("accept", {"eta_min": "²"}, "Previsão inválida"),
        ("accept", {"eta_min": "²⁵"}, "Previsão inválida"),
        ("accept", {"eta_min": "٢٥"}, "Previsão inválida"),  # Arabic-Indic 25
        ("refuse", {"reason_id": "²"}, "Motivo inválido"),
    ):
        answer = await http.post(f"/l/o/{token}/{action}", data=form)
        assert answer.status_code == 422, (form, answer.status_code, answer.text[:200])
        assert title in answer.text and 'lang="pt-BR"' in answer.text
    assert (await _offer(db, offer_id)).status is OfferStatus.DELIVERED
    page = await http.get(f"/l/o/{token}")
    assert page.status_code == 200 and "Aceitar" in page.text  # the link still works
    async with db() as session:
        job = await session.get(Job, job_id)
        assert job is not None and job.provider_id is None


TRACK = re.compile(r"https?://\S+(/l/t/[A-Za-z0-9_.\-]+)")


async def _tracking_sms(db: Sessions, already: int = 0) -> tuple[str, str]:
    """The text and path of the newest tracking SMS, once there are more than
    ``already``."""
    async with asyncio.timeout(unit(5)):
        while True:
            async with db() as session:
                rows = (
                    await session.execute(select(SentMessage).order_by(SentMessage.id))
                ).scalars()
                found = [(r.body, m.group(1)) for r in rows if (m := TRACK.search(r.body))]
            if len(found) > already:
                return found[-1]
            await asyncio.sleep(0.05)


async def test_the_requester_follows_the_provider_and_the_operator_can_revoke(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1)
    [pid] = world["p"]
    async with db() as session, session.begin():
        provider = await session.get(Provider, pid)
        assert provider is not None
        provider.vehicle_plate = "GUI1N00"
    await login(http)
    job_id = await new_job(http, world)
    made = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": pid, "channel": "verbal"}
    )
    assert made.status_code == 201, made.text
    moved = await http.post(f"/api/v1/jobs/{job_id}/status", json={"to": "en_route"})
    assert moved.status_code == 200, moved.text
    text, path = await _tracking_sms(db)
    assert "Guincho está a caminho" in text
    assert "Ana" not in text and "98888" not in text  # nothing personal
    page = await http.get(path)
    assert page.status_code == 200, page.text
    assert "Guincho" in page.text and "GUI1N00" in page.text and "98888" not in page.text
    state = (await http.get(path + "/state")).json()
    assert (state["status"], state["arrived"], state["provider"]) == ("en_route", False, "Guincho")

    again = await http.post(f"/api/v1/jobs/{job_id}/tracking")
    assert again.status_code == 200 and again.json()["sent"]
    _, fresh = await _tracking_sms(db, already=1)
    assert (await http.get(path)).status_code == 404  # superseded
    assert (await http.get(fresh)).status_code == 200
    revoked = await http.post(f"/api/v1/jobs/{job_id}/tracking/revoke")
    assert revoked.status_code == 200
    gone = await http.get(fresh)
    assert gone.status_code == 410 and "terminou" in gone.text
    assert (await http.get(fresh + "/state")).status_code == 410
    assert (await http.get("/l/t/nope")).status_code == 404
