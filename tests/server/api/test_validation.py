"""Brazilian validation through the API: 422 with a pt-BR message per field, 409 on
duplicates, and nothing half-written."""

from __future__ import annotations

import pytest

from tests.server.api.conftest import Login, World
from tests.server.api.helpers import cpf, created, field_messages, make_beneficiary, make_plan


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"document": "123.456.789-00"}, "document", "CPF inválido"),
        ({"document": "111.111.111-11"}, "document", "CPF inválido"),
        ({"person_kind": "pj"}, "document", "CNPJ inválido"),
        ({"phone": "(11) 1234"}, "phone", "Telefone inválido: informe DDD e número"),
        ({"whatsapp": "(00) 98765-4321"}, "whatsapp", "Telefone inválido: informe DDD e número"),
        ({"cep": "0131"}, "cep", "CEP inválido: informe 8 dígitos"),
        ({"state": "XX"}, "state", "UF inválida"),
        ({"email": "joao@"}, "email", "E-mail inválido"),
        ({"location": {"lat": -95, "lng": -46.6}}, "location.lat", "Deve ser maior ou igual a -90"),
        ({"location": {"lat": -23.5, "lng": 181}}, "location.lng", "Deve ser menor ou igual a 180"),
        ({"birth_date": "2999-01-01"}, "birth_date", "Data de nascimento inválida"),
        ({"birth_date": "31/02/2000"}, "birth_date", "Data inválida (use AAAA-MM-DD)"),
        ({"name": ""}, "name", "Campo obrigatório"),
        ({"nickname": "Jo"}, "nickname", "Campo desconhecido"),
    ],
)
async def test_invalid_beneficiary_fields_are_named_in_pt_br(
    login: Login, world: World, changes: dict[str, object], field: str, message: str
) -> None:
    admin = await login("admin")
    payload = {"client_id": world.client_id, "document": cpf(1), "name": "João", **changes}
    response = await admin.post("/api/v1/beneficiaries", json=payload)
    assert field_messages(response) == {field: message}
    assert (await admin.get("/api/v1/beneficiaries")).json()["total"] == 0


