"""Errors of the CSV import (``registry.importing``).

::

    RegistryError                      registry/errors.py
    └── ValidationError                field + pt-BR message (a ValueError)
        └── ImportFileError            the file as a whole cannot be imported: it
                                       is empty, too large, has no required
                                       column, an unclosed quote... Carries a
                                       stable ``code`` and the physical ``line``
                                       when one is to blame (0 otherwise).

Problems of one row are not exceptions: they are
:class:`registry.importing.report.RowError` values listed in the report, and the
import goes on. An ``ImportFileError`` stops the import; the caller rolls its
transaction back (nothing of the file is kept either way: see
:func:`registry.importing.import_beneficiaries`).
"""

from __future__ import annotations

from registry.errors import ValidationError


class ImportFileError(ValidationError):
    """The file cannot be imported at all.

    Attributes:
        code: stable machine-readable reason (``empty_file``, ``file_too_large``,
            ``too_many_rows``, ``line_too_long``, ``unclosed_quote``,
            ``bad_encoding``, ``missing_columns``, ``duplicate_column``,
            ``dependent_column``).
        message: what is wrong, in pt-BR, for the operator.
        line: the physical line at fault (1 is the header), or 0 for the file.
    """

    def __init__(self, code: str, message: str, line: int = 0) -> None:
        super().__init__("file", message)
        self.code = code
        self.line = line
