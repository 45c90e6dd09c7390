"""CSV import of beneficiaries with vehicles and plans (registry.importing).

The first part tests the pure parser (no database); the second the loader on the
test database: modes, re-import, per-line errors, limits, streaming.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.db import transaction
from registry.enums import PersonKind, PlanKind
from registry.errors import Conflict, NotFound, ValidationError
from registry.importing import (
    CsvImportParser,
    ImportFileError,
    ImportLimits,
    ImportMode,
    ImportReport,
    ImportRow,
    PlanCatalogue,
    PlanRef,
    RowError,
    import_beneficiaries,
)
from registry.importing.batch import BatchWriter
from registry.importing.columns import ALIASES, column_for
from registry.models import Beneficiary, Client, Plan, Representative, Vehicle
from registry.validation import make_cnpj, make_cpf, normalize_email
from server.settings import PROJECT_ROOT

Sessions = async_sessionmaker[AsyncSession]
TODAY = date(2026, 11, 24)
CPF_ANA, CPF_BRUNO, CPF_CAIO = make_cpf(529982247), make_cpf(111444777), make_cpf(123456780)
CNPJ_FROTA = make_cnpj(112223330001)
CPF_REPRESENTATIVE = make_cpf(987654321)
HEADER = (
    "document",
    "name",
    "birth_date",
    "phone",
    "email",
    "city",
    "state",
    "cep",
    "lat",
    "lng",
    "representative_document",
    "plan_codes",
    "plan_starts_on",
    "plate",
    "make",
    "model",
    "year",
    "vehicle_plan_code",
)
ANA = {
    "document": CPF_ANA,
    "name": "Ana Souza",
    "birth_date": "05/03/1980",
    "phone": "(11) 98765-4321",
    "email": "ana@example.com",
    "city": "São Paulo",
    "state": "sp",
    "cep": "01310-200",
    "lat": "-23.5614",
    "lng": "-46.6559",
    "representative_document": CPF_REPRESENTATIVE,
    "plan_codes": "RESID",
    "plan_starts_on": "2025-01-01",
    "plate": "ABC-1234",
    "make": "Fiat",
    "model": "Argo",
    "year": "2021",
    "vehicle_plan_code": "AUTO",
}
ROWS: list[dict[str, str]] = [
    ANA,
    {**ANA, "plate": "abc1d23", "model": "Mobi", "year": "2019"},  # Ana's second vehicle
    {"document": CPF_BRUNO, "name": "Bruno Lima", "phone": "11 3333-4444"},  # no vehicle
    {
        "document": CNPJ_FROTA,
        "name": "Frota Ltda.",
        "plate": "DEF5G67",
        "vehicle_plan_code": "AUTO",
    },
]
PLANS = PlanCatalogue(
    [
        PlanRef(1, "RESID", PlanKind.BENEFICIARY),
        PlanRef(2, "AUTO", PlanKind.VEHICLE),
        PlanRef(3, "OLD", PlanKind.BENEFICIARY, active=False),
        PlanRef(4, "FUNERAL", PlanKind.BENEFICIARY),
    ]
)


def make_csv(
    rows: Sequence[dict[str, str]],
    header: Sequence[str] = HEADER,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    bom: bytes = b"",
) -> bytes:
    """A CSV of ``rows`` (missing cells empty), CRLF line breaks."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return bom + out.getvalue().encode(encoding)


def parse(
    data: bytes, chunk: int = 0, limits: ImportLimits | None = None
) -> tuple[list[ImportRow], list[RowError], CsvImportParser]:
    """Run the pure parser over ``data`` fed in chunks of ``chunk`` bytes (0: one)."""
    parser = CsvImportParser(PLANS, today=TODAY, limits=limits or ImportLimits())
    size = chunk or max(len(data), 1)
    events = [
        e for start in range(0, len(data), size) for e in parser.feed(data[start : start + size])
    ]
    events += parser.close()
    rows = [e for e in events if isinstance(e, ImportRow)]
    return rows, [e for e in events if isinstance(e, RowError)], parser


# --- the pure parser ----------------------------------------------------------------


