"""Checking a batch of valid rows against the database, and writing it (async).

:class:`BatchWriter` works on the caller's session; each batch costs a fixed
number of statements (lookups, then one upsert per table), whatever its size.
Upserts change a record only when some column differs (``IS DISTINCT FROM``), so
re-importing a file writes nothing and counts its records as unchanged.

Within a batch, rows of the same beneficiary are merged (the later row's columns
win, plan links add up); the same for rows of the same plate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, Text, any_, func, literal, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.importing import seen
from registry.importing.columns import Header
from registry.importing.report import RowError
from registry.importing.rows import ImportRow, beneficiary_keys, vehicle_keys
from registry.models import Beneficiary, BeneficiaryPlan, Representative, Vehicle


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


BENEFICIARIES = _table(Beneficiary)
PLANS = _table(BeneficiaryPlan)
VEHICLES = _table(Vehicle)

OTHER_CLIENT = "placa já cadastrada para um beneficiário de outro cliente"
REPEATED_PLATE = "placa repetida no arquivo: a linha {line} a dá a outro CPF/CNPJ"
NO_REPRESENTATIVE = "representante não cadastrado"
_INSERTED = literal_column("xmax = 0")  # PostgreSQL: the upsert inserted this row
_COUNTED = {seen.CREATED: "created", seen.UPDATED: "updated", seen.UNCHANGED: "unchanged"}


def _array(values: Sequence[str]) -> Any:
    """One ``text[]`` parameter (an IN list would take a parameter per value)."""
    return literal(list(values), ARRAY(Text))


def _upsert(table: Table, keys: Sequence[str], columns: Sequence[str], returning: Any) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns, only when one differs."""
    statement = insert(table)
    mine = tuple_(*(table.c[c] for c in columns))
    theirs = tuple_(*(statement.excluded[c] for c in columns))
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={**{c: statement.excluded[c] for c in columns}, "updated_at": func.now()},
        where=mine.is_distinct_from(theirs),
    ).returning(*returning)