async def test_valid_documents_and_contacts_are_stored_normalised(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    body = await make_beneficiary(
        admin,
        world.client_id,
        7,
        phone="(11) 98765-4321",
        cep="01310-200",
        state="sp",
        email="Joao@Example.COM",
        location={"lat": -23.561, "lng": -46.656},
    )
    assert body["document"].isdigit() and len(body["document"]) == 11
    assert body["phone"] == "+5511987654321"
    assert (body["cep"], body["state"], body["email"]) == ("01310200", "SP", "joao@example.com")
    assert body["location"] == {"lat": -23.561, "lng": -46.656}


async def test_company_beneficiary_takes_a_cnpj(login: Login, world: World) -> None:
    admin = await login("admin")
    response = await admin.post(
        "/api/v1/beneficiaries",
        json={
            "client_id": world.client_id,
            "person_kind": "pj",
            "document": "11.222.333/0001-81",
            "name": "Transportes Ltda",
        },
    )
    assert (await created(response))["document"] == "11222333000181"


ALPHANUMERIC_CNPJ = "12.abc.345/01de-35"  # Receita Federal's example, typed in lower case
STORED_CNPJ = "12ABC34501DE35"


async def test_alphanumeric_cnpjs_are_taken_wherever_a_cnpj_is(login: Login, world: World) -> None:
    admin = await login("admin")
    client = await admin.post(
        "/api/v1/clients",
        json={"cnpj": ALPHANUMERIC_CNPJ, "trade_name": "Nova", "legal_name": "Nova Seguros SA"},
    )
    assert (await created(client))["cnpj"] == STORED_CNPJ
    company = {"person_kind": "pj", "document": ALPHANUMERIC_CNPJ}
    beneficiary = await admin.post(
        "/api/v1/beneficiaries",
        json={"client_id": world.client_id, "name": "Transportes Ltda", **company},
    )
    assert (await created(beneficiary))["document"] == STORED_CNPJ
    provider = await admin.post(
        "/api/v1/providers",
        json={"name": "Guincho Novo", "base_location": {"lat": -23.55, "lng": -46.63}, **company},
    )
    assert (await created(provider))["document"] == STORED_CNPJ
    supplier = await admin.post("/api/v1/suppliers", json={"name": "Peças SA", **company})
    assert (await created(supplier))["document"] == STORED_CNPJ
    broker = await admin.post(
        "/api/v1/representatives", json={"name": "Corretora", "document": ALPHANUMERIC_CNPJ}
    )
    assert (await created(broker))["document"] == STORED_CNPJ
    wrong = await admin.post(
        "/api/v1/clients",
        json={"cnpj": "12.ABC.345/01DE-36", "trade_name": "X", "legal_name": "X SA"},
    )
    assert field_messages(wrong) == {"cnpj": "CNPJ inválido"}


@pytest.mark.parametrize(
    ("plate", "stored"),
    [("abc-1234", "ABC1234"), ("ABC1D23", "ABC1D23"), ("bra 2e19", "BRA2E19")],
)
async def test_plates_in_both_formats_are_normalised(
    login: Login, world: World, plate: str, stored: str
) -> None:
    admin = await login("admin")
    owner = await make_beneficiary(admin, world.client_id, 1)
    response = await admin.post(
        f"/api/v1/beneficiaries/{owner['id']}/vehicles",
        json={"plate": plate, "make": "Fiat", "model": "Uno"},
    )
    assert (await created(response))["plate"] == stored


@pytest.mark.parametrize("plate", ["AB1234", "ABCD123", "ABC12D3", "1BC1234", ""])
async def test_bad_plates_are_refused(login: Login, world: World, plate: str) -> None:
    admin = await login("admin")
    owner = await make_beneficiary(admin, world.client_id, 1)
    response = await admin.post(
        f"/api/v1/beneficiaries/{owner['id']}/vehicles", json={"plate": plate}
    )
    assert field_messages(response) == {"plate": "Placa inválida: use o formato ABC1234 ou ABC1D23"}


async def test_duplicates_get_409_and_leave_nothing_behind(login: Login, world: World) -> None:
    admin = await login("admin")
    first = await make_beneficiary(admin, world.client_id, 1)
    again = await admin.post(
        "/api/v1/beneficiaries",
        json={"client_id": world.client_id, "document": cpf(1), "name": "X"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == [{"field": "document", "message": "Já cadastrado"}]
    other = await make_beneficiary(admin, world.client_id, 2)
    await created(
        await admin.post(f"/api/v1/beneficiaries/{first['id']}/vehicles", json={"plate": "ABC1D23"})
    )
    clash = await admin.post(
        f"/api/v1/beneficiaries/{other['id']}/vehicles", json={"plate": "abc-1d23"}
    )
    assert clash.status_code == 409
    vehicles = await admin.get(f"/api/v1/beneficiaries/{other['id']}/vehicles")
    assert vehicles.json()["total"] == 0


async def test_patch_revalidates_the_whole_record(login: Login, world: World) -> None:
    admin = await login("admin")
    person = await make_beneficiary(admin, world.client_id, 1)
    response = await admin.patch(
        f"/api/v1/beneficiaries/{person['id']}", json={"person_kind": "pj"}
    )
    assert field_messages(response) == {"document": "CNPJ inválido"}
    fine = await admin.patch(
        f"/api/v1/beneficiaries/{person['id']}", json={"name": "João da Silva Sauro", "rg": ""}
    )
    assert fine.status_code == 200 and fine.json()["name"] == "João da Silva Sauro"
    assert fine.json()["rg"] is None


async def test_vehicle_plan_must_be_a_vehicle_plan_of_the_same_client(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    owner = await make_beneficiary(admin, world.client_id, 1)
    home = await make_plan(admin, world.client_id, "beneficiary", "Residencial")
    foreign = await make_plan(admin, world.other_client_id, "vehicle", "Auto de outro")
    auto = await make_plan(admin, world.client_id, "vehicle", "Auto")
    url = f"/api/v1/beneficiaries/{owner['id']}/vehicles"
    wrong_kind = await admin.post(url, json={"plate": "ABC1234", "plan_id": home})
    assert field_messages(wrong_kind) == {"plan_id": "Use um plano de veículo"}
    wrong_client = await admin.post(url, json={"plate": "ABC1234", "plan_id": foreign})
    assert "plan_id" in field_messages(wrong_client)
    assert (await admin.post(url, json={"plate": "ABC1234", "plan_id": auto})).status_code == 201


async def test_malformed_json_and_oversized_bodies(login: Login, world: World) -> None:
    admin = await login("admin")
    bad = await admin.post(
        "/api/v1/extra_items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_json"
    huge = await admin.post(
        "/api/v1/extra_items",
        content=b"[" + b"1," * 700_000 + b"1]",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    not_object = await admin.patch(f"/api/v1/clients/{world.client_id}", json=[1, 2])
    assert not_object.status_code == 422


async def test_lists_paginate_sort_filter_and_search_without_accents(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    for n, name in enumerate(["Álvaro Souza", "Beatriz Lima", "João da Silva", "Joana Sá"]):
        await make_beneficiary(admin, world.client_id, n, name, city="São Paulo")
    page = (await admin.get("/api/v1/beneficiaries?page_size=2&sort=-name")).json()
    assert [i["name"] for i in page["items"]] == ["João da Silva", "Joana Sá"]
    ascending = (await admin.get("/api/v1/beneficiaries?page_size=2&sort=name")).json()
    assert [i["name"] for i in ascending["items"]] == ["Álvaro Souza", "Beatriz Lima"]
    assert (page["total"], page["page"], page["page_size"]) == (4, 1, 2)
    found = (await admin.get("/api/v1/beneficiaries?q=JOAO")).json()["items"]
    assert [i["name"] for i in found] == ["João da Silva"]
    assert (await admin.get("/api/v1/beneficiaries?q=alvaro")).json()["total"] == 1
    bad = await admin.get("/api/v1/beneficiaries?sort=password&page_size=1000")
    assert set(field_messages(bad)) == {"query.sort", "query.page_size"}


async def test_ids_out_of_range_are_not_found(login: Login, world: World) -> None:
    admin = await login("admin")
    response = await admin.get("/api/v1/clients/99999999999")
    assert response.status_code == 404
    assert (await admin.get("/api/v1/clients/0/contacts")).status_code == 404
