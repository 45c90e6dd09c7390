"""The CSV import endpoint with the example file of docs/import.md."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.settings import PROJECT_ROOT
from tests.server.api.conftest import Login, World
from tests.server.api.helpers import created

EXAMPLE = Path(PROJECT_ROOT / "docs" / "examples" / "beneficiaries.csv").read_bytes()
CSV = {"content-type": "text/csv"}


async def _catalogue(admin: httpx.AsyncClient, client_id: int) -> None:
    for code, kind in (("RESID", "beneficiary"), ("FUNERAL", "beneficiary"), ("AUTO", "vehicle")):
        await created(
            await admin.post(
                f"/api/v1/clients/{client_id}/plans",
                json={"code": code, "name": code.title(), "kind": kind},
            )
        )
    await created(
        await admin.post(
            "/api/v1/representatives", json={"name": "Corretor", "document": "987.654.321-00"}
        )
    )


async def test_import_then_reimport_updates_instead_of_duplicating(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    await _catalogue(admin, world.client_id)
    url = f"/api/v1/clients/{world.client_id}/imports?mode=all_or_nothing"
    first = await admin.post(url, content=EXAMPLE, headers=CSV)
    assert first.status_code == 200, first.text
    report = first.json()
    assert report["written"] is True and report["error_count"] == 0
    assert (report["beneficiaries_created"], report["vehicles_created"]) == (3, 3)
    again = (await admin.post(url, content=EXAMPLE, headers=CSV)).json()
    assert (again["beneficiaries_created"], again["beneficiaries_unchanged"]) == (0, 3)
    listed = await admin.get(f"/api/v1/beneficiaries?client_id={world.client_id}")
    assert listed.json()["total"] == 3
    history = (await admin.get(f"/api/v1/clients/{world.client_id}/history")).json()
    imports = [e for e in history if e["entity"] == "beneficiary_import"]
    assert len(imports) == 1  # the re-import changed nothing, so it left no entry
    assert imports[0]["changes"]["beneficiaries_created"] == [None, 3]


async def test_bad_rows_are_reported_by_line_and_nothing_is_written(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    await _catalogue(admin, world.client_id)
    broken = EXAMPLE.replace(b"ABC1234", b"AB12", 1)
    url = f"/api/v1/clients/{world.client_id}/imports"
    report = (await admin.post(url, content=broken, headers=CSV)).json()
    assert report["written"] is False
    assert report["errors"] == [
        {"line": 2, "field": "plate", "message": report["errors"][0]["message"]}
    ]
    assert "placa" in report["errors"][0]["message"].lower()
    assert (await admin.get("/api/v1/beneficiaries")).json()["total"] == 0
    partial = (await admin.post(url + "?mode=valid_rows", content=broken, headers=CSV)).json()
    assert partial["written"] is True and partial["invalid_rows"] == 1


async def test_unreadable_files_and_unauthorised_callers(login: Login, world: World) -> None:
    admin = await login("admin")
    url = f"/api/v1/clients/{world.client_id}/imports"
    empty = await admin.post(url, content=b"", headers=CSV)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_file"
    no_columns = await admin.post(url, content=b"foo;bar\n1;2\n", headers=CSV)
    assert no_columns.json()["error"]["code"] == "missing_columns"
    missing = await admin.post("/api/v1/clients/999/imports", content=EXAMPLE, headers=CSV)
    assert missing.status_code == 404
    portal = await login("cliente")
    assert (await portal.post(url, content=EXAMPLE, headers=CSV)).status_code == 403


async def test_a_file_error_is_answered_by_the_error_table_and_keeps_nothing(
    login: Login, world: World
) -> None:
    admin = await login("admin")
    await _catalogue(admin, world.client_id)
    url = f"/api/v1/clients/{world.client_id}/imports?mode=valid_rows"
    # Good rows first, then a quote never closed: the file as a whole is refused.
    unclosed = await admin.post(url, content=EXAMPLE + b'"sem fim;\n', headers=CSV)
    assert unclosed.status_code == 422, unclosed.text
    error = unclosed.json()["error"]
    assert error == {
        "code": "unclosed_quote",
        "message": error["message"],
        "fields": [{"field": "file", "message": error["message"]}],
    }
    assert error["message"]
    assert (await admin.get("/api/v1/beneficiaries")).json()["total"] == 0
    history = (await admin.get(f"/api/v1/clients/{world.client_id}/history")).json()
    assert not [e for e in history if e["entity"] == "beneficiary_import"]
