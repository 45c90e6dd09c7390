"""Audit entries (Histórico) for every change, and file attachments."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.server.api.conftest import Login, World
from tests.server.api.helpers import created, make_beneficiary

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def _history(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    response = await client.get(path + "/history")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_create_update_delete_are_audited_with_who_and_what(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    person = await make_beneficiary(admin, world.client_id, 1, "Ana")
    path = f"/api/v1/beneficiaries/{person['id']}"
    await admin.patch(path, json={"name": "Ana Maria", "phone": "11 98888-7777"})
    await admin.patch(path, json={"name": "Ana Maria"})  # no change: no entry
    vehicle = await created(await admin.post(path + "/vehicles", json={"plate": "ABC1D23"}))
    assert (await admin.delete(f"{path}/vehicles/{vehicle['id']}")).status_code == 204
    entries = await _history(admin, path)
    assert [(e["entity"], e["action"]) for e in entries] == [
        ("vehicle", "delete"),
        ("vehicle", "create"),
        ("beneficiary", "update"),
        ("beneficiary", "create"),
    ]
    update = entries[2]
    assert update["actor_login"] == "admin"
    assert update["changes"] == {"name": ["Ana", "Ana Maria"], "phone": [None, "+5511988887777"]}
    assert entries[3]["changes"]["name"] == [None, "Ana"]
    assert entries[0]["changes"]["plate"] == ["ABC1D23", None]
    assert len(entries[0]["request_id"]) == 32


async def test_secrets_never_reach_the_audit_log(
    login: Login, world: World, db: async_sessionmaker[AsyncSession]
) -> None:
    admin = await login("admin")
    user = await created(
        await admin.post(
            "/api/v1/users",
            json={"login": "bia", "name": "Bia", "password": "segredo-forte", "role_id": 1},
        )
    )
    await admin.patch(f"/api/v1/users/{user['id']}", json={"password": "outro-segredo"})
    async with db() as session:
        rows = (await session.scalars(text("SELECT changes::text FROM audit_log"))).all()
    assert rows and not any("segredo" in row or "argon2" in row for row in rows)
    # that the password changed is audited, never what it was or became
    assert '{"password_hash": ["***", "***"]}' in rows


async def test_a_failed_change_leaves_no_audit_entry(login: Login, world: World) -> None:
    admin = await login("admin")
    await make_beneficiary(admin, world.client_id, 1)
    refused = await admin.post(
        f"/api/v1/clients/{world.client_id}/contacts", json={"kind": "phone", "value": "123"}
    )
    assert refused.status_code == 422
    assert await _history(admin, f"/api/v1/clients/{world.client_id}") == []


async def test_files_upload_list_download_and_type_check(login: Login, world: World) -> None:
    admin = await login("admin")
    person = await make_beneficiary(admin, world.client_id, 1)
    url = f"/api/v1/beneficiaries/{person['id']}/files?filename=CNH%20frente.pdf"
    uploaded = await created(
        await admin.post(url, content=PDF, headers={"content-type": "application/pdf"})
    )
    assert (uploaded["size"], uploaded["filename"]) == (len(PDF), "CNH frente.pdf")
    listed = await admin.get(f"/api/v1/beneficiaries/{person['id']}/files")
    assert [f["id"] for f in listed.json()] == [uploaded["id"]]
    download = await admin.get(f"/api/v1/files/{uploaded['id']}")
    assert download.status_code == 200 and download.content == PDF
    assert "attachment" in download.headers["content-disposition"]
    lying = await admin.post(
        url, content=b"MZ\x90\x00 not a pdf", headers={"content-type": "application/pdf"}
    )
    assert lying.status_code == 422
    exe = await admin.post(url, content=b"MZ", headers={"content-type": "application/x-msdos"})
    assert exe.status_code == 422
    history = await _history(admin, f"/api/v1/beneficiaries/{person['id']}")
    assert history[0]["entity"] == "attachment"


async def test_files_are_authorised_like_their_owner(login: Login, world: World) -> None:
    admin = await login("admin")
    theirs = await make_beneficiary(admin, world.other_client_id, 2)
    uploaded = await created(
        await admin.post(
            f"/api/v1/beneficiaries/{theirs['id']}/files?filename=a.pdf",
            content=PDF,
            headers={"content-type": "application/pdf"},
        )
    )
    portal = await login("cliente")
    assert (await portal.get(f"/api/v1/files/{uploaded['id']}")).status_code == 404
    assert (await portal.delete(f"/api/v1/files/{uploaded['id']}")).status_code == 404
    operator = await login("operacao")
    assert (await operator.delete(f"/api/v1/files/{uploaded['id']}")).status_code == 204
