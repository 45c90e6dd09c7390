"""A new password or a deactivation ends the user's sign-ins; administrators see
and revoke other users' API tokens (hardening issue, item 6)."""

from __future__ import annotations

import httpx

from tests.server.api.conftest import PASSWORD, Login, World, anonymous_client

NEW_PASSWORD = "uma-senha-nova-e-longa"


async def _token(client: httpx.AsyncClient) -> tuple[int, str]:
    created = await client.post("/api/v1/auth/tokens", json={"name": "script"})
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["token"]


def _bearer(app_client: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    app_client.headers["Authorization"] = f"Bearer {token}"
    return app_client


async def test_a_new_password_ends_the_users_sessions_and_tokens(
    login: Login, world: World, app: object
) -> None:
    operator = await login("operacao")
    _, secret = await _token(operator)
    admin = await login("admin")
    changed = await admin.patch(
        f"/api/v1/users/{world.users['operacao']}", json={"password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert (await operator.get("/api/v1/auth/me")).status_code == 401
    async with anonymous_client(app) as by_token:  # type: ignore[arg-type]
        assert (await _bearer(by_token, secret).get("/api/v1/auth/me")).status_code == 401
    async with anonymous_client(app) as again:  # type: ignore[arg-type]
        signed = await again.post(
            "/api/v1/auth/login", json={"login": "operacao", "password": NEW_PASSWORD}
        )
        assert signed.status_code == 200
    assert (await admin.get("/api/v1/auth/me")).status_code == 200  # others untouched


async def test_a_deactivated_user_is_signed_out(login: Login, world: World) -> None:
    operator = await login("operacao")
    admin = await login("admin")
    response = await admin.patch(f"/api/v1/users/{world.users['operacao']}", json={"active": False})
    assert response.status_code == 200, response.text
    assert (await operator.get("/api/v1/auth/me")).status_code == 401


async def test_an_administrator_lists_and_revokes_another_users_tokens(
    login: Login, world: World, app: object
) -> None:
    operator = await login("operacao")
    token_id, secret = await _token(operator)
    admin = await login("admin")
    path = f"/api/v1/users/{world.users['operacao']}/tokens"
    listed = await admin.get(path)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [token_id]
    assert "token" not in listed.json()[0]  # never the secret
    assert (await operator.get(path)).status_code == 403  # not for the operator itself
    wrong_user = f"/api/v1/users/{world.users['admin']}/tokens/{token_id}"
    assert (await admin.delete(wrong_user)).status_code == 404
    assert (await admin.delete(f"{path}/{token_id}")).status_code == 204
    assert (await admin.get(path)).json()[0]["revoked_at"] is not None
    async with anonymous_client(app) as by_token:  # type: ignore[arg-type]
        assert (await _bearer(by_token, secret).get("/api/v1/auth/me")).status_code == 401
    assert (await admin.get("/api/v1/users/2147483647/tokens")).status_code == 404


__all__ = ["PASSWORD"]


async def test_nobody_deletes_or_deactivates_their_own_user(login: Login, world: World) -> None:
    admin = await login("admin")
    me = f"/api/v1/users/{world.users['admin']}"
    deleted = await admin.delete(me)
    assert deleted.status_code == 409 and deleted.json()["error"]["code"] == "own_user"
    assert (await admin.patch(me, json={"active": False})).status_code == 409
    assert (await admin.patch(me, json={"name": "Admin Novo"})).status_code == 200
    assert (await admin.get("/api/v1/auth/me")).status_code == 200
