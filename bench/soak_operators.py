"""The soak benchmark's operators (bench/bench_soak.py): the world they work in and
their HTTP sessions.

:func:`seed_world` adds the operators (users of the Operação role) and the
beneficiaries they search to the dispatch benchmark's world; each :class:`Operator`
signs in once, then after each think time (:data:`THINK_S`) does one of: list the
open jobs, read a job and its offers, search a beneficiary, the candidates of a job,
or the next step of its own job (register an incident with a job, offer the job by
app to one of its first candidates, cancel it). :class:`Tally` counts what their
requests met: latencies by route (:data:`ROUTES`) while recording, failures always.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from argon2 import PasswordHasher

from bench.bench_dispatch import PASSWORD
from bench.bench_ingest import CENTRE, _dsn
from registry.permissions import OPERATIONS as OPERATOR_ROLE
from registry.permissions import ROLE_PERMISSIONS
from registry.validation import make_cpf
from server.settings import Settings

THINK_S = (0.5, 1.5)
"""An operator's pause between two actions: uniform in this range (about 1 s)."""

REQUEST_TIMEOUT_S = 30.0
JOB_SPREAD_DEG = 0.08
"""Operators' jobs are registered within this of the centre (about 9 km), so that
their first candidates differ."""

OFFER_AMONG = 5
"""An operator offers its job to one of this many first candidates reachable by app."""

SEED = 20_260_501

LIST_JOBS = "GET /jobs?status=open,dispatching"
GET_JOB = "GET /jobs/{id}"
JOB_OFFERS = "GET /jobs/{id}/offers"
SEARCH = "GET /search?q="
CANDIDATES = "GET /jobs/{id}/candidates"
OPEN_INCIDENT = "POST /incidents"
REGISTER_JOB = "POST /incidents/{id}/jobs"
MAKE_OFFER = "POST /jobs/{id}/offers"
CANCEL_JOB = "POST /jobs/{id}/cancel"
ROUTES = (LIST_JOBS, GET_JOB, JOB_OFFERS, SEARCH, CANDIDATES, REGISTER_JOB, MAKE_OFFER, CANCEL_JOB)
"""The routes with a figure of their own (every route counts in "all routes")."""

FIRST_NAMES = (
    "Maria", "José", "Ana", "João", "Antônio", "Francisca", "Carlos", "Paulo",
    "Lúcia", "Pedro", "Juliana", "Marcos", "Fernanda", "Luís", "Beatriz", "Rafael",
)  # fmt: skip
SURNAMES = (
    "da Silva", "dos Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves",
    "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Araújo",
)  # fmt: skip


# --- the world -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    """What the operators work with."""

    client: int
    kind: int
    tow: int
    reason: int
    logins: tuple[str, ...]
    queries: tuple[str, ...]


def _beneficiaries(count: int) -> tuple[list[str], list[str], list[str]]:
    """Names, CPFs and search queries (a name's start, a CPF's first digits)."""
    rng = random.Random(SEED)
    names, documents, queries = [], [], []
    for i in range(count):
        first, middle, last = rng.choice(FIRST_NAMES), *rng.sample(SURNAMES, 2)
        names.append(f"{first} {middle} {last}")
        documents.append(make_cpf(100_000_000 + i * 7_919 % 900_000_000))
        if i % 100 == 0:
            queries.append(f"{first.lower()} {last.split()[-1][:3].lower()}")
            queries.append(documents[-1][:6])
    return names, documents, queries


async def seed_world(
    settings: Settings,
    database: str,
    world: dict[str, int],
    *,
    operators: int,
    beneficiaries: int,
) -> World:
    """``operators`` users of the Operação role and ``beneficiaries`` of the
    dispatch benchmark's world's client, in ``database``."""
    logins = tuple(f"op-{i:02d}" for i in range(operators))
    names, documents, queries = _beneficiaries(beneficiaries)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    conn = await asyncpg.connect(_dsn(settings, database))
    try:
        role = await conn.fetchval(
            "INSERT INTO roles (name, permissions) VALUES ($1, $2) RETURNING id",
            OPERATOR_ROLE,
            sorted(ROLE_PERMISSIONS[OPERATOR_ROLE]),
        )
        await conn.execute(
            "INSERT INTO users (login, name, password_hash, role_id) "
            "SELECT l, l, $2, $3 FROM unnest($1::text[]) AS t(l)",
            list(logins),
            cheap,
            role,
        )
        await conn.execute(
            "INSERT INTO beneficiaries (client_id, person_kind, document, name) "
            "SELECT $1, 'pf', d, n FROM unnest($2::text[], $3::text[]) AS t(d, n)",
            world["client"],
            documents,
            names,
        )
        reason = await conn.fetchval("SELECT min(id) FROM cancellation_reasons")
    finally:
        await conn.close()
    return World(world["client"], world["kind"], world["tow"], reason, logins, tuple(queries))


# --- operators -----------------------------------------------------------------------


