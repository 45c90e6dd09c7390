"""CSV import of 100,000 beneficiary-vehicle rows (target: under 60 s).

The benchmark owns the database ``acionar_bench_import`` on the server of
``settings.effective_database_url``: it creates it afresh, migrates it to head,
adds one client with a beneficiary plan and a vehicle plan, and drops it at the
end. The CSV is generated in memory from the demo generator (realistic names,
valid CPFs, plates of both formats, every column filled), one row per vehicle.

Figures, each timed once on the same data:

* the import of the file into the empty registry, ``all_or_nothing``, in one
  transaction committed; beside it the raw baseline: PostgreSQL ``COPY`` of the
  same file into an unlogged table with the same columns (as text);
* the re-import of the same file (every record unchanged), same baseline;
* the pure parser and validator alone (no database); beside it Python's
  ``csv.reader`` over the same decoded text.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bench.report import Figure
from registry.db import make_engine, make_sessionmaker, to_async_url, transaction
from registry.demo.generate import beneficiary_draft
from registry.enums import PlanKind
from registry.importing import CsvImportParser, ImportMode, ImportReport, import_beneficiaries
from registry.importing.rows import PlanCatalogue, PlanRef
from registry.models import Beneficiary, Client, Plan, Vehicle
from registry.validation import make_cnpj
from server.migrate import upgrade
from server.settings import Settings

DATABASE = "acionar_bench_import"
QUICK = os.environ.get("QUICK") == "1"
ROWS = 20_000 if QUICK else 100_000
CHUNK_BYTES = 64 * 1024  # as an HTTP body arrives
TARGET = "< 12 s (60 s per 100,000)" if QUICK else "< 60 s"
HOME_PLAN, AUTO_PLAN = "RESID-BENCH", "AUTO-BENCH"
TODAY = date(2026, 11, 24)
COLUMNS = (
    "document",
    "person_kind",
    "name",
    "rg",
    "sex",
    "birth_date",
    "email",
    "phone",
    "whatsapp",
    "street",
    "number",
    "complement",
    "neighbourhood",
    "city",
    "state",
    "cep",
    "lat",
    "lng",
    "plan_codes",
    "plan_starts_on",
    "plate",
    "vin",
    "make",
    "model",
    "year",
    "colour",
    "vehicle_plan_code",
    "vehicle_plan_starts_on",
)


def _url(settings: Settings, database: str) -> str:
    url = make_url(to_async_url(settings.effective_database_url)).set(database=database)
    return url.render_as_string(hide_password=False)


def _dsn(settings: Settings, database: str) -> str:
    """A plain asyncpg DSN for ``database`` on the benchmark's server."""
    url = make_url(_url(settings, database)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _admin(settings: Settings, sql: str) -> None:
    conn = await asyncpg.connect(_dsn(settings, "postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _cells(draft_row: dict[str, Any], starts_on: date, vehicle: dict[str, Any]) -> list[str]:
    """One CSV row of a demo beneficiary and one of its vehicles, as an operator's export."""
    wkt = draft_row["location"]  # SRID=4326;POINT(lng lat)
    lng, lat = wkt[wkt.index("(") + 1 : -1].split()
    born: date = draft_row["birth_date"]
    values = {
        **{key: draft_row[key] for key in ("document", "name", "rg", "email", "phone")},
        **{key: draft_row[key] for key in ("whatsapp", "street", "number", "neighbourhood")},
        **{key: draft_row[key] for key in ("city", "state", "cep")},
        "complement": draft_row["complement"] or "",
        "person_kind": "PF",
        "sex": "F" if draft_row["sex"] == "female" else "M",
        "birth_date": born.strftime("%d/%m/%Y"),
        "lat": lat,
        "lng": lng,
        "plan_codes": HOME_PLAN,
        "plan_starts_on": starts_on.strftime("%d/%m/%Y"),
        **{key: str(vehicle[key]) for key in ("plate", "vin", "make", "model", "year", "colour")},
        "vehicle_plan_code": AUTO_PLAN,
        "vehicle_plan_starts_on": starts_on.isoformat(),
    }
    return [values[column] for column in COLUMNS]


def make_csv(rows: int) -> bytes:
    """``rows`` data rows from the demo's beneficiaries (one row per vehicle), UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    written, index = 0, 0
    while written < rows:
        draft = beneficiary_draft(index)
        for vehicle in draft.vehicles[: rows - written]:
            writer.writerow(_cells(draft.row, draft.plan_starts_on, vehicle))
            written += 1
        index += 1
    return out.getvalue().encode()


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def _prepare(settings: Settings) -> str:
    """Create and migrate the benchmark database; its URL."""
    await _admin(settings, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await _admin(settings, f'CREATE DATABASE "{DATABASE}"')
    url = _url(settings, DATABASE)
    await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
    return url


async def _timed_import(url: str, client_id: int, data: bytes) -> tuple[float, ImportReport]:
    engine = make_engine(url, null_pool=True)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            started = time.perf_counter()
            report = await import_beneficiaries(
                session, client_id, _chunks(data), ImportMode.ALL_OR_NOTHING, today=TODAY
            )
        return time.perf_counter() - started, report  # the commit included
    finally:
        await engine.dispose()


async def _client(url: str) -> int:
    engine = make_engine(url, null_pool=True)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            result = await session.execute(
                insert(Client)
                .values(cnpj=make_cnpj(424242420001), trade_name="Bench", legal_name="Bench Ltda.")
                .returning(Client.id)
            )
            client_id = result.scalar_one()
            await session.execute(
                insert(Plan),
                [
                    {
                        "client_id": client_id,
                        "code": HOME_PLAN,
                        "name": "Residencial",
                        "kind": PlanKind.BENEFICIARY,
                    },
                    {
                        "client_id": client_id,
                        "code": AUTO_PLAN,
                        "name": "Auto",
                        "kind": PlanKind.VEHICLE,
                    },
                ],
            )
        return client_id
    finally:
        await engine.dispose()


async def _copy_baseline(settings: Settings, data: bytes) -> float:
    """Seconds to COPY the file into an unlogged table with the same (text) columns."""
    conn = await asyncpg.connect(_dsn(settings, DATABASE))
    try:
        columns = ", ".join(f"{column} text" for column in COLUMNS)
        await conn.execute(
            f"DROP TABLE IF EXISTS copy_baseline; CREATE UNLOGGED TABLE copy_baseline ({columns})"
        )
        started = time.perf_counter()
        await conn.copy_to_table("copy_baseline", source=_chunks(data), format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


def _parse_only(data: bytes) -> float:
    """Seconds for the pure parser and validator over the whole file."""
    plans = PlanCatalogue(
        [PlanRef(1, HOME_PLAN, PlanKind.BENEFICIARY), PlanRef(2, AUTO_PLAN, PlanKind.VEHICLE)]
    )
    parser = CsvImportParser(plans, today=TODAY)
    started = time.perf_counter()
    for start in range(0, len(data), CHUNK_BYTES):
        parser.feed(data[start : start + CHUNK_BYTES])
    parser.close()
    return time.perf_counter() - started


def _csv_reader_only(data: bytes) -> float:
    started = time.perf_counter()
    for _ in csv.reader(io.StringIO(data.decode(), newline="")):
        pass
    return time.perf_counter() - started


async def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url, null_pool=True)
    try:
        async with make_sessionmaker(engine)() as session:
            beneficiaries = await session.scalar(select(func.count()).select_from(Beneficiary))
            vehicles = await session.scalar(select(func.count()).select_from(Vehicle))
        return beneficiaries or 0, vehicles or 0
    finally:
        await engine.dispose()


def _check(report: ImportReport, beneficiaries: int, vehicles: int) -> None:
    """A benchmark of a wrong import would be worthless: stop if it went wrong."""
    if report.error_count or report.total_rows != ROWS:
        raise RuntimeError(f"bench import went wrong: {report.errors[:5]} ({report.error_count})")
    created = report.beneficiaries_created, report.vehicles_created
    unchanged = report.beneficiaries_unchanged, report.vehicles_unchanged
    if created != (beneficiaries, vehicles) and unchanged != (beneficiaries, vehicles):
        raise RuntimeError(f"bench import counts do not match the tables: {report}")


async def run(settings: Settings) -> list[Figure]:
    """Import, re-import and parse 100,000 rows; COPY and csv.reader as baselines."""
    data = make_csv(ROWS)
    print(f"[bench] import: {ROWS} rows, {len(data) / 2**20:.1f} MiB of CSV", flush=True)
    url = await _prepare(settings)
    try:
        client_id = await _client(url)
        first, report = await _timed_import(url, client_id, data)
        counts = await _counts(url)
        _check(report, *counts)
        again, report_again = await _timed_import(url, client_id, data)
        _check(report_again, *counts)
        copy = await _copy_baseline(settings, data)
    finally:
        await _admin(settings, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    parse, reader = _parse_only(data), _csv_reader_only(data)
    print(
        f"[bench] import: {counts[0]} beneficiaries, {counts[1]} vehicles; "
        f"first {first:.1f} s, again {again:.1f} s, COPY {copy:.2f} s",
        flush=True,
    )
    copy_name = "COPY into an unlogged table"
    return [
        Figure(
            f"import {ROWS:,} rows, new (all_or_nothing, committed)",
            first,
            "s",
            TARGET,
            copy_name,
            copy,
        ),
        Figure(
            f"re-import the same {ROWS:,} rows (all unchanged)", again, "s", TARGET, copy_name, copy
        ),
        Figure(
            f"parse and validate {ROWS:,} rows, no database", parse, "s", "", "csv.reader", reader
        ),
    ]