def test_parser_normalises_a_valid_file() -> None:
    rows, errors, parser = parse(make_csv(ROWS))
    assert errors == []
    assert [row.line for row in rows] == [2, 3, 4, 5]
    ana = rows[0]
    assert ana.beneficiary["person_kind"] is PersonKind.PF
    assert ana.beneficiary["phone"] == "+5511987654321"
    assert ana.beneficiary["state"] == "SP"
    assert ana.beneficiary["cep"] == "01310200"
    assert ana.beneficiary["birth_date"] == date(1980, 3, 5)
    assert ana.beneficiary["location"] == "SRID=4326;POINT(-46.6559000 -23.5614000)"
    assert ana.vehicle == {
        "plate": "ABC1234",
        "make": "Fiat",
        "model": "Argo",
        "year": 2021,
        "plan_id": 2,
    }
    assert [(p.plan_id, p.starts_on) for p in ana.plans] == [(1, date(2025, 1, 1))]
    assert rows[1].vehicle is not None and rows[1].vehicle["plate"] == "ABC1D23"
    assert rows[2].vehicle is None
    assert rows[3].beneficiary["person_kind"] is PersonKind.PJ  # inferred from 14 digits
    assert (parser.encoding, parser.header and parser.header.delimiter) == ("utf-8", ",")


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("cp1252", b"", "cp1252"),
        ("latin-1", codecs.BOM_UTF8, "cp1252"),  # a UTF-8 mark before Latin-1 bytes
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16", b"", "utf-16"),
    ],
)
def test_parser_reads_spreadsheet_exports(encoding: str, bom: bytes, expected: str) -> None:
    header = ["CPF/CNPJ", "Nome", "Data de Nascimento", "Cidade", "Placa", "Plano Veículo"]
    row = [CPF_ANA, "João Conceição", "05/03/1980", "Jundiaí", "ABC1234", "AUTO"]
    text_ = ";".join(header) + "\r\n" + ";".join(row) + "\r\n"
    rows, errors, parser = parse(bom + text_.encode(encoding), chunk=5)
    assert errors == []
    assert parser.encoding == expected
    assert parser.header is not None and parser.header.delimiter == ";"
    assert rows[0].beneficiary["name"] == "João Conceição"
    assert rows[0].beneficiary["city"] == "Jundiaí"


def test_row_errors_carry_physical_lines_after_a_quoted_line_break() -> None:
    data = (
        "document,name,plate\n"
        f'{CPF_ANA},"Ana\nSouza\nda Silva",ABC1234\n'  # lines 2-4
        "\n"  # line 5: blank, not a row
        f"{CPF_BRUNO},Bruno,XX12\n"  # line 6
        "123,,ABC1234\n"  # line 7
    ).encode()
    rows, errors, parser = parse(data)
    assert [row.line for row in rows] == [2]
    assert rows[0].beneficiary["name"] == "Ana Souza da Silva"
    assert [(e.line, e.field) for e in errors] == [
        (6, "plate"),
        (7, "document"),
        (7, "name"),
    ]
    assert errors[0].message.startswith("Placa inválida")
    assert errors[1].message == "CPF inválido"
    assert errors[2].message == "campo obrigatório"
    assert parser.rows == 3


def test_line_numbers_count_lone_carriage_returns() -> None:
    data = f"document,name,plate\r{CPF_ANA},Ana,ABC1234\r{CPF_BRUNO},Bruno,X\r".encode()
    _, errors, _ = parse(data, chunk=3)
    assert [(e.line, e.field) for e in errors] == [(3, "plate")]


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"plan_codes": "NOPE"}, "plan_codes", "plano 'NOPE' não existe para este cliente"),
        ({"plan_codes": "AUTO"}, "plan_codes", "plano 'AUTO' não é um plano do beneficiário"),
        ({"plan_codes": "OLD"}, "plan_codes", "plano 'OLD' está inativo"),
        (
            {"vehicle_plan_code": "RESID"},
            "vehicle_plan_code",
            "plano 'RESID' não é um plano de veículo",
        ),
        ({"plan_starts_on": ""}, "plan_starts_on", "informe a data de início dos planos"),
        ({"birth_date": "1980/03/05"}, "birth_date", "data inválida: use dd/mm/aaaa ou aaaa-mm-dd"),
        ({"birth_date": "31/02/1980"}, "birth_date", "data inexistente"),
        ({"birth_date": "01/01/2027"}, "birth_date", "data de nascimento no futuro"),
        ({"email": "ana@"}, "email", "E-mail inválido"),
        ({"phone": "1234"}, "phone", "Telefone inválido: informe DDD e número"),
        ({"state": "XX"}, "state", "UF inválida"),
        ({"lat": "-46.6"}, "lat", "coordenada fora do Brasil (latitude e longitude trocadas?)"),
        ({"lng": ""}, "lng", "informe latitude e longitude juntas"),
        ({"year": "2031"}, "year", "ano inválido: informe de 1900 a 2027"),
        # str.isdigit() is True for these, and int() refuses or rereads them
        ({"year": "²⁰²¹"}, "year", "ano inválido: informe de 1900 a 2027"),
        ({"year": "٢٠٢١"}, "year", "ano inválido: informe de 1900 a 2027"),
        ({"birth_date": "٠٥/٠٣/١٩٨٠"}, "birth_date", "data inválida: use dd/mm/aaaa ou aaaa-mm-dd"),
        ({"document": "²⁵²⁹⁹⁸²²⁴⁷"}, "document", "CPF/CNPJ inválido"),
        ({"plate": "", "make": "Fiat"}, "plate", "informe a placa do veículo"),
        ({"name": "x" * 161}, "name", "texto longo demais (máximo 160 caracteres)"),
    ],
)
def test_row_errors_say_what_is_wrong(cells: dict[str, str], field: str, message: str) -> None:
    _, errors, _ = parse(make_csv([{**ANA, **cells}]))
    assert errors == [RowError(2, field, message)]


