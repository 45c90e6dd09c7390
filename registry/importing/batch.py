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

from sqlalchemy import (
    Boolean,
    Table,
    Text,
    and_,
    exists,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import table_of
from registry.errors import Conflict
from registry.importing import seen
from registry.importing.columns import Header
from registry.importing.report import RowError
from registry.importing.rows import ImportRow, beneficiary_keys, vehicle_keys
from registry.models import Beneficiary, BeneficiaryPlan, Representative, Vehicle

BENEFICIARIES = table_of(Beneficiary)
PLANS = table_of(BeneficiaryPlan)
VEHICLES = table_of(Vehicle)

OTHER_CLIENT = "placa já cadastrada para um beneficiário de outro cliente"
REPEATED_PLATE = "placa repetida no arquivo: a linha {line} a dá a outro CPF/CNPJ"
NO_REPRESENTATIVE = "representante não cadastrado"
_INSERTED = literal_column("xmax = 0", Boolean())  # PostgreSQL: the upsert inserted this row
_COUNTED = {seen.CREATED: "created", seen.UPDATED: "updated", seen.UNCHANGED: "unchanged"}


def _keys(values: Sequence[str]) -> Any:
    """The ``values`` as a one-column table ``keys(value)``, from one array parameter.

    Lookups join it rather than test ``column = ANY(array)``: while the import's
    own rows have no statistics yet, the planner reckons ``= ANY`` of a thousand
    values matches the whole table and scans it, batch after batch.
    """
    array = literal(list(values), ARRAY(Text))
    return func.unnest(array).table_valued("value").render_derived(name="keys")


def _upsert(
    table: Table, keys: Sequence[str], columns: Sequence[str], returning: Any, only: Any = None
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET columns, only when one differs.

    ``only``: a further condition on the existing row for it to be updated.
    """
    statement = insert(table)
    mine = tuple_(*(table.c[c] for c in columns))
    theirs = tuple_(*(statement.excluded[c] for c in columns))
    differs = mine.is_distinct_from(theirs)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={**{c: statement.excluded[c] for c in columns}, "updated_at": func.now()},
        where=differs if only is None else and_(differs, only),
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
        # Never take a plate from another client's beneficiary, even one that got it
        # after this batch was checked.
        ours = exists().where(
            BENEFICIARIES.c.id == VEHICLES.c.beneficiary_id,
            BENEFICIARIES.c.client_id == client_id,
        )
        self._vehicles = _upsert(
            VEHICLES, ["plate"], vehicle_columns, (VEHICLES.c.plate,), only=ours
        )
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
        keys = _keys(documents)
        result = await self.session.execute(
            select(Representative.document, Representative.id).join_from(
                keys, Representative, Representative.document == keys.c.value
            )
        )
        self._representatives = {document: id_ for document, id_ in result if document}
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
        keys = _keys(plates)
        result = await self.session.execute(
            select(VEHICLES.c.plate, BENEFICIARIES.c.client_id)
            .join_from(keys, VEHICLES, VEHICLES.c.plate == keys.c.value)
            .join(BENEFICIARIES, VEHICLES.c.beneficiary_id == BENEFICIARIES.c.id)
        )
        return dict(result.all())

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
        keys = _keys(documents)
        result = await self.session.execute(
            select(BENEFICIARIES.c.document, BENEFICIARIES.c.id)
            .join_from(keys, BENEFICIARIES, BENEFICIARIES.c.document == keys.c.value)
            .where(BENEFICIARIES.c.client_id == self.client_id)
        )
        ids: dict[str, int] = dict(result.all())
        before = set(ids)
        result = await self.session.execute(
            self._beneficiaries, [self._beneficiary(latest[d]) for d in documents]
        )
        changed: dict[str, int] = dict(result.all())
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
        taken = [p for p in plates if p not in changed and p not in self._plates_before]
        if taken:
            raise Conflict(f"placas cadastradas por outra operação durante a importação: {taken}")
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
        statuses = {key: _status(key, before, changed) for key in keys}
        first = await self.seen.record(kind, [(k, *where[k], statuses[k]) for k in keys])
        for key in first:
            self.counts[f"{name}_{_COUNTED[statuses[key]]}"] += 1
        again = [k for k in keys if k not in first and k in changed]
        upgraded = await self.seen.upgrade(kind, again)
        self.counts[f"{name}_unchanged"] -= upgraded
        self.counts[f"{name}_updated"] += upgraded


def _status(key: str, before: set[str], changed: set[str]) -> str:
    """What this batch did to a record: created, updated or left unchanged."""
    if key not in before:
        return seen.CREATED
    return seen.UPDATED if key in changed else seen.UNCHANGED


def _first_lines(rows: list[ImportRow]) -> dict[str, int]:
    """``{plate: line}`` of each plate's first row in the batch."""
    first: dict[str, int] = {}
    for row in rows:
        if row.vehicle:
            first.setdefault(row.vehicle["plate"], row.line)
    return first
