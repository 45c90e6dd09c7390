"""The city scenario against a real server, end to end through the API: its calls
become incidents and tows at their times, automatic dispatch takes them, and their
outcomes are read back. Here no provider is near, so every job ends untaken: what
the scenario reports then is checked (the fleet that answers is tested with the
simulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from clients.city_scenario.calls import calls
from clients.city_scenario.scenario import ScenarioConfig, run_once
from operations.models import DispatchSettings, Incident, Job
from registry import models as m
from registry.enums import PersonKind
from registry.validation import make_cpf
from server.settings import Settings
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
FAST = {"AUTO_DISPATCH_POLL_S": "0.1", "OFFER_SWEEP_S": "0.2", "OUTBOX_POLL_S": "0.2"}


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(settings, tmp_path_factory.mktemp("city"), **FAST) as process:
        yield process


async def test_calls_become_jobs_and_their_outcomes_are_reported(
    server: ServerProcess, db: Sessions
) -> None:
    world = await dispatch_world(db, 0)
    async with db() as session, session.begin():
        session.add_all(
            m.Beneficiary(
                client_id=world["client"],
                person_kind=PersonKind.PF,
                document=make_cpf(100_000_000 + n),
                name=f"Cliente {n}",
            )
            for n in range(3)
        )
        session.add(DispatchSettings(client_id=None, radius_steps_km=[5], max_attempts=1))
    config = ScenarioConfig(
        base_url=server.url,
        login="admin",
        password=PASSWORD,
        client_id=world["client"],
        rate_per_min=60.0,
        duration_s=4.0,
        seed=3,
        drain_s=30.0,
    )
    seen: list[tuple[int, int]] = []
    summary = await run_once(config, None, lambda done, total, what: seen.append((done, total)))
    planned = len(calls(60.0, 4.0, 3, 3))
    assert planned > 0 and summary.jobs == planned
    assert summary.not_taken == planned and summary.completed == 0
    assert summary.accept_p50_s is None and summary.attempts_mean == 0
    assert seen[-1] == (planned, planned)
    async with db() as session:
        statuses = (await session.scalars(select(Job.status))).all()
        assert len(statuses) == planned and {s.value for s in statuses} == {"attempts_exceeded"}
        client = await session.get(m.Client, world["client"])
        assert client is not None and client.ranking_weights is None  # put back as it was
        assert await session.scalar(select(func.count()).select_from(Incident)) == planned