def test_plan_codes_report_every_bad_code_of_a_cell() -> None:
    _, errors, _ = parse(make_csv([{**ANA, "plan_codes": "RESID | NOPE|AUTO"}]))
    assert [e.message for e in errors] == [
        "plano 'NOPE' não existe para este cliente; plano 'AUTO' não é um plano do beneficiário"
    ]


def test_spreadsheet_damage_is_undone() -> None:
    cpf = make_cpf("012345678")  # Excel shows it as a number: the leading 0 is lost
    header = ("document", "person_kind", "name", "cep", "lat", "lng", "birth_date")
    row = {"document": cpf[1:], "person_kind": "F", "name": "  Ana   Souza ", "cep": "1310200"}
    row |= {"lat": "-23,5614", "lng": "-46,6559", "birth_date": "05/03/1980 00:00:00"}
    rows, errors, _ = parse(make_csv([row], header, delimiter=";"))
    assert errors == []
    assert rows[0].document == cpf
    assert rows[0].beneficiary["name"] == "Ana Souza"
    assert rows[0].beneficiary["cep"] == "01310200"
    assert rows[0].beneficiary["birth_date"] == date(1980, 3, 5)
    assert rows[0].beneficiary["location"] == "SRID=4326;POINT(-46.6559000 -23.5614000)"


def test_email_addresses_keep_their_mailbox_and_lower_their_domain() -> None:
    assert normalize_email(" Ana.Souza@Example.COM.br ") == "Ana.Souza@example.com.br"
    for bad in ("ana@", "ana@example", "ana souza@example.com", "a@@example.com", "@x.com"):
        with pytest.raises(ValidationError):
            normalize_email(bad)


def test_the_documented_example_file_is_valid() -> None:
    rows, errors, parser = parse((PROJECT_ROOT / "docs/examples/beneficiaries.csv").read_bytes())
    assert errors == []
    assert parser.header is not None and parser.header.ignored == ()
    assert len(parser.header.positions) == len(ALIASES)  # every column, documented
    assert [row.document for row in rows] == [CPF_ANA, CPF_ANA, CPF_BRUNO, CNPJ_FROTA]
    assert rows[0].beneficiary["complement"] == "Apto 42, bloco B"
    assert [len(row.plans) for row in rows] == [1, 1, 2, 0]


def test_header_names_match_loosely() -> None:
    assert column_for("CPF/CNPJ") == "document"
    assert column_for(" Data de Nascimento ") == "birth_date"
    assert column_for("E-mail") == "email"
    assert column_for("Nº") == "number"
    assert column_for("Início do Plano") == "plan_starts_on"
    assert column_for("PLACA") == "plate"
    assert column_for("observações") is None


def test_unknown_columns_are_ignored_and_listed() -> None:
    header = ("document", "Observações", "name", "")
    rows, errors, parser = parse(make_csv([{"document": CPF_ANA, "name": "Ana"}], header))
    assert (len(rows), errors) == (1, [])
    assert parser.header is not None and parser.header.ignored == ("Observações",)


