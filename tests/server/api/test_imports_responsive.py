"""A large or hostile CSV import never holds the event loop (hardening issue, item 1)."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import string
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.conftest import unit
from tests.server.api.conftest import Login, World
from tests.server.api.helpers import cpf, created

ROWS = 20_000
PIECE = 64 * 1024  # the body arrives in pieces of this size
CSV = {"content-type": "text/csv"}
PERSON = ("document", "name", "phone", "city", "state", "plan_codes", "plan_starts_on")
HEADER = (*PERSON, "plate", "make", "model", "year", "vehicle_plan_code")


@pytest.fixture
async def app(settings: Settings, redis: Any) -> AsyncIterator[Starlette]:
    """The app with one batch for the whole file: while the file parses, the only
    awaits are then the parser's own, so healthz can be answered mid-file only if
    parsing leaves the event loop free."""
    application = create_app(dataclasses.replace(settings, import_batch_size=ROWS + 1))
    async with application.router.lifespan_context(application):
        yield application


def plate(n: int) -> str:
    letters = string.ascii_uppercase
    return f"{letters[n // 676 % 26]}{letters[n // 26 % 26]}{letters[n % 26]}{n // 17_576:04d}"


def big_csv(rows: int) -> bytes:
    """A valid file of ``rows`` beneficiaries, each with a vehicle and both plans."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for n in range(rows):
        person = (cpf(n), f"Pessoa {n}", "(11) 98765-4321", "São Paulo", "SP")
        writer.writerow((*person, "RESID", "2025-01-01", plate(n), "Fiat", "Argo", "2021", "AUTO"))
    return out.getvalue().encode()


async def _plans(admin: httpx.AsyncClient, client_id: int) -> None:
    for code, kind in (("RESID", "beneficiary"), ("AUTO", "vehicle")):
        plan = {"code": code, "name": code.title(), "kind": kind}
        await created(await admin.post(f"/api/v1/clients/{client_id}/plans", json=plan))


async def test_healthz_is_answered_while_a_large_import_parses(
    login: Login, world: World, anon: httpx.AsyncClient
) -> None:
    admin = await login("admin")
    await _plans(admin, world.client_id)
    data = big_csv(ROWS)
    pieces = [data[start : start + PIECE] for start in range(0, len(data), PIECE)]
    pulled = 0  # pieces of the body the server has asked for
    parsing = asyncio.Event()
    finished: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for piece in pieces:
            pulled += 1
            parsing.set()  # the server has the header and the first rows
            yield piece

    async def upload() -> httpx.Response:
        url = f"/api/v1/clients/{world.client_id}/imports"
        response = await admin.post(url, content=body(), headers=CSV)
        finished.append("import")
        return response

    async def health() -> tuple[int, int]:
        await parsing.wait()
        response = await anon.get("/healthz")
        finished.append("healthz")
        return response.status_code, pulled

    imported, (status, pulled_by_then) = await asyncio.gather(upload(), health())
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["beneficiaries_created"], report["vehicles_created"]) == (ROWS, ROWS)
    assert status == 200
    assert finished == ["healthz", "import"]
    # Answered while the server was still reading (so parsing) the file.
    assert pulled_by_then < len(pieces)


async def test_an_unclosed_quote_on_a_long_line_is_refused_at_once(
    login: Login, world: World
) -> None:
    # Splitting such a line used to take 40-60 s of the event loop's time.
    admin = await login("admin")
    data = b'document,name\r\n123,"' + b"x" * 100_000
    started = time.monotonic()
    response = await admin.post(
        f"/api/v1/clients/{world.client_id}/imports", content=data, headers=CSV
    )
    assert time.monotonic() - started < unit(5)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "line_too_long"
    assert "linha 2" in response.json()["error"]["message"]
