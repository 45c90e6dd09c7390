"""Bad input on the dispatch endpoints and pages: a clear 4xx in pt-BR, never a
500, and nothing changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from operations.gateways import ItsdangerousLinkSigner, LinkPurpose, SystemClock
from operations.models import Offer
from server.settings import Settings
from tests.e2e.dispatch_support import Sessions, dispatch_world, login, new_job
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
SECRET = "segredo-de-teste-dos-links-de-oferta-0123456789"
BIG = 2**31


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("dispatch-input")
    with running_server(settings, logs, LINK_SECRET_KEY=SECRET) as process:
        yield process


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def test_bad_requests_get_clear_answers_and_change_nothing(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1)
    [pid] = world["p"]
    await login(http)
    job_id = await new_job(http, world)
    cases: list[tuple[str, str, object, int]] = [
        ("POST", f"/api/v1/jobs/{job_id}/offers", {"provider_id": pid, "channel": "fax"}, 422),
        ("POST", f"/api/v1/jobs/{job_id}/offers", {"provider_id": BIG, "channel": "app"}, 422),
        ("POST", f"/api/v1/jobs/{job_id}/offers", {"provider_id": 999, "channel": "verbal"}, 422),
        ("POST", f"/api/v1/jobs/{job_id}/offers", {"provider_id": pid}, 422),
        ("POST", f"/api/v1/jobs/{job_id}/offers", [1, 2], 422),
        (
            "POST",
            f"/api/v1/jobs/{job_id}/offers",
            {"provider_id": pid, "channel": "verbal", "eta_minutes": 0},
            422,
        ),
        ("POST", "/api/v1/jobs/999999/offers", {"provider_id": pid, "channel": "verbal"}, 404),
        ("POST", f"/api/v1/jobs/{job_id}/offers", {"provider_id": pid, "channel": "app"}, 409),
        ("GET", f"/api/v1/jobs/{job_id}/candidates?radius_km=0", None, 422),
        ("GET", f"/api/v1/jobs/{job_id}/candidates?limit=100000", None, 422),
        ("GET", "/api/v1/jobs/999999/candidates", None, 404),
        ("POST", "/api/v1/offers/999999/withdraw", None, 404),
        ("POST", "/api/v1/offers/999999/refuse", {"reason_id": 1}, 404),
        ("POST", "/api/v1/offers/1/refuse", {"reason_id": "x"}, 422),
        ("GET", "/api/v1/offers/999999", None, 404),
        ("PUT", "/api/v1/dispatch-settings", {"offer_timeout_s": 1}, 422),
        ("PUT", "/api/v1/dispatch-settings", {"radius_steps_km": [40, 10]}, 422),
        ("PUT", "/api/v1/dispatch-settings", {"channels": ["verbal"]}, 422),
        ("PUT", "/api/v1/clients/999999/dispatch-settings", {}, 404),
        ("POST", "/api/v1/jobs/999999/auto-dispatch", None, 404),
        ("DELETE", f"/api/v1/jobs/{job_id}/auto-dispatch", None, 404),
        ("GET", "/api/v1/jobs/999999/arrival", None, 404),
        ("GET", "/api/v1/providers/999999/scorecard", None, 404),
        ("POST", f"/api/v1/jobs/{job_id}/tracking", None, 409),
        ("POST", f"/api/v1/jobs/{job_id}/tracking/revoke", None, 404),
        ("POST", "/api/v1/sms/delivery-reports", {"id": "1", "delivered": True}, 401),
    ]
    for method, path, body, status in cases:
        answer = await http.request(method, path, json=body)
        assert answer.status_code == status, (method, path, body, answer.text)
        error = answer.json()["error"]
        assert error["code"] and error["message"], (path, error)
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Offer)) == 0


async def test_an_expired_or_foreign_link_shows_a_clear_page(
    server: ServerProcess, db: Sessions, http: httpx.AsyncClient
) -> None:
    world = await dispatch_world(db, 1)
    await login(http)
    job_id = await new_job(http, world)
    made = await http.post(
        f"/api/v1/jobs/{job_id}/offers", json={"provider_id": world["p"][0], "channel": "verbal"}
    )
    offer_id = made.json()["id"]
    signer = ItsdangerousLinkSigner(SECRET, SystemClock())
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    token = signer.sign(LinkPurpose.OFFER, offer_id, soon, (world["p"][0], 2))
    await asyncio.sleep(2.0)
    expired = await http.get(f"/l/o/{token}")
    assert expired.status_code == 410 and "expirou" in expired.text
    late = await http.post(f"/l/o/{token}/accept", data={"eta_min": "5"})
    assert late.status_code == 410
    later = datetime.now(UTC) + timedelta(hours=1)
    other = signer.sign(LinkPurpose.OFFER, offer_id, later, (world["p"][0] + 1, 1))
    assert (await http.get(f"/l/o/{other}")).status_code == 404  # not its provider's
    tracking = signer.sign(LinkPurpose.TRACKING, job_id, later, (1,))
    assert (await http.get(f"/l/o/{tracking}")).status_code == 404  # another purpose
    for junk in ("%00", "a" * 500, "..%2F..%2Fetc"):
        assert (await http.get(f"/l/o/{junk}")).status_code == 404
    assert (await http.post(f"/l/o/{token}/accept", content=b"x" * 5000)).status_code in (400, 410)