def test_rows_longer_than_the_header_are_errors_shorter_ones_are_padded() -> None:
    data = f"document,name,city\n{CPF_ANA},Ana\n{CPF_BRUNO},Bruno,Santos,extra\n".encode()
    rows, errors, _ = parse(data)
    assert [row.line for row in rows] == [2]
    assert rows[0].beneficiary["city"] is None
    assert errors == [RowError(3, None, "a linha tem 4 campos; o cabeçalho tem 3")]


@pytest.mark.parametrize(
    ("data", "code", "line"),
    [
        (b"", "empty_file", 0),
        (b"\r\n\r\n", "empty_file", 1),
        (b"document,name\r\n", "empty_file", 0),
        (b"nome,placa\r\n", "missing_columns", 1),
        (b"cpf,cpf_cnpj,nome\r\n", "duplicate_column", 1),
        (b"cpf,nome,chassi\r\n", "dependent_column", 1),
        (b"cpf,nome,planos\r\n", "dependent_column", 1),
        (b'cpf,nome\r\n1,"Ana\r\n2,Bruno\r\n', "unclosed_quote", 2),
        (b"PK\x03\x04\x14\x00", "not_csv", 1),
        ("cpf,nome\r\n1,João\r\n".encode() + b"2,Jo\xe3o\r\n", "bad_encoding", 3),
    ],
)
def test_file_errors_are_raised_before_or_instead_of_rows(
    data: bytes, code: str, line: int
) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse(data)
    assert (caught.value.code, caught.value.line) == (code, line)
    assert caught.value.field == "file"
    assert caught.value.message


def test_missing_columns_are_named_in_english_and_portuguese() -> None:
    with pytest.raises(ImportFileError) as caught:
        parse(b"placa;cidade\r\nABC1234;Santos\r\n")
    assert caught.value.message == (
        "colunas obrigatórias ausentes: document (cpf_cnpj), name (nome)"
    )


def test_limits_stop_the_file() -> None:
    data = make_csv([{"document": CPF_ANA, "name": "Ana"}] * 4)
    with pytest.raises(ImportFileError, match="mais de 3 linhas") as caught:
        parse(data, limits=ImportLimits(max_rows=3))
    assert (caught.value.code, caught.value.line) == ("too_many_rows", 5)
    with pytest.raises(ImportFileError) as too_large:
        parse(data, chunk=10, limits=ImportLimits(max_file_bytes=len(data) - 1))
    assert too_large.value.code == "file_too_large"
    with pytest.raises(ImportFileError) as too_long:
        parse(
            b"document,name\r\n" + b"x" * 100 + b"\r\n",
            chunk=7,
            limits=ImportLimits(max_line_chars=50),
        )
    assert (too_long.value.code, too_long.value.line) == ("line_too_long", 2)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=64))
def test_chunking_does_not_change_the_result(chunk: int) -> None:
    data = make_csv([*ROWS, {**ANA, "name": 'Ana "Nina"\r\nSouza', "plate": "X"}], delimiter=";")
    whole = parse(data)
    pieces = parse(data, chunk=chunk)
    assert (pieces[0], pieces[1]) == (whole[0], whole[1])
    assert len(whole[0]) == 4 and [e.line for e in whole[1]] == [6]


# --- the loader, on the database ----------------------------------------------------


@dataclass(frozen=True)
class World:
    """A client with plans and a representative; another client owning a plate."""

    client_id: int
    other_client_id: int
    foreign_plate: str = "XYZ9A99"


