"""The search endpoint: as the operator types, scoped for portal users."""

from __future__ import annotations

from tests.server.api.conftest import Login, World
from tests.server.api.helpers import cpf, created, make_beneficiary


async def test_search_by_name_plate_and_document(login: Login, world: World) -> None:
    operator = await login("operacao")
    joao = await make_beneficiary(operator, world.client_id, 1, "João da Silva")
    await make_beneficiary(operator, world.client_id, 2, "Maria Souza")
    await created(
        await operator.post(
            f"/api/v1/beneficiaries/{joao['id']}/vehicles",
            json={"plate": "ABC1D23", "make": "Fiat"},
        )
    )
    by_name = (await operator.get("/api/v1/search", params={"q": "joao sil"})).json()["hits"]
    assert [h["beneficiary_name"] for h in by_name] == ["João da Silva"]
    by_plate = (await operator.get("/api/v1/search", params={"q": "abc-1d23"})).json()["hits"]
    assert [(h["kind"], h["plate"]) for h in by_plate] == [("vehicle", "ABC1D23")]
    by_cpf = (await operator.get("/api/v1/search", params={"q": cpf(1)})).json()["hits"]
    assert [h["beneficiary_id"] for h in by_cpf] == [joao["id"]]


async def test_portal_users_search_only_their_client(login: Login, world: World) -> None:
    admin = await login("admin")
    await make_beneficiary(admin, world.client_id, 1, "Ana Lima")
    await make_beneficiary(admin, world.other_client_id, 2, "Ana Lopes")
    portal = await login("cliente")
    params: dict[str, str | int] = {"q": "ana", "client_id": world.other_client_id}
    hits = (await portal.get("/api/v1/search", params=params)).json()["hits"]
    assert [h["beneficiary_name"] for h in hits] == ["Ana Lima"]


async def test_search_input_is_bounded(login: Login, world: World) -> None:
    operator = await login("operacao")
    too_long = await operator.get("/api/v1/search", params={"q": "x" * 500})
    assert too_long.status_code == 422
    too_many = await operator.get("/api/v1/search", params={"q": "ana", "limit": 10_000})
    assert too_many.status_code == 422
    missing = await operator.get("/api/v1/search")
    assert missing.json()["error"]["fields"] == [
        {"field": "query.q", "message": "Campo obrigatório"}
    ]
