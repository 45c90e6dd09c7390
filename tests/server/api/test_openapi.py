"""The OpenAPI document: it covers every route, and it says what the server checks.

Also walks every field the "Módulo Negócio" article lists for Cliente and
Beneficiários and finds it in the document.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.api import build_api
from server.api.core import PREFIX
from tests.server.api.conftest import Login, World

TOP_LEVEL_CREATES = [
    "clients",
    "beneficiaries",
    "representatives",
    "suppliers",
    "providers",
    "service_types",
    "incident_types",
    "cancellation_reasons",
    "refusal_reasons",
    "extra_items",
    "ledger_categories",
    "roles",
    "users",
]


@pytest.fixture
async def document(login: Login) -> dict[str, Any]:
    admin = await login("admin")
    response = await admin.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


def _body_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    schema: dict[str, Any] = doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    return schema


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(doc, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _resolve(doc, option)
    return schema


async def test_every_operation_is_in_the_document(document: dict[str, Any]) -> None:
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    routed = {
        (route.path.replace(":int", ""), method)
        for route in build_api().routes()
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == routed
    for schema in document["components"]["schemas"].values():
        assert "$ref" not in str(schema) or "#/components/schemas/" in str(schema)


@pytest.mark.parametrize("resource", TOP_LEVEL_CREATES)
async def test_required_fields_are_exactly_what_the_server_demands(
    document: dict[str, Any], login: Login, resource: str
) -> None:
    schema = _body_schema(document, f"{PREFIX}/{resource}", "post")
    assert schema.get("additionalProperties") is False
    admin = await login("admin")
    response = await admin.post(f"{PREFIX}/{resource}", json={})
    assert response.status_code == 422
    missing = {f["field"] for f in response.json()["error"]["fields"]}
    assert missing == set(schema.get("required", []))


async def test_unknown_fields_are_refused_as_the_document_says(login: Login) -> None:
    admin = await login("admin")
    response = await admin.post(f"{PREFIX}/incident_types", json={"name": "X", "colour": "red"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == [
        {"field": "colour", "message": "Campo desconhecido"}
    ]


ADDRESS = ["street", "number", "complement", "neighbourhood", "city", "state", "cep"]

# The article's words → where the API holds them: (path, method, body fields).
CLIENT_FIELDS: dict[str, list[tuple[str, list[str]]]] = {
    "CNPJ, Insc. Estadual, Data de Contrato, Nome Fantasia, Razão Social": [
        ("/clients", ["cnpj", "state_registration", "contract_date", "trade_name", "legal_name"])
    ],
    "Endereço": [("/clients", ADDRESS)],
    "VIP": [("/clients", ["vip"])],
    "Contatos: telefones, e-mail, skype e Whatsapp": [
        ("/clients/{client_id}/contacts", ["kind", "value", "label"])
    ],
    "Contas bancárias": [
        ("/clients/{client_id}/bank_accounts", ["bank_code", "branch", "account"])
    ],
    "Responsáveis": [("/clients/{client_id}/responsibles", ["name", "position"])],
    "Contratos: código, especificar, vincular planos": [
        ("/clients/{client_id}/contracts", ["code", "description", "plan_ids"])
    ],
    "Usuários (acesso ao portal do cliente)": [("/users", ["kind", "client_id"])],
    "Parceiros": [("/providers/{provider_id}/partners", ["client_id"])],
    "Estabelecimentos Parceiros": [
        ("/clients/{client_id}/partner_sites", ["name", "kind", "location"])
    ],
}
BENEFICIARY_FIELDS: dict[str, list[tuple[str, list[str]]]] = {
    "Cliente, Tipo de Cadastro": [("/beneficiaries", ["client_id", "person_kind"])],
    "CPF, RG, Nome, Sexo e Data de Nascimento": [
        ("/beneficiaries", ["document", "rg", "name", "sex", "birth_date"])
    ],
    "Planos e Data de Contrato": [
        ("/beneficiaries/{beneficiary_id}/plans", ["plan_id", "starts_on", "ends_on"])
    ],
    "Representante": [("/beneficiaries", ["representative_id"])],
    "Endereço": [("/beneficiaries", [*ADDRESS, "location"])],
    "Contatos: e-mail, telefones e Whatsapp": [
        ("/beneficiaries", ["email", "phone", "phone_secondary", "whatsapp"])
    ],
    "Veículos com o plano de cada um": [
        (
            "/beneficiaries/{beneficiary_id}/vehicles",
            ["plate", "vin", "make", "model", "year", "colour", "plan_id"],
        )
    ],
}
READ_ONLY_TABS = {
    "Cliente: Arquivos": "/clients/{item_id}/files",
    "Cliente: Histórico": "/clients/{item_id}/history",
    "Cliente: Parceiros": "/clients/{client_id}/partners",
    "Beneficiário: Ocorrências": "/beneficiaries/{item_id}/occurrences",
    "Beneficiário: Arquivos": "/beneficiaries/{item_id}/files",
    "Beneficiário: Histórico": "/beneficiaries/{item_id}/history",
}


@pytest.mark.parametrize(
    "entity", [CLIENT_FIELDS, BENEFICIARY_FIELDS], ids=["cliente", "beneficiario"]
)
async def test_every_field_of_the_article_is_in_the_api(
    document: dict[str, Any], entity: dict[str, list[tuple[str, list[str]]]]
) -> None:
    for words, places in entity.items():
        for path, fields in places:
            properties = _body_schema(document, PREFIX + path, "post")["properties"]
            missing = [f for f in fields if f not in properties]
            assert not missing, f"{words}: {missing} not in POST {path}"


async def test_contact_kinds_and_person_kinds_of_the_article(document: dict[str, Any]) -> None:
    contact = _body_schema(document, f"{PREFIX}/clients/{{client_id}}/contacts", "post")
    kinds = _resolve(document, contact["properties"]["kind"])["enum"]
    assert set(kinds) == {"phone", "email", "skype", "whatsapp"}
    beneficiary = _body_schema(document, f"{PREFIX}/beneficiaries", "post")
    assert set(_resolve(document, beneficiary["properties"]["person_kind"])["enum"]) == {"pf", "pj"}


async def test_the_article_tabs_have_endpoints(document: dict[str, Any]) -> None:
    for tab, path in READ_ONLY_TABS.items():
        assert "get" in document["paths"].get(PREFIX + path, {}), tab


async def test_portal_users_are_bound_to_their_client_as_documented(
    login: Login, world: World, anon: httpx.AsyncClient
) -> None:
    admin = await login("admin")
    portal_role = world.roles["Portal do Cliente"]
    missing_client = await admin.post(
        f"{PREFIX}/users",
        json={
            "login": "portal2",
            "name": "P",
            "password": "12345678",
            "role_id": portal_role,
            "kind": "client",
        },
    )
    assert missing_client.status_code == 422
    assert missing_client.json()["error"]["fields"][0]["field"] == "client_id"