@pytest.fixture
async def world(db: Sessions) -> World:
    async with transaction(db) as session:
        client_id, other_id = (
            await session.execute(
                insert(Client).returning(Client.id),
                [
                    {"cnpj": make_cnpj(100000000001), "trade_name": "A", "legal_name": "A Ltda."},
                    {"cnpj": make_cnpj(200000000001), "trade_name": "B", "legal_name": "B Ltda."},
                ],
            )
        ).scalars()
        await session.execute(
            insert(Plan),
            [
                {
                    "client_id": client_id,
                    "code": "RESID",
                    "name": "Casa",
                    "kind": PlanKind.BENEFICIARY,
                },
                {"client_id": client_id, "code": "AUTO", "name": "Auto", "kind": PlanKind.VEHICLE},
                {"client_id": other_id, "code": "AUTO-B", "name": "Auto", "kind": PlanKind.VEHICLE},
            ],
        )
        await session.execute(
            insert(Representative).values(name="Rita Corretora", document=CPF_REPRESENTATIVE)
        )
        owner = await session.scalar(
            insert(Beneficiary)
            .values(client_id=other_id, person_kind=PersonKind.PF, document=CPF_CAIO, name="Caio")
            .returning(Beneficiary.id)
        )
        await session.execute(insert(Vehicle).values(beneficiary_id=owner, plate="XYZ9A99"))
    return World(client_id, other_id)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def run_import(
    db: Sessions,
    world: World,
    data: bytes,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    *,
    chunk: int = 65536,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import ``data`` for the world's client in one transaction, committed."""
    async with transaction(db) as session:
        return await import_beneficiaries(
            session,
            world.client_id,
            chunked(data, chunk),
            mode,
            limits=limits or ImportLimits(),
            today=TODAY,
        )


SNAPSHOT = {
    "beneficiaries": "SELECT id, document, person_kind, name, phone, cep, representative_id,"
    " ST_AsText(location::geometry), updated_at FROM beneficiaries WHERE client_id = :c",
    "vehicles": "SELECT v.id, v.plate, b.document, v.model, v.year, v.plan_id, v.updated_at"
    " FROM vehicles v JOIN beneficiaries b ON b.id = v.beneficiary_id WHERE b.client_id = :c",
    "plans": "SELECT p.id, b.document, p.plan_id, p.starts_on, p.ends_on, p.updated_at"
    " FROM beneficiary_plans p JOIN beneficiaries b ON b.id = p.beneficiary_id"
    " WHERE b.client_id = :c",
}


async def snapshot_in(session: AsyncSession, client_id: int) -> dict[str, list[Any]]:
    """The client's beneficiaries, vehicles and plan links, as comparable rows."""
    return {
        name: sorted(tuple(row) for row in await session.execute(text(sql), {"c": client_id}))
        for name, sql in SNAPSHOT.items()
    }


async def snapshot(db: Sessions, client_id: int) -> dict[str, list[Any]]:
    """:func:`snapshot_in` on a new session (what is committed)."""
    async with db() as session:
        return await snapshot_in(session, client_id)


def counts(report: ImportReport) -> tuple[int, ...]:
    """(beneficiaries created, updated, unchanged, vehicles created, updated, unchanged,
    plans linked, plans updated)."""
    return (
        report.beneficiaries_created,
        report.beneficiaries_updated,
        report.beneficiaries_unchanged,
        report.vehicles_created,
        report.vehicles_updated,
        report.vehicles_unchanged,
        report.plans_linked,
        report.plans_updated,
    )


async def test_a_valid_file_imports(db: Sessions, world: World) -> None:
    report = await run_import(db, world, make_csv(ROWS))
    assert (report.total_rows, report.valid_rows, report.error_count) == (4, 4, 0)
    assert counts(report) == (3, 0, 0, 3, 0, 0, 1, 0)
    assert report.written
    state = await snapshot(db, world.client_id)
    ana = next(b for b in state["beneficiaries"] if b[1] == CPF_ANA)
    assert ana[2:8] == (
        "pf",
        "Ana Souza",
        "+5511987654321",
        "01310200",
        ana[6],
        "POINT(-46.6559 -23.5614)",
    )
    assert ana[6] is not None  # the representative, found by document
    assert [(v[1], v[2], v[3]) for v in state["vehicles"]] == [
        ("ABC1234", CPF_ANA, "Argo"),
        ("ABC1D23", CPF_ANA, "Mobi"),
        ("DEF5G67", CNPJ_FROTA, None),
    ]
    assert [(p[1], p[3]) for p in state["plans"]] == [(CPF_ANA, date(2025, 1, 1))]


async def test_a_semicolon_latin1_export_with_portuguese_headers_imports(
    db: Sessions, world: World
) -> None:
    header = ("CPF/CNPJ", "Nome", "Cidade", "UF", "Placa", "Ano", "Plano Veículo", "Observação")
    rows = [
        {"CPF/CNPJ": CPF_ANA, "Nome": "Conceição Araújo", "Cidade": "São Paulo", "UF": "SP"},
        {"CPF/CNPJ": CPF_ANA, "Nome": "Conceição Araújo", "Placa": "ABC1234", "Ano": "2020"},
    ]
    rows[1] |= {"Plano Veículo": "AUTO", "Cidade": "São Paulo", "UF": "SP"}
    data = make_csv(rows, header, delimiter=";", encoding="latin-1", bom=codecs.BOM_UTF8)
    report = await run_import(db, world, data, chunk=7)
    assert (report.error_count, report.encoding, report.delimiter) == (0, "cp1252", ";")
    assert report.ignored_columns == ("Observação",)
    assert counts(report)[:4] == (1, 0, 0, 1)
    async with db() as session:
        name, city = (
            await session.execute(
                select(Beneficiary.name, Beneficiary.city).where(
                    Beneficiary.document == CPF_ANA, Beneficiary.client_id == world.client_id
                )
            )
        ).one()
    assert (name, city) == ("Conceição Araújo", "São Paulo")


BAD_ROWS: list[dict[str, str]] = [
    {**ANA, "name": "Ana\nSouza"},  # lines 2-3: a quoted line break
    {"document": CPF_BRUNO, "name": "Bruno", "plate": "ABC12"},  # line 4: bad plate
    {"document": CNPJ_FROTA, "name": "Frota", "plate": "XYZ9A99"},  # line 5: another client's
    {"document": make_cpf(222333444), "name": "Duda", "representative_document": CPF_CAIO},  # 6
    {
        "document": make_cpf(333444555),
        "name": "Edu",
        "plan_codes": "NOPE",
        "plan_starts_on": "2025-01-01",
    },
    {
        "document": make_cpf(444555666),
        "name": "Fabi",
        "plate": "GHI1J23",
        "vehicle_plan_code": "RESID",
    },
]


async def test_errors_are_reported_per_physical_line(db: Sessions, world: World) -> None:
    report = await run_import(db, world, make_csv(BAD_ROWS), ImportMode.VALID_ROWS)
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (4, "plate", "Placa inválida: use o formato ABC1234 ou ABC1D23"),
        (5, "plate", "placa já cadastrada para um beneficiário de outro cliente"),
        (6, "representative_document", "representante não cadastrado"),
        (7, "plan_codes", "plano 'NOPE' não existe para este cliente"),
        (8, "vehicle_plan_code", "plano 'RESID' não é um plano de veículo"),
    ]
    assert (report.total_rows, report.valid_rows, report.invalid_rows) == (6, 1, 5)
    assert report.error_count == 5 and not report.errors_truncated


