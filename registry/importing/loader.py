"""The async loader: a CSV stream into a client's beneficiaries, vehicles and plans.

Parsing and validating is pure CPU work (tens of µs a row: 100,000 rows hold a
core for seconds), so it never runs on the event loop: each piece of at most
:data:`FEED_BYTES` goes to the sans-I/O parser in a worker thread
(``asyncio.to_thread``, the loop's default executor), and the loop serves other
requests meanwhile: the GIL's switch interval (5 ms) gives the loop its turn
while the thread parses, and a piece is only tens of milliseconds of work. The
awaits are sequential, so the parser is only ever in one thread at a time; if
the import is cancelled, the piece being parsed finishes in its thread and the
parser is dropped unread. Checking and writing a batch stays on the loop: it is
database round trips on the session (which is not thread-safe), with about
15 ms of Python per 1,000 rows spread between them, most of it the driver's.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from registry.errors import NotFound
from registry.importing.batch import BatchWriter
from registry.importing.limits import DEFAULT_LIMITS, ImportLimits
from registry.importing.parser import CsvImportParser, Event
from registry.importing.report import ErrorLog, ImportMode, ImportReport, RowError
from registry.importing.rows import ImportRow, PlanCatalogue, PlanRef
from registry.models import Client, Plan

FEED_BYTES = 64 * 1024  # the parser gets at most this much at once, whatever the chunks
IMPORT_LOCK = 0x1A0C  # advisory lock namespace: (IMPORT_LOCK, client id) per import
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
COUNTS = (
    "beneficiaries_created",
    "beneficiaries_updated",
    "beneficiaries_unchanged",
    "vehicles_created",
    "vehicles_updated",
    "vehicles_unchanged",
    "plans_linked",
    "plans_updated",
)
CHANGES = (*COUNTS[:2], *COUNTS[3:5], *COUNTS[6:])


async def import_beneficiaries(
    session: AsyncSession,
    client_id: int,
    chunks: AsyncIterable[bytes],
    mode: ImportMode,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    today: date | None = None,
) -> ImportReport:
    """Import a CSV of a client's beneficiaries with their vehicles and plans.

    The file (see ``docs/import.md``) is read from ``chunks`` as it arrives and
    written in batches of ``limits.batch_size`` rows with upserts keyed on
    (client, document), plate and (beneficiary, plan, start): importing the same
    file again creates nothing and reports its records as unchanged.

    Transactions: the import runs inside the caller's transaction, in a savepoint.
    It never commits; the caller commits (or rolls back) after it returns. In
    ``all_or_nothing`` mode a file with any invalid row leaves nothing written
    (the savepoint is rolled back) and the report lists the errors. In
    ``valid_rows`` mode the valid rows are written and the invalid ones reported.
    If the import raises (a bad file, a lost connection, cancellation), the
    savepoint is rolled back as far as possible and the caller must roll its
    transaction back: nothing of the file is ever left half-written once it does.
    Imports for the same client wait for each other (an advisory lock held until
    the caller's transaction ends).

    Args:
        session: the caller's session; its transaction is begun if need be.
        client_id: the client whose beneficiaries these are.
        chunks: the file's bytes, in chunks of any size.
        mode: what to do with the valid rows of a file that has invalid ones.
        limits: the bounds of the import.
        today: the reference date for birth dates and model years (default: today
            in São Paulo).

    Returns:
        The report: counts, the first row errors, whether anything was written.

    Raises:
        NotFound: no client ``client_id``.
        ImportFileError: the file cannot be imported (empty, too large, a required
            column missing...); see its ``code`` and pt-BR ``message``.
        Conflict: another transaction registered one of the file's plates while
            the import ran (try again).
    """
    catalogue = await _prepare(session, client_id)
    parser = CsvImportParser(
        catalogue, today=today or datetime.now(SAO_PAULO).date(), limits=limits
    )
    run = _Run(session, client_id, ImportMode(mode), limits, parser)
    savepoint = await session.begin_nested()
    try:
        await run.consume(chunks)
        keep = run.keeps()
        if keep and run.writer is not None:
            await run.writer.seen.drop()
    except BaseException:
        await _discard(savepoint)
        raise
    await (savepoint.commit() if keep else savepoint.rollback())
    return run.report(keep)


async def _prepare(session: AsyncSession, client_id: int) -> PlanCatalogue:
    """Lock the client's imports; the client's plans."""
    await session.execute(select(func.pg_advisory_xact_lock(IMPORT_LOCK, client_id)))
    if await session.scalar(select(Client.id).where(Client.id == client_id)) is None:
        raise NotFound(f"cliente {client_id} não encontrado")
    result = await session.execute(
        select(Plan.id, Plan.code, Plan.kind, Plan.active).where(Plan.client_id == client_id)
    )
    return PlanCatalogue(PlanRef(*row) for row in result)


async def _discard(savepoint: AsyncSessionTransaction) -> None:
    """Roll the import's savepoint back if it is still there."""
    if savepoint.is_active:
        await savepoint.rollback()


class _Run:
    """The state of one import: the batch being filled, the errors, the writer."""

    def __init__(
        self,
        session: AsyncSession,
        client_id: int,
        mode: ImportMode,
        limits: ImportLimits,
        parser: CsvImportParser,
    ) -> None:
        self.session = session
        self.client_id = client_id
        self.mode = mode
        self.limits = limits
        self.parser = parser
        self.errors = ErrorLog(limits.max_reported_errors)
        self.batch: list[ImportRow] = []
        self.writer: BatchWriter | None = None

    async def consume(self, chunks: AsyncIterable[bytes]) -> None:
        """Parse (in a worker thread, piece by piece), check and write the whole stream."""
        async for chunk in chunks:
            for start in range(0, len(chunk), FEED_BYTES):
                piece = chunk[start : start + FEED_BYTES]
                await self._handle(await asyncio.to_thread(self.parser.feed, piece))
        await self._handle(await asyncio.to_thread(self.parser.close))
        await self._flush()

    def keeps(self) -> bool:
        """Whether what was written stays (per the mode)."""
        return self.mode is ImportMode.VALID_ROWS or self.errors.count == 0

    async def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RowError):
                self.errors.add(event)
                continue
            self.batch.append(event)
            if len(self.batch) >= self.limits.batch_size:
                await self._flush()

    async def _flush(self) -> None:
        if not self.batch:
            return
        writer = await self._writer()
        valid, problems = await writer.check(self.batch)
        for row_errors in problems:
            for error in row_errors:
                self.errors.add(error)
        if self.keeps():
            await writer.write(valid)
        else:  # nothing will be kept: check the rest, write nothing
            await writer.remember(valid)
        self.batch = []

    async def _writer(self) -> BatchWriter:
        if self.writer is None:
            assert self.parser.header is not None
            self.writer = BatchWriter(self.session, self.client_id, self.parser.header)
            await self.writer.seen.create()
        return self.writer

    def report(self, kept: bool) -> ImportReport:
        """The report of the finished import; ``kept``: its writes were not rolled back."""
        counts = self.writer.counts if self.writer is not None and kept else Counter[str]()
        header = self.parser.header
        return ImportReport(
            mode=self.mode,
            total_rows=self.parser.rows,
            valid_rows=self.parser.rows - self.errors.invalid_rows,
            invalid_rows=self.errors.invalid_rows,
            **{name: counts[name] for name in COUNTS},
            errors=tuple(sorted(self.errors.errors, key=lambda error: error.line)),
            error_count=self.errors.count,
            ignored_columns=header.ignored if header else (),
            encoding=self.parser.encoding,
            delimiter=header.delimiter if header else "",
            written=kept and any(counts[name] for name in CHANGES),
        )
