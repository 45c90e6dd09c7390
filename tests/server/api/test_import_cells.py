"""The CSV import endpoint with cells that once broke it or that it must take: a
year in digits ``int()`` refuses (a 500 before, issue 12), an alphanumeric CNPJ."""

from __future__ import annotations

from tests.server.api.conftest import Login, World

CSV = {"content-type": "text/csv"}
CPF = "529.982.247-25"


async def test_a_year_in_superscript_digits_is_a_row_error(login: Login, world: World) -> None:
    admin = await login("admin")
    url = f"/api/v1/clients/{world.client_id}/imports?mode=valid_rows"
    data = f"document,name,plate,year\n{CPF},Ana Souza,ABC1234,²⁰²¹\n".encode()
    answer = await admin.post(url, content=data, headers=CSV)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["errors"] == [
        {"line": 2, "field": "year", "message": report["errors"][0]["message"]}
    ]
    assert report["errors"][0]["message"].startswith("ano inválido")
    assert report["valid_rows"] == 0 and report["beneficiaries_created"] == 0


async def test_an_alphanumeric_cnpj_is_imported(login: Login, world: World) -> None:
    admin = await login("admin")
    url = f"/api/v1/clients/{world.client_id}/imports"
    data = "CPF/CNPJ;Razão Social\n12.ABC.345/01DE-35;Frota Nova Ltda.\n".encode()
    answer = await admin.post(url, content=data, headers=CSV)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["error_count"], answer.json()["beneficiaries_created"]) == (0, 1)
    listed = await admin.get(f"/api/v1/beneficiaries?client_id={world.client_id}")
    [item] = listed.json()["items"]
    assert (item["document"], item["person_kind"]) == ("12ABC34501DE35", "pj")
