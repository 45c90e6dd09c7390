"""``late`` in the API's answers is computed against the Operations clock (the
``Clock`` seam), so a test moves time instead of sleeping past a due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from operations.gateways import ManualClock
from registry import models as m
from registry.enums import ServiceTarget
from tests.server.api.conftest import Login, World

Sessions = async_sessionmaker[AsyncSession]


async def test_late_follows_the_operations_clock(
    app: Starlette, login: Login, world: World, db: Sessions
) -> None:
    async with db() as session, session.begin():
        kind = m.IncidentType(name="Porta travada")
        locksmith = m.ServiceType(code="chaveiro", name="Chaveiro", target=ServiceTarget.HOME)
        session.add_all([kind, locksmith])
    clock = ManualClock(datetime.now(UTC))
    app.state.live.operations.clock = clock
    operator = await login("operacao")
    body = {"client_id": world.client_id, "incident_type_id": kind.id}
    incident = (await operator.post("/api/v1/incidents", json=body)).json()["id"]
    job = {
        "service_type_id": locksmith.id,
        "ad_hoc": True,
        "requester": {"name": "Ana", "phone": "11 98888-7777"},
        "origin": {"lat": -23.55, "lng": -46.63, "street": "Rua A"},
    }
    created = await operator.post(f"/api/v1/incidents/{incident}/jobs", json=job)
    assert created.status_code == 201, created.text
    assert created.json()["late"] == []
    job_id = created.json()["id"]
    dispatch_due = datetime.fromisoformat(created.json()["dispatch_due_at"])

    clock.set(dispatch_due + timedelta(seconds=1))  # the wall clock has not moved
    assert (await operator.get(f"/api/v1/jobs/{job_id}")).json()["late"] == ["dispatch"]
    listed = (await operator.get("/api/v1/jobs", params={"incident_id": incident})).json()
    assert [j["late"] for j in listed["items"]] == [["dispatch"]]
    shown = (await operator.get(f"/api/v1/incidents/{incident}")).json()
    assert [j["late"] for j in shown["jobs"]] == [["dispatch"]]

    clock.set(dispatch_due - timedelta(seconds=1))
    assert (await operator.get(f"/api/v1/jobs/{job_id}")).json()["late"] == []
