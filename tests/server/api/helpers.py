"""Small builders for API tests: valid payloads and quick creations."""

from __future__ import annotations

from typing import Any

import httpx

from registry.validation import format_cpf, make_cnpj, make_cpf


def cpf(n: int) -> str:
    return format_cpf(make_cpf(100_000_000 + n))


def cnpj(n: int) -> str:
    return make_cnpj(200_000_000 + n)


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_plan(client: httpx.AsyncClient, client_id: int, kind: str, name: str) -> int:
    response = await client.post(
        f"/api/v1/clients/{client_id}/plans", json={"name": name, "kind": kind}
    )
    return int((await created(response))["id"])


async def make_beneficiary(
    client: httpx.AsyncClient, client_id: int, n: int, name: str = "João da Silva", **extra: Any
) -> dict[str, Any]:
    payload = {"client_id": client_id, "document": cpf(n), "name": name, **extra}
    return await created(await client.post("/api/v1/beneficiaries", json=payload))


def field_messages(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}