@dataclass
class Tally:
    """What the operators' requests met: latencies (ms, by route) while
    ``recording``; failures always.

    Attributes:
        server_errors: 5xx answers, by "route status".
        transport_errors: requests without an answer, by exception class.
        client_errors: unexpected 4xx answers, by "route status".
        requests: every request sent, whole run.
    """

    recording: bool = False
    ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    server_errors: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    client_errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    async def call(
        self, http: httpx.AsyncClient, method: str, route: str, url: str, **kwargs: Any
    ) -> Any:
        """The answer's JSON, or ``None`` when it failed (counted)."""
        self.requests += 1
        started = time.perf_counter()
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self.transport_errors[type(exc).__name__] += 1
            return None
        if self.recording:
            self.ms[route].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            self.server_errors[f"{route} {response.status_code}"] += 1
        elif response.status_code >= 400:
            self.client_errors[f"{route} {response.status_code}"] += 1
            print(f"[bench] soak: {route}: {response.status_code} {response.text[:200]}")
        else:
            return response.json()
        return None

    @property
    def failures(self) -> int:
        return sum(self.server_errors.values()) + sum(self.transport_errors.values())

    def all_ms(self) -> list[float]:
        return [ms for values in self.ms.values() for ms in values]


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


@dataclass
class Operator:
    """One operator's session: signs in, then acts after each think time.

    Its own job goes through three steps, one per turn: registered (with its
    incident), offered by app to one of its first candidates, cancelled.
    """

    login: str
    http: httpx.AsyncClient
    tally: Tally
    world: World
    rng: random.Random
    jobs: list[int] = field(default_factory=list)
    own: int | None = None
    offered: bool = False

    async def run(self, stop: asyncio.Event) -> None:
        await self._sign_in()
        await pause(stop, self.rng.uniform(0.0, THINK_S[1]))
        await self._list()
        actions = (self._list, self._read, self._search, self._candidates, self._own_job)
        weights = (30, 25, 20, 15, 10)
        while not stop.is_set():
            await self.rng.choices(actions, weights)[0]()
            await pause(stop, self.rng.uniform(*THINK_S))

    async def _sign_in(self) -> None:
        body = {"login": self.login, "password": PASSWORD}
        me = await self.tally.call(self.http, "POST", "POST /auth/login", "/auth/login", json=body)
        if me is None:
            raise RuntimeError(f"{self.login} could not sign in")
        self.http.headers["X-CSRF-Token"] = me["csrf_token"]

    async def _list(self) -> None:
        url = "/jobs?status=open,dispatching&kind=assistance&order=oldest&page_size=100"
        page = await self.tally.call(self.http, "GET", LIST_JOBS, url)
        if page and page["items"]:
            self.jobs = [job["id"] for job in page["items"]]

    def _some_job(self) -> int | None:
        return self.rng.choice(self.jobs) if self.jobs else None

    async def _read(self) -> None:
        job = self._some_job()
        if job is not None:
            await self.tally.call(self.http, "GET", GET_JOB, f"/jobs/{job}")
            await self.tally.call(self.http, "GET", JOB_OFFERS, f"/jobs/{job}/offers")

    async def _search(self) -> None:
        query = self.rng.choice(self.world.queries)
        await self.tally.call(self.http, "GET", SEARCH, "/search", params={"q": query})

    async def _candidates(self, job: int | None = None) -> list[dict[str, Any]]:
        job = job or self._some_job()
        if job is None:
            return []
        found = await self.tally.call(self.http, "GET", CANDIDATES, f"/jobs/{job}/candidates")
        return list(found["candidates"]) if found else []

    async def _own_job(self) -> None:
        if self.own is None:
            self.own = await self._register()
        elif not self.offered:
            await self._offer(self.own)
            self.offered = True
        else:
            body = {"cancellation_reason_id": self.world.reason}
            await self.tally.call(
                self.http, "POST", CANCEL_JOB, f"/jobs/{self.own}/cancel", json=body
            )
            self.own, self.offered = None, False

    async def _register(self) -> int | None:
        return await register_job(self.http, self.tally, self.world, self.rng)

    async def _offer(self, job: int) -> None:
        reachable = [c for c in await self._candidates(job) if "app" in c["channels_now"]]
        if reachable:
            provider = self.rng.choice(reachable[:OFFER_AMONG])["provider_id"]
            body = {"provider_id": provider, "channel": "app"}
            await self.tally.call(self.http, "POST", MAKE_OFFER, f"/jobs/{job}/offers", json=body)


async def register_job(
    http: httpx.AsyncClient, tally: Tally, world: World, rng: random.Random
) -> int | None:
    """An incident with one ad hoc tow somewhere near the centre; the job's id."""
    body = {"client_id": world.client, "incident_type_id": world.kind}
    incident = await tally.call(http, "POST", OPEN_INCIDENT, "/incidents", json=body)
    if incident is None:
        return None
    spread = JOB_SPREAD_DEG
    job = await tally.call(
        http,
        "POST",
        REGISTER_JOB,
        f"/incidents/{incident['id']}/jobs",
        json={
            "service_type_id": world.tow,
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {
                "lat": CENTRE[0] + rng.uniform(-spread, spread),
                "lng": CENTRE[1] + rng.uniform(-spread, spread),
                "street": "Rua A",
            },
        },
    )
    return None if job is None else int(job["id"])


def _client(port: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=REQUEST_TIMEOUT_S)


async def operate(port: int, index: int, tally: Tally, world: World, stop: asyncio.Event) -> None:
    """The ``index``-th operator's session against the server on ``port``, until
    ``stop``."""
    async with _client(port) as http:
        rng = random.Random(SEED + index)
        await Operator(world.logins[index], http, tally, world, rng).run(stop)


async def seed_jobs(port: int, world: World, count: int) -> None:
    """``count`` jobs waiting for a provider (registered by the bench's admin)."""
    tally = Tally()
    async with _client(port) as http:
        login = await http.post("/auth/login", json={"login": "bench", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        rng = random.Random(SEED)
        for _ in range(count):
            if await register_job(http, tally, world, rng) is None:
                raise RuntimeError("could not register the waiting jobs")