async def test_all_or_nothing_writes_nothing_when_a_row_is_bad(db: Sessions, world: World) -> None:
    before = await snapshot(db, world.client_id)
    report = await run_import(db, world, make_csv([*ROWS, BAD_ROWS[1]]))
    assert not report.written
    assert report.errors == (
        RowError(6, "plate", "Placa inválida: use o formato ABC1234 ou ABC1D23"),
    )
    assert counts(report) == (0,) * 8
    assert (report.valid_rows, report.invalid_rows) == (4, 1)
    assert await snapshot(db, world.client_id) == before


async def test_all_or_nothing_writes_nothing_when_a_later_batch_is_bad(
    db: Sessions, world: World
) -> None:
    """The first batches are written before the bad row is met: they are undone."""
    data = make_csv([*ROWS, BAD_ROWS[2]])  # the other client's plate, found by the database
    report = await run_import(db, world, data, limits=ImportLimits(batch_size=2))
    assert not report.written
    assert [e.line for e in report.errors] == [6]
    assert await snapshot(db, world.client_id) == {"beneficiaries": [], "vehicles": [], "plans": []}


async def test_valid_rows_writes_the_good_rows(db: Sessions, world: World) -> None:
    report = await run_import(db, world, make_csv([*ROWS, *BAD_ROWS[1:]]), ImportMode.VALID_ROWS)
    assert report.written
    assert report.error_count == 5
    assert counts(report) == (3, 0, 0, 3, 0, 0, 1, 0)
    state = await snapshot(db, world.client_id)
    assert sorted(b[1] for b in state["beneficiaries"]) == sorted([CPF_ANA, CPF_BRUNO, CNPJ_FROTA])


ALPHANUMERIC_CNPJ = "12ABC34501DE35"  # the Receita Federal's example (valid since July 2026)


