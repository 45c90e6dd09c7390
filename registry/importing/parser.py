"""The sans-I/O CSV parser of the import: bytes in, validated rows and row errors out.

No database, no event loop: feed it chunks of any size, collect what it returns::

    parser = CsvImportParser(plans, today=date.today())
    for chunk in chunks:
        for event in parser.feed(chunk):
            ...  # ImportRow or RowError, in file order
    for event in parser.close():
        ...

Problems of the whole file raise :class:`ImportFileError`. Memory holds one chunk
and one record, whatever the file's size.
"""

from __future__ import annotations

import csv
from datetime import date

from registry.importing.columns import Header, read_header
from registry.importing.errors import ImportFileError
from registry.importing.limits import DEFAULT_LIMITS, ImportLimits
from registry.importing.report import RowError
from registry.importing.rows import ImportRow, PlanCatalogue
from registry.importing.text import Record, RecordSplitter
from registry.importing.validate import RowValidator

Event = ImportRow | RowError


class CsvImportParser:
    """Parses and validates a beneficiaries CSV fed in chunks.

    Args:
        plans: the client's plans (codes are resolved while parsing).
        today: the reference date for birth dates and model years.
        limits: the bounds (file size, rows, record length).

    Attributes:
        header: the header, once its line has been read.
        rows: data rows read so far (blank lines excluded).
    """

    def __init__(
        self, plans: PlanCatalogue, *, today: date, limits: ImportLimits = DEFAULT_LIMITS
    ) -> None:
        self.header: Header | None = None
        self.rows = 0
        self._plans = plans
        self._today = today
        self._limits = limits
        self._bytes = 0
        self._splitter = RecordSplitter(limits.max_line_chars)
        self._validator: RowValidator | None = None

    @property
    def encoding(self) -> str:
        """The encoding in use (empty until the first bytes)."""
        return self._splitter.decoder.encoding

    def feed(self, data: bytes) -> list[Event]:
        """Rows and row errors of the records ``data`` completes, in file order.

        Raises:
            ImportFileError: the file cannot be imported (see its ``code``).
        """
        self._bytes += len(data)
        if self._bytes > self._limits.max_file_bytes:
            mib = self._limits.max_file_bytes / 2**20
            raise ImportFileError("file_too_large", f"arquivo maior que {mib:g} MiB")
        return self._events(self._splitter.feed(data))

    def close(self) -> list[Event]:
        """The last rows, at the end of the file.

        Raises:
            ImportFileError: as :meth:`feed`, and ``empty_file`` for a file without
                a header or without data rows.
        """
        events = self._events(self._splitter.close())
        if self.header is None:
            raise ImportFileError("empty_file", "arquivo vazio")
        if self.rows == 0:
            raise ImportFileError("empty_file", "o arquivo só tem o cabeçalho, sem linhas de dados")
        return events

    def _events(self, records: list[Record]) -> list[Event]:
        events: list[Event] = []
        for line, lines in records:
            if self._validator is None:
                self._read_header(lines)
                continue
            outcome = self._row(line, lines, self._validator)
            if isinstance(outcome, ImportRow):
                events.append(outcome)
            elif outcome:
                events.extend(outcome)
        return events

    def _read_header(self, lines: list[str]) -> None:
        if not "".join(lines).strip():
            raise ImportFileError("empty_file", "a primeira linha (cabeçalho) está vazia", 1)
        self.header = read_header(lines)
        self._validator = RowValidator(self.header, self._plans, self._today)

    def _row(
        self, line: int, lines: list[str], validator: RowValidator
    ) -> ImportRow | list[RowError] | None:
        assert self.header is not None
        try:
            parsed = list(csv.reader(lines, delimiter=self.header.delimiter))
        except csv.Error:
            parsed = []
        outcome: ImportRow | list[RowError] | None = None
        if len(parsed) > 1 or (lines[0].strip() and not parsed):
            outcome = [RowError(line, None, 'aspas (") mal colocadas: a linha não pôde ser lida')]
        elif parsed:
            outcome = validator.validate(line, parsed[0])
        if outcome is not None:
            self.rows += 1
            if self.rows > self._limits.max_rows:
                raise ImportFileError(
                    "too_many_rows", f"mais de {self._limits.max_rows} linhas de dados", line
                )
        return outcome
