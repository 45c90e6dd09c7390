"""A dispatch world for end-to-end tests: an admin, a client, a tow service with a
refusal reason, providers with price tables and device tokens; an operator's
session and a job to dispatch."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from registry import models as m
from registry.cells import point_cell
from registry.devices import token_digest
from registry.enums import Channel, PersonKind, ServiceTarget, UserKind
from registry.permissions import ADMIN, PROVIDER_PORTAL, ROLE_PERMISSIONS
from registry.validation import make_cnpj
from tests.conftest import unit

Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "senha-do-admin"


async def dispatch_world(
    db: Sessions, providers: int, channels: tuple[Channel, ...] = (Channel.APP, Channel.VERBAL)
) -> dict[str, Any]:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        role = m.Role(name=ADMIN, permissions=sorted(ROLE_PERMISSIONS[ADMIN]))
        client = m.Client(cnpj=make_cnpj(51), trade_name="Seguradora", legal_name="Seg SA")
        kind = m.IncidentType(name="Pane elétrica")
        tow = m.ServiceType(
            code="reboque", name="Reboque", target=ServiceTarget.VEHICLE, needs_destination=True
        )
        reason = m.RefusalReason(name="Sem viatura")
        session.add_all([role, client, kind, tow, reason])
        await session.flush()
        session.add(m.User(login="admin", name="Admin", password_hash=cheap, role_id=role.id))
        ids = []
        for i in range(providers):
            provider = m.Provider(
                person_kind=PersonKind.PJ,
                document=make_cnpj(60 + i),
                name=f"Guincho {i}",
                phone="+5511912345678",
                base_location="SRID=4326;POINT(-46.63 -23.55)",
                base_h3=point_cell(-23.55, -46.63),
                channels=list(channels),
                email=f"guincho{i}@example.com",
            )
            session.add(provider)
            await session.flush()
            session.add(
                m.ProviderService(
                    provider_id=provider.id,
                    service_type_id=tow.id,
                    departure_fee=120,
                    price_per_km=4,
                )
            )
            session.add(
                m.DeviceToken(provider_id=provider.id, name="app", token_hash=token_digest(f"t{i}"))
            )
            ids.append(provider.id)
    return {"client": client.id, "kind": kind.id, "tow": tow.id, "reason": reason.id, "p": ids}


async def login(http: httpx.AsyncClient) -> None:
    login = await http.post("/api/v1/auth/login", json={"login": "admin", "password": PASSWORD})
    assert login.status_code == 200, login.text
    http.headers["X-CSRF-Token"] = login.json()["csrf_token"]


async def new_job(http: httpx.AsyncClient, world: dict[str, Any]) -> int:
    incident = await http.post(
        "/api/v1/incidents", json={"client_id": world["client"], "incident_type_id": world["kind"]}
    )
    assert incident.status_code == 201, incident.text
    job = await http.post(
        f"/api/v1/incidents/{incident.json()['id']}/jobs",
        json={
            "service_type_id": world["tow"],
            "ad_hoc": True,
            "requester": {"name": "Ana", "phone": "11 98888-7777"},
            "origin": {"lat": -23.56, "lng": -46.64, "street": "Rua Vergueiro", "number": "100"},
            "destination": {"lat": -23.60, "lng": -46.66, "street": "Av. Ibirapuera"},
        },
    )
    assert job.status_code == 201, job.text
    return int(job.json()["id"])


Frame = dict[str, Any]
FRAME_TIMEOUT_S = 15.0


async def app_socket(port: int, token: str) -> ClientConnection:
    """A provider app on ``/ws/provider``, welcomed."""
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/provider",
        subprotocols=["acionar.v1"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=unit(10),
        max_queue=None,
    )
    await next_frame(ws, "welcome")
    return ws


async def next_frame(ws: ClientConnection, kind: str, seq: int | None = None) -> Frame:
    """The next frame of type ``kind`` (and ``seq``), skipping the others."""
    async with asyncio.timeout(unit(FRAME_TIMEOUT_S)):
        while True:
            frame: Frame = orjson.loads(await ws.recv())
            if frame["type"] == kind and (seq is None or frame.get("seq") == seq):
                return frame


async def provider_user(db: Sessions, provider_id: int, login: str, password: str) -> None:
    """A provider portal user of ``provider_id``."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)
    async with db() as session, session.begin():
        role = await session.scalar(select(m.Role).where(m.Role.name == PROVIDER_PORTAL))
        if role is None:
            role = m.Role(
                name=PROVIDER_PORTAL, permissions=sorted(ROLE_PERMISSIONS[PROVIDER_PORTAL])
            )
            session.add(role)
            await session.flush()
        session.add(
            m.User(
                login=login,
                name=login.capitalize(),
                password_hash=cheap,
                role_id=role.id,
                kind=UserKind.PROVIDER,
                provider_id=provider_id,
            )
        )
