"""Operations API: incidents, jobs, coverage and limits, places, timeline, events."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.models import Job
from realtime.store import LiveStore
from registry import models as m
from registry.cells import point_cell
from registry.enums import (
    CancelledJobCount,
    Channel,
    LimitPeriod,
    PersonKind,
    PlanKind,
    ProviderStatus,
    ServiceTarget,
)
from registry.validation import make_cnpj, make_cpf
from server.settings import Settings
from tests.server.api.conftest import PASSWORD, Login, World

Sessions = async_sessionmaker[AsyncSession]

PLATE = "ABC1D23"
# The article's origin: a pin dropped on Avenida Paulista, as Google Maps shares it.
MAPS_URL = (
    "https://www.google.com/maps/place/Av.+Paulista,+1578+-+Bela+Vista,+S%C3%A3o+Paulo"
    "+-+SP/@-23.5614,-46.6560,17z/data=!3m1!4b1!4m6!3m5!1s0x0:0x0!8m2!3d-23.5613!4d-46.6565"
)


@dataclasses.dataclass
class Ops:
    tow: int
    taxi: int
    locksmith: int
    dry_tank: int  # incident type "Pane seca"
    reason: int  # cancellation reason
    plan: int
    beneficiary: int
    vehicle: int
    site: int
    provider: int


async def _ops(db: Sessions, world: World, *, tow_limit: int = 3, period: LimitPeriod) -> Ops:
    async with db() as session, session.begin():
        tow = m.ServiceType(
            code="reboque_leve",
            name="Reboque leve",
            needs_destination=True,
            target=ServiceTarget.VEHICLE,
        )
        taxi = m.ServiceType(
            code="taxi", name="Táxi", needs_destination=True, target=ServiceTarget.VEHICLE
        )
        locksmith = m.ServiceType(code="chaveiro", name="Chaveiro", target=ServiceTarget.HOME)
        dry = m.IncidentType(name="Pane seca")
        reason = m.CancellationReason(name="Beneficiário desistiu")
        plan = m.Plan(
            client_id=world.client_id,
            code="AUTO1",
            name="Auto Essencial",
            kind=PlanKind.VEHICLE,
            cancelled_jobs_count=CancelledJobCount.AFTER_DISPATCH,
        )
        session.add_all([tow, taxi, locksmith, dry, reason, plan])
        await session.flush()
        session.add_all(
            [
                m.PlanService(
                    plan_id=plan.id,
                    service_type_id=tow.id,
                    covered_value=Decimal("350.00"),
                    uses_per_period=tow_limit,
                    period=period,
                    km_per_use=100,
                ),
                m.PlanService(
                    plan_id=plan.id,
                    service_type_id=taxi.id,
                    covered_value=Decimal("80.00"),
                    uses_per_period=2,
                    period=LimitPeriod.YEAR,
                ),
            ]
        )
        client = await session.get(m.Client, world.client_id)
        assert client is not None
        client.operator_script = "Bom dia, Seguradora Exemplo, em que posso ajudar?"
        client.sla_dispatch_minutes = 10
        person = m.Beneficiary(
            client_id=world.client_id,
            person_kind=PersonKind.PF,
            document=make_cpf(529982247),
            name="João da Silva",
            street="Rua Augusta",
            number="100",
            city="São Paulo",
            state="SP",
            location="SRID=4326;POINT(-46.65 -23.55)",
        )
        session.add(person)
        await session.flush()
        car = m.Vehicle(
            beneficiary_id=person.id,
            plate=PLATE,
            make="Fiat",
            model="Argo",
            plan_id=plan.id,
            plan_starts_on=date(2020, 1, 1),
        )
        site = m.PartnerSite(
            client_id=world.client_id,
            name="Oficina Central",
            kind="oficina",
            street="Rua da Mooca",
            number="500",
            city="São Paulo",
            state="SP",
            location="SRID=4326;POINT(-46.60 -23.56)",
        )
        provider = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(77),
            name="Guincho Rápido",
            phone="+5511912345678",
            channels=[Channel.APP, Channel.WEB, Channel.VERBAL],
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add_all([car, site, provider])
        await session.flush()
        session.add(
            m.ProviderService(
                provider_id=provider.id,
                service_type_id=tow.id,
                departure_fee=Decimal("120.00"),
                price_per_km=Decimal("4.00"),
            )
        )
        return Ops(
            tow.id,
            taxi.id,
            locksmith.id,
            dry.id,
            reason.id,
            plan.id,
            person.id,
            car.id,
            site.id,
            provider.id,
        )


@pytest.fixture
async def ops(db: Sessions, world: World) -> Ops:
    return await _ops(db, world, period=LimitPeriod.YEAR)


@pytest.fixture
async def operator(login: Login) -> httpx.AsyncClient:
    return await login("operacao")


async def _incident(client: httpx.AsyncClient, world: World, ops: Ops, **extra: Any) -> int:
    body = {"client_id": world.client_id, "incident_type_id": ops.dry_tank, **extra}
    body.setdefault("vehicle_id", ops.vehicle)
    response = await client.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _tow(ops: Ops, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "assistance",
        "service_type_id": ops.tow,
        "requester": {"name": "Maria da Silva", "phone": "(11) 98765-4321"},
        "notes_for_provider": "Carro na faixa da direita, pisca-alerta ligado",
        "origin": {"maps_url": MAPS_URL, "reference": "em frente ao MASP"},
        "destination": {"partner_site_id": ops.site},
        **extra,
    }


async def _job(client: httpx.AsyncClient, incident: int, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/v1/incidents/{incident}/jobs", json=body)


async def _count_jobs(db: Sessions) -> int:
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


# --- the article's example ----------------------------------------------------------


async def test_the_articles_example_end_to_end(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    # The operator types the plate with a dash; the search finds the vehicle.
    found = await operator.get("/api/v1/search", params={"q": "abc-1d23"})
    assert found.status_code == 200, found.text
    hit = found.json()["hits"][0]
    assert (hit["kind"], hit["vehicle_id"]) == ("vehicle", ops.vehicle)

    # The incident screen: the client's script, the plans with their usage.
    prefill = await operator.get("/api/v1/incidents/prefill", params={"vehicle_id": ops.vehicle})
    assert prefill.status_code == 200, prefill.text
    screen = prefill.json()
    assert screen["operator_script"].startswith("Bom dia")
    assert screen["vehicle"]["plate"] == PLATE
    assert screen["beneficiary"]["name"] == "João da Silva"
    summaries = [s["summary"] for p in screen["coverage"]["plans"] for s in p["services"]]
    assert any(s.startswith("Reboque leve: 0 de 3 usados em") for s in summaries), summaries

    call_started = datetime.now(UTC) - timedelta(minutes=3)
    incident = await _incident(operator, world, ops, opened_at=call_started.isoformat())

    tow = await _job(operator, incident, _tow(ops))
    assert tow.status_code == 201, tow.text
    job = tow.json()
    assert job["status"] == "open"
    assert job["plan_id"] == ops.plan and not job["ad_hoc"] and not job["chargeable"]
    assert job["km_per_use"] == 100
    assert "Coberto pelo plano Auto Essencial" in job["coverage_note"]
    assert job["requester"]["phone"] == "+5511987654321"
    assert job["origin"]["source"] == "maps_url"
    assert job["origin"]["point"] == {"lat": -23.5613, "lng": -46.6565}  # the pin, not the view
    assert job["origin"]["reference"] == "em frente ao MASP"
    assert job["destination"]["source"] == "partner_site"
    assert job["destination"]["street"] == "Rua da Mooca"
    assert job["destination"]["reference"] == "Oficina Central"
    assert job["handling_time_s"] >= 180
    created = datetime.fromisoformat(job["created_at"])
    due = datetime.fromisoformat(job["dispatch_due_at"])
    assert timedelta(minutes=9) < due - created < timedelta(minutes=11)  # the client's SLA
    assert job["arrival_due_at"] is not None  # the deployment's default

    taxi = await _job(
        operator,
        incident,
        {
            "service_type_id": ops.taxi,
            "requester": {"name": "Maria da Silva", "phone": "11987654321"},
            "origin": {"maps_url": MAPS_URL},
            "destination": {"lat": -23.5505, "lng": -46.6333, "street": "Praça da Sé"},
        },
    )
    assert taxi.status_code == 201, taxi.text

    shown = (await operator.get(f"/api/v1/incidents/{incident}")).json()
    assert [j["service_type_id"] for j in shown["jobs"]] == [ops.tow, ops.taxi]
    assert shown["handling_time_s"] == job["handling_time_s"]
    usage = (
        await operator.get(
            f"/api/v1/beneficiaries/{ops.beneficiary}/coverage", params={"vehicle_id": ops.vehicle}
        )
    ).json()
    tow_usage = next(
        s for p in usage["plans"] for s in p["services"] if s["service_type_id"] == ops.tow
    )
    assert (tow_usage["used"], tow_usage["remaining"]) == (1, 2)
    occurrences = await operator.get(f"/api/v1/beneficiaries/{ops.beneficiary}/occurrences")
    assert occurrences.status_code == 200, occurrences.text
    assert [i["id"] for i in occurrences.json()["incidents"]] == [incident]
    assert len(occurrences.json()["incidents"][0]["jobs"]) == 2

    # Earlier jobs' places are offered by the offline address search.
    known = await operator.get("/api/v1/addresses/search", params={"q": "praca da se"})
    assert known.status_code == 200, known.text
    assert any(a["source"] == "job" for a in known.json()["addresses"]), known.json()


# A place link whose name is Google's formatted address, CEP included.
PLACE_URL = (
    "https://www.google.com.br/maps/place/Av.+Paulista,+1578+-+Bela+Vista,+S%C3%A3o+Paulo+-+SP,"
    "+01310-200/@-23.5613,-46.6565,17z/data=!3m1!4b1!4m6!3m5!1s0x94ce59c8da0aa315:"
    "0xd59f9431f2c9776a!8m2!3d-23.5612843!4d-46.6559029!16s%2Fg%2F11c1p8m3q1?entry=ttu"
)
ADDRESS_FIELDS = ("street", "number", "complement", "neighbourhood", "city", "state", "cep")


async def test_a_maps_link_gives_a_job_the_address_it_gives_the_address_search(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    link = await operator.post("/api/v1/addresses/from-maps-url", json={"url": PLACE_URL})
    assert link.status_code == 200, link.text
    from_link = link.json()["origin"]
    incident = await _incident(operator, world, ops)
    body = _tow(ops, origin={"maps_url": PLACE_URL, "reference": "em frente ao MASP"})
    job = await _job(operator, incident, body)
    assert job.status_code == 201, job.text
    origin = job.json()["origin"]
    assert {f: origin[f] for f in ADDRESS_FIELDS} == {f: from_link[f] for f in ADDRESS_FIELDS}
    assert (origin["street"], origin["number"], origin["cep"]) == (
        "Av. Paulista",
        "1578",
        "01310200",
    )
    assert origin["point"] == from_link["point"] == {"lat": -23.5612843, "lng": -46.6559029}
    assert (origin["source"], origin["reference"]) == ("maps_url", "em frente ao MASP")

    typed = {"maps_url": PLACE_URL, "number": "1580", "complement": "portão 2"}
    patched = await operator.patch(f"/api/v1/jobs/{job.json()['id']}", json={"origin": typed})
    assert patched.status_code == 200, patched.text
    kept = patched.json()["origin"]  # what the operator typed beside the link wins
    assert (kept["street"], kept["number"], kept["complement"]) == (
        "Av. Paulista",
        "1580",
        "portão 2",
    )
    assert kept["cep"] == "01310200"
    elsewhere = {"maps_url": PLACE_URL, "street": "Alameda Santos"}  # another street typed
    patched = await operator.patch(f"/api/v1/jobs/{job.json()['id']}", json={"origin": elsewhere})
    moved = patched.json()["origin"]  # the link's number and CEP are its own street's
    assert (moved["street"], moved["number"], moved["cep"]) == ("Alameda Santos", None, None)
    assert (moved["neighbourhood"], moved["city"], moved["state"]) == (
        "Bela Vista",
        "São Paulo",
        "SP",
    )


# --- coverage and limits ------------------------------------------------------------


async def test_a_reached_limit_is_refused_then_opened_ad_hoc(
    db: Sessions, login: Login, world: World
) -> None:
    ops = await _ops(db, world, tow_limit=1, period=LimitPeriod.MONTH)
    operator = await login("operacao")
    incident = await _incident(operator, world, ops)
    assert (await _job(operator, incident, _tow(ops))).status_code == 201
    before = await _count_jobs(db)

    refused = await _job(operator, incident, _tow(ops))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "limit_reached"
    assert error["message"].startswith("Limite do serviço Reboque leve atingido: 1 de 1 usados em")
    assert "avulso" in error["message"]
    assert await _count_jobs(db) == before  # nothing half-written

    ad_hoc = await _job(operator, incident, _tow(ops, ad_hoc=True))
    assert ad_hoc.status_code == 201, ad_hoc.text
    assert ad_hoc.json()["ad_hoc"] and ad_hoc.json()["chargeable"]
    assert ad_hoc.json()["plan_id"] is None
    assert ad_hoc.json()["coverage_note"].startswith("Serviço avulso (cobrado)")


async def test_cancelled_jobs_count_only_after_a_provider_went_out(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    first = (await _job(operator, incident, _tow(ops))).json()
    cancel = {"cancellation_reason_id": ops.reason}
    assert (
        await operator.post(f"/api/v1/jobs/{first['id']}/cancel", json=cancel)
    ).status_code == 200
    second = (await _job(operator, incident, _tow(ops))).json()
    assign = {"to": "assigned", "provider_id": ops.provider, "channel": "verbal"}
    assert (
        await operator.post(f"/api/v1/jobs/{second['id']}/status", json=assign)
    ).status_code == 200
    assert (
        await operator.post(f"/api/v1/jobs/{second['id']}/cancel", json=cancel)
    ).status_code == 200

    usage = (
        await operator.get(
            f"/api/v1/beneficiaries/{ops.beneficiary}/coverage", params={"vehicle_id": ops.vehicle}
        )
    ).json()
    tow = next(s for p in usage["plans"] for s in p["services"] if s["service_type_id"] == ops.tow)
    assert tow["used"] == 1  # the second: its provider had been assigned


async def test_a_service_no_plan_covers_is_refused(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    body = _tow(ops, service_type_id=ops.locksmith)
    del body["destination"]
    refused = await _job(operator, incident, body)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "not_covered",
        "message": "Nenhum plano vigente cobre Chaveiro.",
    }


# --- lifecycle ------------------------------------------------------------------------


async def test_a_job_goes_through_its_states_and_leaves_a_timeline(
    db: Sessions,
    operator: httpx.AsyncClient,
    world: World,
    ops: Ops,
    redis: aioredis.Redis,
    settings: Settings,
) -> None:
    store = LiveStore(redis, settings.redis_prefix)
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    url = f"/api/v1/jobs/{job_id}/status"

    no_provider = await operator.post(url, json={"to": "assigned"})
    assert no_provider.status_code == 422
    assert no_provider.json()["error"]["fields"][0]["field"] == "provider_id"
    async with db() as session, session.begin():
        blocked = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(78),
            name="Guincho Bloqueado",
            status=ProviderStatus.BLOCKED,
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add(blocked)
    refused = await operator.post(url, json={"to": "assigned", "provider_id": blocked.id})
    assert refused.status_code == 422
    assert "bloqueado" in refused.json()["error"]["message"]

    steps: list[dict[str, Any]] = [
        {"to": "dispatching"},
        {"to": "assigned", "provider_id": ops.provider},
        {"to": "en_route", "channel": "app"},
        {"to": "on_site", "channel": "app"},
        {"to": "in_transit", "channel": "app"},
        {"to": "completed", "channel": "app", "note": "entregue na oficina"},
    ]
    for step in steps:
        moved = await operator.post(url, json=step)
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == step["to"]
        if step["to"] == "en_route":  # the candidate search sees the provider busy
            assert await store.busy([ops.provider]) == {ops.provider}
    assert moved.json()["provider_id"] == ops.provider
    assert await store.busy([ops.provider]) == set()  # completed: free again
    assert moved.json()["next_statuses"] == ["closed"]

    back = await operator.post(url, json={"to": "open"})
    assert back.status_code == 409
    assert back.json()["error"]["code"] == "illegal_transition"
    assert "Concluído" in back.json()["error"]["message"]
    late_cancel = await operator.post(
        f"/api/v1/jobs/{job_id}/cancel", json={"cancellation_reason_id": ops.reason}
    )
    assert late_cancel.status_code == 409

    timeline = (await operator.get(f"/api/v1/jobs/{job_id}/timeline")).json()
    assert [(t["from_status"], t["to_status"]) for t in timeline] == [
        (None, "open"),
        ("open", "dispatching"),
        ("dispatching", "assigned"),
        ("assigned", "en_route"),
        ("en_route", "on_site"),
        ("on_site", "in_transit"),
        ("in_transit", "completed"),
    ]
    assert timeline[0]["actor_user_id"] == world.users["operacao"]
    assert timeline[3]["channel"] == "app" and timeline[-1]["note"] == "entregue na oficina"


async def test_assigning_by_hand_follows_the_rules_of_dispatch(
    operator: httpx.AsyncClient, world: World, ops: Ops, db: Sessions
) -> None:
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    url = f"/api/v1/jobs/{job_id}/status"
    async with db() as session, session.begin():
        locksmith = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(79),
            name="Chaveiro Central",
            phone="+5511912345679",
            channels=[Channel.VERBAL],
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add(locksmith)
    no_tows = await operator.post(url, json={"to": "assigned", "provider_id": locksmith.id})
    assert no_tows.status_code == 422
    assert no_tows.json()["error"]["fields"] == [
        {
            "field": "provider_id",
            "message": "Chaveiro Central não atende este serviço (tabela de preços).",
        }
    ]
    offline = await operator.post(  # the portal is not open
        url, json={"to": "assigned", "provider_id": ops.provider, "channel": "web"}
    )
    assert offline.status_code == 409
    assert offline.json()["error"] == {
        "code": "channel_unavailable",
        "message": "Guincho Rápido não pode ser acionado por web agora.",
    }
    assert (await operator.get(f"/api/v1/jobs/{job_id}")).json()["status"] == "open"
    by_phone = await operator.post(url, json={"to": "assigned", "provider_id": ops.provider})
    assert by_phone.status_code == 200, by_phone.text
    timeline = (await operator.get(f"/api/v1/jobs/{job_id}/timeline")).json()
    assert timeline[-1]["channel"] == "verbal"


async def test_a_move_to_dispatching_takes_no_provider(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    url = f"/api/v1/jobs/{job_id}/status"
    refused = await operator.post(url, json={"to": "dispatching", "provider_id": ops.provider})
    assert refused.status_code == 422
    [field] = refused.json()["error"]["fields"]
    assert field["field"] == "provider_id" and "envie uma oferta" in field["message"]
    job = (await operator.get(f"/api/v1/jobs/{job_id}")).json()
    assert (job["status"], job["provider_id"]) == ("open", None)


async def test_closing_a_job_needs_the_closing_permission(
    operator: httpx.AsyncClient, login: Login, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    url = f"/api/v1/jobs/{job_id}/status"
    steps: list[dict[str, Any]] = [
        {"to": "assigned", "provider_id": ops.provider, "channel": "verbal"},
        {"to": "on_site"},
        {"to": "completed"},
    ]
    for step in steps:
        assert (await operator.post(url, json=step)).status_code == 200
    refused = await operator.post(url, json={"to": "closed"})  # Operação lacks closing.close_jobs
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert (await operator.get(f"/api/v1/jobs/{job_id}")).json()["status"] == "completed"
    admin = await login("admin")
    closed = await admin.post(url, json={"to": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


async def test_cancelling_needs_a_known_reason(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    url = f"/api/v1/jobs/{job_id}/status"
    assert (await operator.post(url, json={"to": "cancelled"})).status_code == 422
    unknown = await operator.post(url, json={"to": "cancelled", "cancellation_reason_id": 999})
    assert unknown.status_code == 422
    ok = await operator.post(url, json={"to": "cancelled", "cancellation_reason_id": ops.reason})
    assert ok.status_code == 200 and ok.json()["cancellation_reason_id"] == ops.reason
    assert ok.json()["next_statuses"] == []


async def test_a_scheduled_job_counts_its_sla_from_the_appointment(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    when = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    job = (await _job(operator, incident, _tow(ops, scheduled_for=when.isoformat()))).json()
    assert job["status"] == "scheduled"
    assert datetime.fromisoformat(job["dispatch_due_at"]) == when + timedelta(minutes=10)
    later = when + timedelta(days=1)
    edited = await operator.patch(
        f"/api/v1/jobs/{job['id']}",
        json={"scheduled_for": later.isoformat(), "notes_for_provider": "portão azul"},
    )
    assert edited.status_code == 200, edited.text
    assert datetime.fromisoformat(edited.json()["dispatch_due_at"]) == later + timedelta(minutes=10)
    assert edited.json()["notes_for_provider"] == "portão azul"
    past = await operator.patch(
        f"/api/v1/jobs/{job['id']}", json={"scheduled_for": "2020-01-01T10:00:00-03:00"}
    )
    assert past.status_code == 422
    cleared = await operator.patch(f"/api/v1/jobs/{job['id']}", json={"scheduled_for": None})
    assert cleared.status_code == 422  # a scheduled job keeps a date; open it instead
    opened = await operator.post(f"/api/v1/jobs/{job['id']}/status", json={"to": "open"})
    assert opened.status_code == 200 and opened.json()["status"] == "open"


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"destination": None}, "destination", "Reboque leve exige um endereço de destino."),
        ({"origin": None}, "origin", "Informe o endereço de origem."),
        (
            {"origin": {"maps_url": "https://maps.app.goo.gl/AbCdEf123"}},
            "origin.maps_url",
            "links curtos",
        ),
        ({"origin": {"lat": 38.72, "lng": -9.14}}, "origin", "fora do Brasil"),
        ({"origin": {"lat": -23.5}}, "origin", "latitude e longitude"),
        ({"requester": {"name": "Maria", "phone": "123"}}, "requester.phone", ""),
        ({"requester": {"name": "", "phone": "11987654321"}}, "requester.name", ""),
        ({"service_type_id": None}, "service_type_id", "Informe o serviço"),
        ({"scheduled_for": "2020-01-01T10:00:00"}, "scheduled_for", ""),
    ],
)
async def test_bad_jobs_get_a_clear_error_and_write_nothing(
    db: Sessions,
    operator: httpx.AsyncClient,
    world: World,
    ops: Ops,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    incident = await _incident(operator, world, ops)
    body = {**_tow(ops), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await _job(operator, incident, body)
    assert response.status_code == 422, response.text
    fields = response.json()["error"].get("fields") or []
    assert any(f["field"].startswith(field) for f in fields), fields
    assert message.lower() in str(fields).lower() + response.json()["error"]["message"].lower()
    assert await _count_jobs(db) == 0


async def test_an_incident_must_fit_its_client(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    other = await operator.post(
        "/api/v1/incidents",
        json={
            "client_id": world.other_client_id,
            "incident_type_id": ops.dry_tank,
            "vehicle_id": ops.vehicle,
        },
    )
    assert other.status_code == 422
    assert other.json()["error"]["fields"][0]["field"] == "beneficiary_id"
    future = await operator.post(
        "/api/v1/incidents",
        json={
            "client_id": world.client_id,
            "incident_type_id": ops.dry_tank,
            "opened_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    assert future.status_code == 422
    assert (await operator.get("/api/v1/jobs/123456")).status_code == 404


# --- permissions ----------------------------------------------------------------------


async def test_roles_are_enforced(
    db: Sessions, login: Login, world: World, ops: Ops, password_hash: str
) -> None:
    async with db() as session, session.begin():
        session.add(
            m.User(
                login="analitico",
                name="Analista",
                password_hash=password_hash,
                role_id=world.roles["Analítico"],
            )
        )
    analyst = await login("analitico")
    body = {"client_id": world.client_id, "incident_type_id": ops.dry_tank}
    assert (await analyst.post("/api/v1/incidents", json=body)).status_code == 403
    assert (await analyst.get("/api/v1/jobs")).status_code == 200

    operator = await login("operacao")
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    cancel = {"to": "cancelled", "cancellation_reason_id": ops.reason}
    assert (await analyst.post(f"/api/v1/jobs/{job_id}/status", json=cancel)).status_code == 403

    portal = await login("cliente")  # a user of world.client_id's portal
    own = await portal.get(f"/api/v1/beneficiaries/{ops.beneficiary}/occurrences")
    assert own.status_code == 200 and len(own.json()["incidents"]) == 1
    assert (await portal.get("/api/v1/jobs")).status_code == 403
    assert PASSWORD  # the portal signs in like everyone else


# --- events -----------------------------------------------------------------------------


@pytest.fixture
async def bus_messages(
    redis: aioredis.Redis, settings: Settings
) -> AsyncIterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []
    pubsub = redis.pubsub()
    await pubsub.subscribe(settings.redis_prefix + settings.bus_channel)

    async def read() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                received.append(orjson.loads(message["data"]))

    reader = asyncio.create_task(read())
    yield received
    reader.cancel()
    await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_changes_are_published_on_the_bus(
    operator: httpx.AsyncClient, world: World, ops: Ops, bus_messages: list[dict[str, Any]]
) -> None:
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    await operator.post(f"/api/v1/jobs/{job_id}/status", json={"to": "dispatching"})
    for _ in range(100):
        if len({e["type"] for e in bus_messages} & {"job.created", "job.status"}) == 2:
            break
        await asyncio.sleep(0.02)
    types = [e["type"] for e in bus_messages]
    assert types.count("incident.updated") == 2, types  # opened, then its first job
    created = next(e for e in bus_messages if e["type"] == "job.created")
    assert created["job"]["id"] == job_id and created["incident_id"] == incident
    status = next(e for e in bus_messages if e["type"] == "job.status")
    assert status["job"]["status"] == "dispatching"


async def test_panels_resynchronise_from_the_events_they_saw(
    operator: httpx.AsyncClient, world: World, ops: Ops, login: Login
) -> None:
    start = (await operator.get("/api/v1/events")).json()
    assert (start["events"], start["reload"]) == ([], False)
    incident = await _incident(operator, world, ops)
    job_id = (await _job(operator, incident, _tow(ops))).json()["id"]
    await operator.post(f"/api/v1/jobs/{job_id}/status", json={"to": "dispatching"})
    for _ in range(100):  # relayed at once after each commit
        page = (await operator.get("/api/v1/events", params={"after": start["last_seq"]})).json()
        if len(page["events"]) == 4:
            break
        await asyncio.sleep(0.02)
    types = [e["type"] for e in page["events"]]
    assert types == ["incident.updated", "job.created", "incident.updated", "job.status"]
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs) and page["last_seq"] == seqs[-1]
    moved = page["events"][-1]
    assert moved["job"]["status"] == "dispatching" and "late" not in moved["job"]
    assert moved["job"]["dispatch_due_at"] is not None  # what a panel computes lateness from
    later = await operator.get("/api/v1/events", params={"after": seqs[1]})
    assert [e["seq"] for e in later.json()["events"]] == seqs[2:]
    portal = await login("cliente")
    assert (await portal.get("/api/v1/events")).status_code == 403
