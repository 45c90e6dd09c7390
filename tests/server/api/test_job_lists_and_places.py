"""Hardening issue, item 6: the dispatch queue holds only jobs that need a provider
(an inquiry or a theft report is open without ever waiting for dispatch), and a
place without any source is told so (not "more than one source")."""

from __future__ import annotations

import httpx

from tests.server.api.conftest import World
from tests.server.api.test_jobs import Ops, _incident, _job, _tow, operator, ops

__all__ = ["operator", "ops"]


async def test_the_dispatch_queue_lists_assistance_jobs_only(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    tow = await _job(operator, incident, _tow(ops))
    assert tow.status_code == 201, tow.text
    inquiry = await _job(
        operator,
        incident,
        {"kind": "inquiry", "requester": {"name": "Maria", "phone": "(11) 98765-4321"}},
    )
    assert inquiry.status_code == 201, inquiry.text
    everything = await operator.get("/api/v1/jobs", params={"status": "open"})
    assert {j["id"] for j in everything.json()["items"]} == {tow.json()["id"], inquiry.json()["id"]}
    queue = await operator.get("/api/v1/jobs", params={"status": "open", "kind": "assistance"})
    assert queue.status_code == 200
    assert [j["id"] for j in queue.json()["items"]] == [tow.json()["id"]]
    assert (queue.json()["total"], queue.json()["page"], queue.json()["page_size"]) == (1, 1, 50)
    inquiries = await operator.get("/api/v1/jobs", params={"kind": "inquiry"})
    assert [j["id"] for j in inquiries.json()["items"]] == [inquiry.json()["id"]]
    assert (await operator.get("/api/v1/jobs", params={"kind": "x"})).status_code == 422


async def test_a_place_without_any_source_is_told_so(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    none = await _job(operator, incident, _tow(ops, origin={"street": "Rua Augusta"}))
    assert none.status_code == 422
    assert none.json()["error"]["fields"][0]["message"].startswith("Informe de onde vem")
    both = await _job(
        operator, incident, _tow(ops, origin={"lat": -23.5, "lng": -46.6, "beneficiary": True})
    )
    assert both.json()["error"]["fields"][0]["message"].startswith("Informe uma só fonte")


async def test_jobs_and_incidents_page_like_every_other_list(
    operator: httpx.AsyncClient, world: World, ops: Ops
) -> None:
    incident = await _incident(operator, world, ops)
    made = [(await _job(operator, incident, _tow(ops))).json()["id"] for _ in range(3)]
    first = (await operator.get("/api/v1/jobs", params={"page_size": 2})).json()
    second = (await operator.get("/api/v1/jobs", params={"page_size": 2, "page": 2})).json()
    assert first["total"] == second["total"] == 3
    assert [j["id"] for j in first["items"] + second["items"]] == sorted(made, reverse=True)
    incidents = (await operator.get("/api/v1/incidents")).json()
    assert incidents["total"] == 1 and incidents["items"][0]["id"] == incident
    too_big = await operator.get("/api/v1/jobs", params={"page_size": 501})
    assert too_big.status_code == 422
    clients = await operator.get("/api/v1/clients", params={"page_size": 500})
    assert clients.status_code == 200  # the same bound everywhere