async def test_an_alphanumeric_cnpj_imports_as_beneficiary_and_representative(
    db: Sessions, world: World
) -> None:
    async with transaction(db) as session:
        await session.execute(
            insert(Representative).values(name="Corretora Nova", document=ALPHANUMERIC_CNPJ)
        )
    rows = [
        {
            "document": "12.abc.345/01de-35",  # as typed: punctuation, lower case
            "name": "Frota Nova Ltda.",
            "representative_document": "12.ABC.345/01DE-35",
            "plate": "GHI2J34",
            "vehicle_plan_code": "AUTO",
        },
        {"document": "12ABC34501DE36", "name": "Dígito Errado Ltda."},  # bad check digit
    ]
    report = await run_import(db, world, make_csv(rows), ImportMode.VALID_ROWS)
    assert report.errors == (RowError(3, "document", "CNPJ inválido"),)
    assert report.written and counts(report)[:4] == (1, 0, 0, 1)
    async with db() as session:
        beneficiary = (
            await session.execute(
                select(Beneficiary).where(Beneficiary.client_id == world.client_id)
            )
        ).scalar_one()
        representative = await session.get(Representative, beneficiary.representative_id)
    assert (beneficiary.document, beneficiary.person_kind) == (ALPHANUMERIC_CNPJ, PersonKind.PJ)
    assert representative is not None and representative.document == ALPHANUMERIC_CNPJ
    again = await run_import(db, world, make_csv(rows[:1]))  # found again by its document
    assert counts(again)[:3] == (0, 0, 1)


async def test_reimporting_the_same_file_creates_nothing(db: Sessions, world: World) -> None:
    data = make_csv(ROWS)
    await run_import(db, world, data)
    before = await snapshot(db, world.client_id)
    report = await run_import(db, world, data, ImportMode.VALID_ROWS)
    assert counts(report) == (0, 0, 3, 0, 0, 3, 0, 0)
    assert not report.written
    assert await snapshot(db, world.client_id) == before  # same ids, same updated_at


async def test_a_changed_row_updates_on_reimport(db: Sessions, world: World) -> None:
    await run_import(db, world, make_csv(ROWS))
    before = await snapshot(db, world.client_id)
    changed = [
        {**ROWS[0], "name": "Ana Souza Lima", "model": "Cronos"},
        {**ROWS[1], "name": "Ana Souza Lima"},  # the later row of a beneficiary wins
        *ROWS[2:],
    ]
    report = await run_import(db, world, make_csv(changed))
    assert counts(report) == (0, 1, 2, 0, 1, 2, 0, 0)
    assert report.written
    after = await snapshot(db, world.client_id)
    ana_before, ana_after = (
        next(b for b in s["beneficiaries"] if b[1] == CPF_ANA) for s in (before, after)
    )
    assert ana_after[0] == ana_before[0]  # the same record, updated
    assert ana_after[3] == "Ana Souza Lima"
    assert ana_after[-1] > ana_before[-1]  # updated_at moved
    assert [v[3] for v in after["vehicles"]] == ["Cronos", "Mobi", None]


async def test_columns_missing_from_the_file_are_left_alone(db: Sessions, world: World) -> None:
    await run_import(db, world, make_csv(ROWS))
    report = await run_import(
        db, world, make_csv([{"cpf": CPF_ANA, "nome": "Ana S."}], ("cpf", "nome"))
    )
    assert counts(report)[:3] == (0, 1, 0)
    ana = next(b for b in (await snapshot(db, world.client_id))["beneficiaries"] if b[1] == CPF_ANA)
    assert (ana[3], ana[4], ana[5]) == ("Ana S.", "+5511987654321", "01310200")


async def test_a_beneficiary_over_several_batches_is_counted_once(
    db: Sessions, world: World
) -> None:
    data = make_csv(ROWS)
    first = await run_import(db, world, data, limits=ImportLimits(batch_size=1))
    assert counts(first) == (3, 0, 0, 3, 0, 0, 1, 0)
    again = await run_import(db, world, data, limits=ImportLimits(batch_size=1))
    assert counts(again) == (0, 0, 3, 0, 0, 3, 0, 0)
    # Ana's first row unchanged, her second row (another batch) renames her
    renamed = make_csv([ROWS[0], {**ROWS[1], "name": "Ana Renomeada"}, *ROWS[2:]])
    third = await run_import(db, world, renamed, limits=ImportLimits(batch_size=1))
    assert counts(third)[:3] == (0, 1, 2)


