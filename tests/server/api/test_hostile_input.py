"""Input that once answered 500: each case is a regression test (hardening issue).

NUL bytes, ids beyond PostgreSQL's integer, dates at the edges of the calendar and
a client-portal user asking for a provider's file must all get a clear 4xx.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.api.conftest import PASSWORD, Login, World
from tests.server.api.helpers import created, make_beneficiary

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TOO_BIG = 2**31


def _clear(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["error"]["message"], body
    return body


async def test_a_nul_byte_in_the_login_is_refused_clearly(anon: httpx.AsyncClient) -> None:
    for login in ("ad\u0000min", "\u0000"):
        response = await anon.post(
            "/api/v1/auth/login", json={"login": login, "password": PASSWORD}
        )
        _clear(response, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/search?q=ab%00c",
        "/api/v1/clients?q=%00",
        "/api/v1/clients?city=S%00P",
        "/api/v1/beneficiaries?document=%00",
        "/api/v1/providers?q=guincho%00",
        "/api/v1/addresses/search?q=Rua%00Augusta",
    ],
)
async def test_a_nul_byte_in_a_query_is_refused_clearly(
    login: Login, world: World, path: str
) -> None:
    admin = await login("admin")
    _clear(await admin.get(path), 422)


async def test_a_nul_byte_in_a_body_is_refused_with_its_field(login: Login, world: World) -> None:
    admin = await login("admin")
    response = await admin.post(
        "/api/v1/incident_types", json={"name": "Pane\u0000seca", "code": "x"}
    )
    body = _clear(response, 422)
    assert any(f["field"].startswith("name") for f in body["error"]["fields"]), body
    response = await admin.patch(
        f"/api/v1/clients/{world.client_id}", json={"trade_name": "A\u0000B"}
    )
    _clear(response, 422)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/beneficiaries?client_id={TOO_BIG}",
        f"/api/v1/users?role_id={TOO_BIG}",
        f"/api/v1/users?client_id={TOO_BIG}",
        f"/api/v1/jobs?client_id={TOO_BIG}",
        f"/api/v1/jobs?incident_id={TOO_BIG}",
        f"/api/v1/incidents?beneficiary_id={TOO_BIG}",
        f"/api/v1/search?q=joao&client_id={TOO_BIG}",
        f"/api/v1/candidates?lat=-23.5&lng=-46.6&service_type_id={TOO_BIG}",
        "/api/v1/beneficiaries?client_id=-1",
    ],
)
async def test_an_id_beyond_postgresql_integers_in_a_query_is_refused(
    login: Login, world: World, path: str
) -> None:
    admin = await login("admin")
    _clear(await admin.get(path), 422)


async def test_an_id_beyond_postgresql_integers_in_a_body_is_refused(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    response = await admin.post(
        "/api/v1/users",
        json={"login": "maria", "name": "Maria", "password": "uma-senha-longa", "role_id": TOO_BIG},
    )
    _clear(response, 422)
    response = await admin.post(
        "/api/v1/beneficiaries",
        json={"client_id": TOO_BIG, "document": "52998224725", "name": "Maria"},
    )
    _clear(response, 422)


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"]
)
async def test_dates_at_the_edges_of_the_calendar_are_refused(
    login: Login, world: World, at: str
) -> None:
    admin = await login("admin")
    person = await make_beneficiary(admin, world.client_id, 1)
    response = await admin.get(f"/api/v1/beneficiaries/{person['id']}/coverage", params={"at": at})
    _clear(response, 422)


async def test_a_client_portal_user_never_sees_a_providers_file(login: Login, world: World) -> None:
    admin = await login("admin")
    provider = await created(
        await admin.post(
            "/api/v1/providers",
            json={
                "person_kind": "pj",
                "document": "11222333000181",
                "name": "Guincho Já",
                "base_location": {"lat": -23.55, "lng": -46.63},
            },
        )
    )
    uploaded = await created(
        await admin.post(
            f"/api/v1/providers/{provider['id']}/files?filename=alvara.pdf",
            content=PDF,
            headers={"content-type": "application/pdf"},
        )
    )
    portal = await login("cliente")
    _clear(await portal.get(f"/api/v1/files/{uploaded['id']}"), 404)
    _clear(await portal.delete(f"/api/v1/files/{uploaded['id']}"), 404)
    assert (await admin.get(f"/api/v1/files/{uploaded['id']}")).status_code == 200


@pytest.mark.parametrize("q", ["%", "_", "Cliente_0", "%0"])
async def test_like_wildcards_in_q_are_letters(login: Login, world: World, q: str) -> None:
    admin = await login("admin")
    listed = await admin.get("/api/v1/clients", params={"q": q})
    assert listed.status_code == 200
    assert listed.json()["total"] == 0, listed.json()
    assert (await admin.get("/api/v1/clients", params={"q": "Cliente 0"})).json()["total"] == 1


async def test_a_422_for_thousands_of_unknown_keys_stays_small(login: Login, world: World) -> None:
    admin = await login("admin")
    body = {"name": "Pane", **{f"k{i}": i for i in range(20_000)}}
    response = await admin.post("/api/v1/incident_types", json=body)
    fields = _clear(response, 422)["error"]["fields"]
    assert len(fields) == 51 and fields[-1]["message"] == "e mais 19950 erro(s)"
    assert len(response.content) < 8_000


@pytest.mark.parametrize(
    "name", ["Pane\u202eseca", "Pane\u2066seca", "Pane\x1bseca", "Pane\x85seca", "Pane\nseca"]
)
async def test_names_refuse_control_and_reordering_characters(
    login: Login, world: World, name: str
) -> None:
    admin = await login("admin")
    response = await admin.post("/api/v1/incident_types", json={"name": name})
    body = _clear(response, 422)
    assert [f["field"] for f in body["error"]["fields"]] == ["name"], body


async def test_a_file_name_that_reorders_its_extension_is_refused(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    person = await make_beneficiary(admin, world.client_id, 3)
    response = await admin.post(
        f"/api/v1/beneficiaries/{person['id']}/files",
        params={"filename": "fatura\u202efdp.exe"},
        content=PDF,
        headers={"content-type": "application/pdf"},
    )
    _clear(response, 422)


async def test_notes_keep_their_line_breaks(login: Login, world: World) -> None:
    admin = await login("admin")
    response = await admin.patch(
        f"/api/v1/clients/{world.client_id}", json={"operator_script": "linha 1\nlinha 2"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["operator_script"] == "linha 1\nlinha 2"
