"""What an import tells its caller: the mode it ran in, row errors, the report."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class ImportMode(enum.StrEnum):
    """What to do with the valid rows of a file that also has invalid ones.

    * ``all_or_nothing``: any invalid row and nothing is written.
    * ``valid_rows``: the valid rows are written, the invalid ones reported.
    """

    ALL_OR_NOTHING = "all_or_nothing"
    VALID_ROWS = "valid_rows"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row.

    Attributes:
        line: the physical line where the row starts, as the spreadsheet numbers
            it (the header is line 1; a quoted line break counts as a line).
        field: the column at fault, by its English name (``plate``), or ``None``
            when the row as a whole is at fault.
        message: what is wrong, in pt-BR, for the operator.
    """

    line: int
    field: str | None
    message: str


@dataclass(slots=True)
class ErrorLog:
    """Row errors as they come: the first ``capacity`` kept, all counted.

    The errors of one row must come together (a new line counts a new invalid row).
    """

    capacity: int
    errors: list[RowError] = field(default_factory=list)
    count: int = 0
    invalid_rows: int = 0
    _last_line: int = 0

    def add(self, error: RowError) -> None:
        """Record ``error``; a new line counts one more invalid row."""
        self.count += 1
        if len(self.errors) < self.capacity:
            self.errors.append(error)
        if error.line != self._last_line:
            self.invalid_rows += 1
            self._last_line = error.line


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one import.

    Counts of records (beneficiaries, vehicles, plan links) are what this import
    did to the database: a beneficiary on two rows of the file is created once;
    ``*_unchanged`` are records the file describes exactly as they already were.
    When nothing was kept (``written`` is false because of ``all_or_nothing``)
    these counts are zero.

    Attributes:
        mode: the mode the import ran in.
        total_rows: data rows read (blank lines are not rows).
        valid_rows: rows without any error.
        invalid_rows: rows with at least one error.
        beneficiaries_created, beneficiaries_updated, beneficiaries_unchanged,
        vehicles_created, vehicles_updated, vehicles_unchanged: per record.
        plans_linked: beneficiary plans newly linked; plans_updated: links whose
            end date changed.
        errors: the first row errors, sorted by line (at most the limit's
            ``max_reported_errors``).
        error_count: every row error, reported or not.
        ignored_columns: header names that are no known column (ignored).
        encoding: how the file was decoded (``utf-8``, ``utf-8-sig``,
            ``cp1252``, ``utf-16``).
        delimiter: the field separator found in the header.
        written: the import's changes are in the caller's transaction (at least
            one record created or changed, and not rolled back).
    """

    mode: ImportMode
    total_rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    beneficiaries_created: int = 0
    beneficiaries_updated: int = 0
    beneficiaries_unchanged: int = 0
    vehicles_created: int = 0
    vehicles_updated: int = 0
    vehicles_unchanged: int = 0
    plans_linked: int = 0
    plans_updated: int = 0
    errors: tuple[RowError, ...] = ()
    error_count: int = 0
    ignored_columns: tuple[str, ...] = ()
    encoding: str = ""
    delimiter: str = ""
    written: bool = False

    @property
    def errors_truncated(self) -> bool:
        """True when more errors were found than ``errors`` lists."""
        return self.error_count > len(self.errors)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``errors`` as a list of objects)."""
        data = asdict(self)
        data["mode"] = self.mode.value
        data["errors_truncated"] = self.errors_truncated
        return data
