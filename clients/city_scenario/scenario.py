"""Run a city scenario against a server, through its HTTP API only.

One run: sign in as a user who may edit clients and dispatch (the demo's admin);
set the client's ranking (its configured weights, or the nearest provider only) and
turn automatic dispatch on; open the scenario's calls at their times (an incident
and a tow for each, as an operator would: within the plan, or as a chargeable
serviço avulso when the plan refuses); wait until every job has ended or
``drain_s`` has passed; read each job and its offers and summarise
(:mod:`.outcomes`). Providers must be answering meanwhile: ``acionar sim
providers`` (or the demo fleet of ``make run``).

The client's ranking weights are put back as they were at the end of a run.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from clients.city_scenario.calls import Call, calls
from clients.city_scenario.outcomes import JobOutcome, Summary, job_outcome, summarise

# every factor of geo.ranking.FACTORS but distance weighs nothing
NEAREST_ONLY: dict[str, float] = {
    "distance": 100,
    "on_time_rate": 0,
    "acceptance_rate": 0,
    "preference": 0,
    "partnership": 0,
    "price": 0,
}
ENDED = frozenset({"completed", "closed", "cancelled", "attempts_exceeded"})
POLL_S = 2.0
REQUEST_TIMEOUT_S = 30.0
MAX_CALLERS = 500  # beneficiaries the calls are spread over


class ScenarioError(Exception):
    """The scenario could not run (the server refused, no beneficiaries...)."""


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    base_url: str
    login: str
    password: str
    client_id: int | None  # None: the first client with beneficiaries
    rate_per_min: float = 2.0
    duration_s: float = 600.0
    seed: int = 1
    drain_s: float = 900.0  # after the last call, how long jobs may take to end
    service_code: str = "reboque_leve"  # the demo's light tow


Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, what: str) -> None:
    """Say nothing (the demo's stream of calls runs beside the server)."""


def text_progress(done: int, total: int, what: str) -> None:
    """A progress bar on standard error."""
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {what:<28}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


class Api:
    """The few calls a scenario makes, signed in with a session and its CSRF token."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def sign_in(self, login: str, password: str) -> None:
        answer = await self.http.post(
            "/api/v1/auth/login", json={"login": login, "password": password}
        )
        self._check(answer, 200)
        self.http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]

    async def get(self, path: str, **params: Any) -> Any:
        answer = await self.http.get(path, params=params)
        return self._check(answer, 200)

    async def send(self, method: str, path: str, body: Any, ok: int = 200) -> Any:
        answer = await self.http.request(method, path, json=body)
        return self._check(answer, ok)

    @staticmethod
    def _check(answer: httpx.Response, ok: int) -> Any:
        if answer.status_code != ok:
            raise ScenarioError(
                f"{answer.request.method} {answer.request.url.path}: "
                f"{answer.status_code} {answer.text[:300]}"
            )
        return answer.json() if answer.content else None


@dataclass(frozen=True, slots=True)
class _World:
    callers: list[dict[str, Any]]
    incident_type_id: int
    service_type_id: int


async def client_with_callers(api: Api) -> int:
    """The first client (by id) that has beneficiaries."""
    clients = await api.get("/api/v1/clients", sort="id", page_size=500)
    for client in clients["items"]:
        people = await api.get("/api/v1/beneficiaries", client_id=client["id"], page_size=1)
        if people["total"]:
            return int(client["id"])
    raise ScenarioError("no client has beneficiaries (load the demo: acionar seed-demo)")


async def _world(api: Api, client_id: int, config: ScenarioConfig) -> _World:
    people = await api.get("/api/v1/beneficiaries", client_id=client_id, page_size=MAX_CALLERS)
    services = await api.get("/api/v1/service_types", code=config.service_code)
    kinds = await api.get("/api/v1/incident_types", active=True, page_size=1)
    if not people["items"] or not services["items"] or not kinds["items"]:
        raise ScenarioError(
            f"client {client_id} needs beneficiaries, a service "
            f"'{config.service_code}' and an incident type (load the demo: acionar seed-demo)"
        )
    return _World(people["items"], kinds["items"][0]["id"], services["items"][0]["id"])


async def _open_call(api: Api, client_id: int, world: _World, call: Call) -> int:
    caller = world.callers[call.caller % len(world.callers)]
    incident = await api.send(
        "POST",
        "/api/v1/incidents",
        {
            "client_id": client_id,
            "incident_type_id": world.incident_type_id,
            "beneficiary_id": caller["id"],
        },
        ok=201,
    )
    lat, lng = call.origin
    to_lat, to_lng = call.destination
    job = {
        "service_type_id": world.service_type_id,
        "requester": {"name": caller["name"][:120], "phone": "(11) 98765-4321"},
        "notes_for_provider": f"Cenário da cidade: {call.place}",
        "origin": {"lat": lat, "lng": lng},
        "destination": {"lat": to_lat, "lng": to_lng},
    }
    path = f"/api/v1/incidents/{incident['id']}/jobs"
    answer = await api.http.post(path, json=job)
    if answer.status_code == 409:  # the plan refuses it: a serviço avulso, as operators do
        answer = await api.http.post(path, json={**job, "ad_hoc": True})
    return int(Api._check(answer, 201)["id"])


async def _ended(api: Api, job_ids: Sequence[int]) -> int:
    ended = 0
    for job_id in job_ids:
        job = await api.get(f"/api/v1/jobs/{job_id}")
        ended += job["status"] in ENDED
    return ended


async def _outcomes(api: Api, job_ids: Sequence[int]) -> list[JobOutcome]:
    found = []
    for job_id in job_ids:
        job = await api.get(f"/api/v1/jobs/{job_id}")
        offers = await api.get(f"/api/v1/jobs/{job_id}/offers")
        found.append(job_outcome(job, offers))
    return found


async def run_once(
    config: ScenarioConfig,
    ranking: dict[str, float] | None,
    progress: Progress = text_progress,
) -> Summary:
    """One run of the scenario with ``ranking`` as the client's weights (None: those
    it has); its summary."""
    async with httpx.AsyncClient(base_url=config.base_url, timeout=REQUEST_TIMEOUT_S) as http:
        api = Api(http)
        await api.sign_in(config.login, config.password)
        client_id = config.client_id or await client_with_callers(api)
        client = f"/api/v1/clients/{client_id}"
        kept = (await api.get(client)).get("ranking_weights")
        if ranking is not None:
            await api.send("PATCH", client, {"ranking_weights": ranking})
        await api.send("PUT", f"{client}/dispatch-settings", {"auto_enabled": True})
        try:
            return await _play(api, client_id, config, progress)
        finally:
            await api.send("PATCH", client, {"ranking_weights": kept})


async def _play(api: Api, client_id: int, config: ScenarioConfig, progress: Progress) -> Summary:
    world = await _world(api, client_id, config)
    planned = calls(config.rate_per_min, config.duration_s, len(world.callers), config.seed)
    started = time.monotonic()
    job_ids: list[int] = []
    for call in planned:
        await asyncio.sleep(max(0.0, call.at_s - (time.monotonic() - started)))
        job_ids.append(await _open_call(api, client_id, world, call))
        progress(len(job_ids), len(planned), f"chamadas ({call.place})")
    deadline = time.monotonic() + config.drain_s
    while (ended := await _ended(api, job_ids)) < len(job_ids):
        progress(ended, len(job_ids), "atendimentos encerrados")
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(POLL_S)
    progress(len(job_ids), len(job_ids), "atendimentos encerrados")
    return summarise(await _outcomes(api, job_ids))


async def compare(
    config: ScenarioConfig, progress: Progress = text_progress
) -> list[tuple[str, Summary]]:
    """The same seed twice: the configured ranking, then the nearest provider only."""
    configured = await run_once(config, None, progress)
    nearest = await run_once(config, NEAREST_ONLY, progress)
    return [("configured ranking", configured), ("nearest provider only", nearest)]
