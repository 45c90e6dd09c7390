"""Exactly one winner, under fire: 200 providers accept the same job at once through
app sockets, signed links and portal pages, spread over two server nodes, 100 times
over. Every time one provider gets the job and every other one is refused."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, insert, select
from websockets.asyncio.client import ClientConnection, connect

from geo.addresses import Address, AddressSource
from operations import jobs, service
from operations.gateways import ItsdangerousLinkSigner, LinkPurpose, SystemClock
from operations.incidents import IncidentDraft
from operations.jobs import JobDraft
from operations.lifecycle import JobActor, JobKind, JobStatus
from operations.models import Job, Offer
from operations.offers import OfferStatus
from operations.places import PlaceRequest
from operations.service import Operations, Policy
from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import Channel, PersonKind, ServiceTarget, UserKind
from registry.permissions import PROVIDER_PORTAL, ROLE_PERMISSIONS
from registry.points import Point
from registry.validation import make_cnpj
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import Sessions, app_socket, next_frame
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow
ROUNDS = int(os.environ.get("ACIONAR_RACE_ROUNDS", "100"))
PROVIDERS = 200
LINKS = 40  # providers answering by signed link
PORTAL = 20  # by the web portal; the rest by the app
SECRET = "segredo-dos-links-do-teste-de-corrida-0123456789"
PASSWORD = "senha-do-portal"
OPERATOR = JobActor.operator(None)


@pytest.fixture(scope="module")
def nodes(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    logs = tmp_path_factory.mktemp("race")
    env = {"LINK_SECRET_KEY": SECRET, "DB_POOL_SIZE": "20"}
    with running_server(settings, logs, **env) as a, running_server(settings, logs, **env) as b:
        yield a, b


async def _world(db: Sessions) -> dict[str, Any]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        portal = m.Role(name=PROVIDER_PORTAL, permissions=sorted(ROLE_PERMISSIONS[PROVIDER_PORTAL]))
        client = m.Client(cnpj=make_cnpj(71), trade_name="Seguradora", legal_name="Seg SA")
        kind = m.IncidentType(name="Pane")
        tow = m.ServiceType(code="reboque", name="Reboque", target=ServiceTarget.VEHICLE)
        reason = m.CancellationReason(name="Teste")
        session.add_all([portal, client, kind, tow, reason])
        await session.flush()
        providers = []
        for i in range(PROVIDERS):
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(1000 + i),
                name=f"Corrida {i}",
                phone="+5511912345678",
                base_location="SRID=4326;POINT(-46.63 -23.55)",
                base_h3=point_cell(-23.55, -46.63),
                channels=[Channel.APP, Channel.WEB, Channel.LINK],
                max_active_jobs=20,
            )
            session.add(provider)
            providers.append(provider)
        await session.flush()
        for i, provider in enumerate(providers):
            session.add(
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=tow.id,
                    departure_fee=Decimal(100),
                    price_per_km=Decimal(3),
                )
            )
            if i < PORTAL:
                session.add(
                    m.User(
                        login=f"p{i}",
                        name=f"P{i}",
                        password_hash=cheap,
                        role_id=portal.id,
                        kind=UserKind.PROVIDER,
                        provider_id=provider.id,
                    )
                )
            elif i >= PORTAL + LINKS:
                session.add(
                    m.DeviceToken(
                        provider_id=provider.id, name="app", token_hash=token_digest(f"r{i}")
                    )
                )
    return {
        "client": client.id,
        "kind": kind.id,
        "tow": tow.id,
        "reason": reason.id,
        "providers": [p.id for p in providers],
    }


async def _portal(node: ServerProcess, i: int) -> ClientConnection:
    async with httpx.AsyncClient(base_url=node.url) as http:
        answer = await http.post(
            "/api/v1/auth/login", json={"login": f"p{i}", "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws = await connect(
        f"ws://127.0.0.1:{node.port}/ws/portal",
        additional_headers={"Origin": node.url, "Cookie": cookie},
        open_timeout=unit(10),
        max_queue=None,
    )
    await next_frame(ws, "welcome")
    return ws


async def _job(ops: Operations, world: dict[str, Any]) -> int:
    place = PlaceRequest(Address(AddressSource.MANUAL, street="Rua A", point=Point(-23.56, -46.64)))
    async with ops.unit() as uow:
        draft = IncidentDraft(world["client"], world["kind"])
        incident = await service.open_incident(uow, draft, OPERATOR)
        job = await service.register_job(
            uow,
            incident.id,
            JobDraft(JobKind.ASSISTANCE, "Ana", "+5511988887777", world["tow"], ad_hoc=True),
            OPERATOR,
            origin=place,
        )
        moved = await jobs.move_job(
            uow.session, job.id, JobStatus.DISPATCHING, now=uow.now, actor=OPERATOR
        )
        return moved.job.id


async def _offers(db: Sessions, job_id: int, world: dict[str, Any]) -> dict[int, int]:
    """One delivered offer of the job to every provider; provider → offer id."""
    now = datetime.now(UTC)
    rows = []
    for i, pid in enumerate(world["providers"]):
        channel = Channel.WEB if i < PORTAL else Channel.LINK if i < PORTAL + LINKS else Channel.APP
        rows.append(
            {
                "job_id": job_id,
                "provider_id": pid,
                "channel": channel,
                "status": OfferStatus.DELIVERED,
                "version": 1,
                "created_at": now,
                "delivered_at": now,
                "expires_at": now + timedelta(minutes=5),
            }
        )
    async with db() as session, session.begin():
        result = await session.execute(insert(Offer).returning(Offer.provider_id, Offer.id), rows)
        return {pid: oid for pid, oid in result.all()}


async def test_two_hundred_providers_one_winner_every_time(
    nodes: tuple[ServerProcess, ServerProcess], db: Sessions
) -> None:
    world = await _world(db)
    providers: list[int] = world["providers"]
    ops = Operations(db, clock=SystemClock(), policy=Policy())
    signer = ItsdangerousLinkSigner(SECRET, SystemClock())
    sockets: dict[int, ClientConnection] = {}
    for i, pid in enumerate(providers):
        node = nodes[i % 2]
        if i < PORTAL:
            sockets[pid] = await _portal(node, i)
        elif i >= PORTAL + LINKS:
            sockets[pid] = await app_socket(node.port, f"r{i}")
    links = [(providers[i], nodes[i % 2]) for i in range(PORTAL, PORTAL + LINKS)]
    async with httpx.AsyncClient(timeout=unit(30)) as http:

        async def by_socket(pid: int, offer_id: int, seq: int) -> bool:
            ws = sockets[pid]
            await ws.send(
                orjson.dumps(
                    {"type": "offer.accept", "seq": seq, "offer_id": offer_id, "eta_min": 9}
                )
            )
            result = await next_frame(ws, "result", seq)
            code = str(result["code"])
            assert code in ("accepted", "taken"), result
            return code == "accepted"

        async def by_link(pid: int, node: ServerProcess, offer_id: int) -> bool:
            expires = datetime.now(UTC) + timedelta(hours=1)
            token = signer.sign(LinkPurpose.OFFER, offer_id, expires, (pid, 1))
            answer = await http.post(f"{node.url}/l/o/{token}/accept", data={"eta_min": "9"})
            assert answer.status_code in (303, 409), answer.text
            return answer.status_code == 303

        for round_ in range(1, ROUNDS + 1):
            job_id = await _job(ops, world)
            offers = await _offers(db, job_id, world)
            results = await asyncio.gather(
                *(by_socket(pid, offers[pid], round_) for pid in sockets),
                *(by_link(pid, node, offers[pid]) for pid, node in links),
            )
            assert sum(results) == 1, f"round {round_}: {sum(results)} winners"
            async with db() as session:
                accepted = await session.scalar(
                    select(func.count()).where(
                        Offer.job_id == job_id, Offer.status == OfferStatus.ACCEPTED
                    )
                )
                job = await session.get(Job, job_id)
            assert accepted == 1 and job is not None and job.status is JobStatus.ASSIGNED
            async with ops.unit() as uow:
                await service.cancel_job(uow, job_id, world["reason"], OPERATOR)
    for ws in sockets.values():
        await ws.close()