class BatchWriter:
    """Checks and writes the batches of one import for one client.

    Attributes:
        counts: records created, updated and unchanged, plan links, by the name
            of the :class:`ImportReport` field.
    """

    def __init__(self, session: AsyncSession, client_id: int, header: Header) -> None:
        self.session = session
        self.client_id = client_id
        self.counts: Counter[str] = Counter()
        self.seen = seen.Seen(session)
        self._with_representative = "representative_document" in header.present
        columns = [k for k in beneficiary_keys(header) if k != "document"]
        columns += ["representative_id"] if self._with_representative else []
        self._beneficiaries = _upsert(
            BENEFICIARIES,
            ["client_id", "document"],
            columns,
            (BENEFICIARIES.c.document, BENEFICIARIES.c.id),
        )
        self._plans = _upsert(
            PLANS, ["beneficiary_id", "plan_id", "starts_on"], ["ends_on"], (_INSERTED,)
        )
        vehicle_columns = ["beneficiary_id", *(k for k in vehicle_keys(header) if k != "plate")]
        self._vehicles = _upsert(VEHICLES, ["plate"], vehicle_columns, (VEHICLES.c.plate,))
        self._representatives: dict[str, int] = {}
        self._plates_before: set[str] = set()  # plates of the batch that already existed

    # --- checks ---------------------------------------------------------------------

    async def check(self, rows: list[ImportRow]) -> tuple[list[ImportRow], list[list[RowError]]]:
        """The rows that pass the database checks, and the errors of the others.

        Checks that representatives exist, that no plate belongs to another
        client's beneficiary, and that no plate is given to two beneficiaries in
        the file. Errors come grouped by row, in file order.
        """
        problems: dict[int, list[RowError]] = {}
        await self._check_representatives(rows, problems)
        await self._check_plates(rows, problems)
        valid = [row for index, row in enumerate(rows) if index not in problems]
        return valid, [problems[index] for index in sorted(problems)]

    async def _check_representatives(
        self, rows: list[ImportRow], problems: dict[int, list[RowError]]
    ) -> None:
        documents = sorted({r.representative_document for r in rows if r.representative_document})
        if not documents:
            return
        result = await self.session.execute(
            select(Representative.document, Representative.id).where(
                Representative.document == any_(_array(documents))
            )
        )
        self._representatives = {document: id_ for document, id_ in result.tuples() if document}
        for index, row in enumerate(rows):
            document = row.representative_document
            if document and document not in self._representatives:
                error = RowError(row.line, "representative_document", NO_REPRESENTATIVE)
                problems.setdefault(index, []).append(error)

    async def _check_plates(
        self, rows: list[ImportRow], problems: dict[int, list[RowError]]
    ) -> None:
        plates = sorted({row.vehicle["plate"] for row in rows if row.vehicle})
        if not plates:
            return
        owners = await self._plate_owners(plates)
        self._plates_before = set(owners)
        first = await self.seen.lookup(seen.VEHICLE, plates)
        for index, row in enumerate(rows):
            if row.vehicle is None:
                continue
            plate = row.vehicle["plate"]
            if owners.get(plate, self.client_id) != self.client_id:
                problems.setdefault(index, []).append(RowError(row.line, "plate", OTHER_CLIENT))
            document, line = first.get(plate, (row.document, row.line))
            if document != row.document:
                message = REPEATED_PLATE.format(line=line)
                problems.setdefault(index, []).append(RowError(row.line, "plate", message))
            elif index not in problems:
                first.setdefault(plate, (row.document, row.line))

    async def _plate_owners(self, plates: list[str]) -> dict[str, int]:
        """``{plate: client id of its beneficiary}`` for the plates that exist."""
        result = await self.session.execute(
            select(VEHICLES.c.plate, BENEFICIARIES.c.client_id)
            .join_from(VEHICLES, BENEFICIARIES, VEHICLES.c.beneficiary_id == BENEFICIARIES.c.id)
            .where(VEHICLES.c.plate == any_(_array(plates)))
        )
        return dict(result.tuples().all())

    # --- writes ---------------------------------------------------------------------

    async def write(self, rows: list[ImportRow]) -> None:
        """Upsert the beneficiaries, plan links and vehicles of checked rows."""
        ids = await self._write_beneficiaries(rows)
        await self._write_plans(rows, ids)
        await self._write_vehicles(rows, ids)

    async def remember(self, rows: list[ImportRow]) -> None:
        """Only note the rows' plates as met (for the checks of later batches)."""
        first = _first_lines(rows)
        by_plate = {row.vehicle["plate"]: row.document for row in rows if row.vehicle}
        met = [(p, by_plate[p], line, seen.UNCHANGED) for p, line in sorted(first.items())]
        await self.seen.record(seen.VEHICLE, met)

    async def _write_beneficiaries(self, rows: list[ImportRow]) -> dict[str, int]:
        """Upsert the beneficiaries; ``{document: id}``."""
        latest = {row.document: row for row in rows}
        documents = sorted(latest)
        result = await self.session.execute(
            select(BENEFICIARIES.c.document, BENEFICIARIES.c.id).where(
                BENEFICIARIES.c.client_id == self.client_id,
                BENEFICIARIES.c.document == any_(_array(documents)),
            )
        )
        ids: dict[str, int] = dict(result.tuples().all())
        before = set(ids)
        result = await self.session.execute(
            self._beneficiaries, [self._beneficiary(latest[d]) for d in documents]
        )
        changed: dict[str, int] = dict(result.tuples().all())
        ids.update(changed)
        where = {d: (d, latest[d].line) for d in documents}
        await self._tally(seen.BENEFICIARY, "beneficiaries", documents, before, set(changed), where)
        return ids

    def _beneficiary(self, row: ImportRow) -> dict[str, Any]:
        values = {**row.beneficiary, "client_id": self.client_id}
        if self._with_representative:
            document = row.representative_document
            values["representative_id"] = self._representatives[document] if document else None
        return values

    async def _write_plans(self, rows: list[ImportRow], ids: dict[str, int]) -> None:
        links = {
            (ids[row.document], link.plan_id, link.starts_on): link.ends_on
            for row in rows
            for link in row.plans
        }
        if not links:
            return
        values = [
            {"beneficiary_id": b, "plan_id": p, "starts_on": s, "ends_on": e}
            for (b, p, s), e in sorted(links.items())
        ]
        result = await self.session.execute(self._plans, values)
        for inserted in result.scalars():
            self.counts["plans_linked" if inserted else "plans_updated"] += 1

    async def _write_vehicles(self, rows: list[ImportRow], ids: dict[str, int]) -> None:
        latest = {row.vehicle["plate"]: row for row in rows if row.vehicle}
        if not latest:
            return
        plates = sorted(latest)
        values = [
            {**vehicle, "beneficiary_id": ids[latest[plate].document]}
            for plate in plates
            if (vehicle := latest[plate].vehicle) is not None
        ]
        result = await self.session.execute(self._vehicles, values)
        changed = set(result.scalars())
        first = _first_lines(rows)
        where = {plate: (latest[plate].document, first[plate]) for plate in plates}
        await self._tally(seen.VEHICLE, "vehicles", plates, self._plates_before, changed, where)

    async def _tally(
        self,
        kind: str,
        name: str,
        keys: list[str],
        before: set[str],
        changed: set[str],
        where: dict[str, tuple[str, int]],
    ) -> None:
        """Count each record the first time the import meets it; remember it as met.

        ``where`` gives each key's document and first line (for later messages).

        A record met unchanged and then changed by a later row is moved from
        unchanged to updated.
        """
        met = await self.seen.lookup(kind, keys)
        new: list[seen.Met] = []
        for key in keys:
            if key in met:
                continue
            status = seen.UPDATED if key in changed else seen.UNCHANGED
            status = status if key in before else seen.CREATED
            self.counts[f"{name}_{_COUNTED[status]}"] += 1
            new.append((key, *where[key], status))
        await self.seen.record(kind, new)
        upgraded = await self.seen.upgrade(kind, [k for k in keys if k in met and k in changed])
        self.counts[f"{name}_unchanged"] -= upgraded
        self.counts[f"{name}_updated"] += upgraded


def _first_lines(rows: list[ImportRow]) -> dict[str, int]:
    """``{plate: line}`` of each plate's first row in the batch."""
    first: dict[str, int] = {}
    for row in rows:
        if row.vehicle:
            first.setdefault(row.vehicle["plate"], row.line)
    return first