async def test_a_plate_given_to_two_beneficiaries_is_an_error(db: Sessions, world: World) -> None:
    rows = [ANA, {"document": CPF_BRUNO, "name": "Bruno", "plate": "ABC1234"}]
    for batch_size in (1, 10):
        report = await run_import(
            db, world, make_csv(rows), limits=ImportLimits(batch_size=batch_size)
        )
        assert report.errors == (
            RowError(3, "plate", "placa repetida no arquivo: a linha 2 a dá a outro CPF/CNPJ"),
        )


async def test_a_plate_taken_meanwhile_by_another_client_is_a_conflict(
    db: Sessions, world: World
) -> None:
    rows, _, parser = parse(
        make_csv([{"document": CPF_BRUNO, "name": "Bruno", "plate": "JKL1M23"}])
    )
    assert parser.header is not None
    async with db() as session:
        writer = BatchWriter(session, world.client_id, parser.header)
        await writer.seen.create()
        valid, problems = await writer.check(rows)
        assert (len(valid), problems) == (1, [])
        caio = await session.scalar(select(Beneficiary.id).where(Beneficiary.document == CPF_CAIO))
        await session.execute(insert(Vehicle).values(beneficiary_id=caio, plate="JKL1M23"))
        with pytest.raises(Conflict):
            await writer.write(valid)
        owner = await session.scalar(
            select(Vehicle.beneficiary_id).where(Vehicle.plate == "JKL1M23")
        )
        assert owner == caio
        await session.rollback()


async def test_file_errors_leave_nothing_even_if_the_caller_commits(
    db: Sessions, world: World
) -> None:
    data = make_csv(ROWS)
    async with transaction(db) as session:
        with pytest.raises(ImportFileError) as caught:
            await import_beneficiaries(
                session,
                world.client_id,
                chunked(data, 11),
                ImportMode.VALID_ROWS,
                limits=ImportLimits(max_rows=3, batch_size=1),  # 3 rows written, then too many
                today=TODAY,
            )
    assert caught.value.code == "too_many_rows"
    assert await snapshot(db, world.client_id) == {"beneficiaries": [], "vehicles": [], "plans": []}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (make_csv([]), "empty_file"),
        (b"nome;placa\r\nAna;ABC1234\r\n", "missing_columns"),
    ],
)
async def test_file_errors_are_raised(db: Sessions, world: World, data: bytes, code: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        await run_import(db, world, data)
    assert caught.value.code == code


async def test_an_unknown_client_is_not_found(db: Sessions, world: World) -> None:
    async with transaction(db) as session:
        with pytest.raises(NotFound):
            await import_beneficiaries(
                session,
                world.other_client_id + 1,
                chunked(make_csv(ROWS), 100),
                ImportMode.VALID_ROWS,
            )


async def test_errors_beyond_the_cap_are_counted(db: Sessions, world: World) -> None:
    rows = [{"document": str(n), "name": "X"} for n in range(1, 6)]
    report = await run_import(db, world, make_csv(rows), limits=ImportLimits(max_reported_errors=2))
    assert [e.line for e in report.errors] == [2, 3]
    assert (report.error_count, report.invalid_rows, report.errors_truncated) == (5, 5, True)
    assert report.to_dict()["errors"][0] == {
        "line": 2,
        "field": "document",
        "message": "CPF inválido",
    }


async def test_tiny_chunks_give_the_same_result_as_one(db: Sessions, world: World) -> None:
    data = make_csv([*ROWS, *BAD_ROWS], delimiter=";", bom=codecs.BOM_UTF8)
    async with db() as session:  # one big chunk, rolled back
        whole = await import_beneficiaries(
            session, world.client_id, chunked(data, len(data)), ImportMode.VALID_ROWS, today=TODAY
        )
        state = await snapshot_in(session, world.client_id)
        await session.rollback()
    tiny = await run_import(db, world, data, ImportMode.VALID_ROWS, chunk=7)
    assert tiny == whole
    assert whole.error_count == 5 and counts(whole) == (3, 0, 0, 3, 0, 0, 1, 0)
    replayed = await snapshot(db, world.client_id)
    assert _contents(replayed) == _contents(state)


def _contents(state: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A snapshot without ids and timestamps (sequences do not roll back)."""
    return {name: sorted(row[1:-1] for row in rows) for name, rows in state.items()}
