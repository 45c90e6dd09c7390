"""Every endpoint enforces the caller's role; portal users see only their client."""

from __future__ import annotations

from tests.server.api.conftest import Login, World
from tests.server.api.helpers import make_beneficiary


async def test_operations_cannot_delete_a_client(login: Login, world: World) -> None:
    operator = await login("operacao")
    response = await operator.delete(f"/api/v1/clients/{world.client_id}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    admin = await login("admin")
    assert (await admin.get(f"/api/v1/clients/{world.client_id}")).status_code == 200


async def test_operations_cannot_manage_users_or_roles(login: Login, world: World) -> None:
    operator = await login("operacao")
    new_user = {"login": "novo", "name": "Novo", "password": "12345678", "role_id": 1}
    assert (await operator.get("/api/v1/users")).status_code == 403
    assert (await operator.post("/api/v1/users", json=new_user)).status_code == 403
    assert (
        await operator.patch(
            f"/api/v1/users/{world.users['operacao']}",
            json={"role_id": world.roles["Administrador"]},
        )
    ).status_code == 403
    assert (await operator.get("/api/v1/roles")).status_code == 403


async def test_operations_can_register_beneficiaries(login: Login, world: World) -> None:
    operator = await login("operacao")
    await make_beneficiary(operator, world.client_id, 1)
    assert (await operator.get("/api/v1/beneficiaries")).json()["total"] == 1


async def test_admin_manages_users_and_passwords_never_leak(login: Login, world: World) -> None:
    admin = await login("admin")
    payload = {
        "login": "Maria.Souza",
        "name": "Maria",
        "password": "segredo123",
        "role_id": world.roles["Operação"],
    }
    response = await admin.post("/api/v1/users", json=payload)
    assert response.status_code == 201
    body = response.json()
    assert body["login"] == "maria.souza"
    assert "password" not in body and "password_hash" not in body
    duplicate = await admin.post("/api/v1/users", json={**payload, "login": "maria.souza"})
    assert duplicate.status_code == 409


async def test_client_portal_user_sees_only_its_own_client(login: Login, world: World) -> None:
    admin = await login("admin")
    mine = await make_beneficiary(admin, world.client_id, 1, "Ana Lima")
    theirs = await make_beneficiary(admin, world.other_client_id, 2, "Bruno Costa")
    portal = await login("cliente")
    listed = (await portal.get("/api/v1/beneficiaries")).json()
    assert [b["id"] for b in listed["items"]] == [mine["id"]]
    assert listed["total"] == 1
    filtered = await portal.get(f"/api/v1/beneficiaries?client_id={world.other_client_id}")
    assert filtered.json()["items"] == []
    assert (await portal.get(f"/api/v1/beneficiaries/{theirs['id']}")).status_code == 404
    assert (await portal.get(f"/api/v1/beneficiaries/{theirs['id']}/vehicles")).status_code == 404
    assert (await portal.get(f"/api/v1/clients/{world.other_client_id}")).status_code == 404
    clients = (await portal.get("/api/v1/clients")).json()["items"]
    assert [c["id"] for c in clients] == [world.client_id]


async def test_client_portal_user_cannot_write_or_see_providers(login: Login, world: World) -> None:
    portal = await login("cliente")
    response = await portal.post(
        "/api/v1/beneficiaries", json={"client_id": world.client_id, "document": "x", "name": "y"}
    )
    assert response.status_code == 403
    assert (await portal.get("/api/v1/providers")).status_code == 403
    assert (await portal.get("/api/v1/users")).status_code == 403
