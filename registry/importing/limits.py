"""Every bound of the CSV import, named, with finite defaults.

The defaults fit a client's whole base in one file (100,000 beneficiary-vehicle
rows is about 35 MB) with room to spare; a caller may pass tighter
:class:`ImportLimits` (the HTTP endpoint, or tests that exercise a limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.errors import ValidationError

MAX_FILE_BYTES = 128 * 1024 * 1024  # 128 MiB: ~350,000 typical rows
MAX_ROWS = 200_000  # data rows (the header and blank lines are not rows)
MAX_LINE_CHARS = 16 * 1024  # one record, quoted line breaks included
BATCH_SIZE = 1_000  # rows validated against the database and written together
MAX_REPORTED_ERRORS = 1_000  # errors listed in the report; all are counted


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """The bounds of one import.

    Attributes:
        max_file_bytes: the most bytes read from the stream; beyond, the import
            fails with ``file_too_large``.
        max_rows: the most data rows; beyond, the import fails with ``too_many_rows``.
        max_line_chars: the longest record (a spreadsheet line, quoted line breaks
            included); beyond, the import fails with ``line_too_long``.
        batch_size: rows checked against the database and upserted together; the
            memory an import holds grows with it, not with the file.
        max_reported_errors: row errors kept in the report; ``error_count`` counts
            them all.
    """

    max_file_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS
    max_line_chars: int = MAX_LINE_CHARS
    batch_size: int = BATCH_SIZE
    max_reported_errors: int = MAX_REPORTED_ERRORS

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValidationError(name, f"ImportLimits.{name} must be positive")


DEFAULT_LIMITS = ImportLimits()
