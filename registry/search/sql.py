"""SQL pieces shared by the searches: bound parameters, prefix ranges, the client
filter.

Every statement's access path is fixed by its shape (bounded index ranges, LIMITed
subqueries over the name index, the word-key test only the GIN index can serve), so
its values are bound parameters (:func:`_param`): PostgreSQL's generic plans for the
cached prepared statements are the custom ones, measured with ``plan_cache_mode``
forced either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Text, and_, literal, true
from sqlalchemy.dialects.postgresql import ARRAY


def _param(value: str | int) -> Any:
    """A bound parameter of the value's SQL type."""
    return literal(value, Integer if isinstance(value, int) else Text)


def _param_array(values: Sequence[str]) -> Any:
    """A bound ``text[]``."""
    return literal(list(values), ARRAY(Text))


def _successor(prefix: str, alphabet: str) -> str | None:
    """The least string of ``alphabet`` above every string starting with ``prefix``.

    ``"129"`` → ``"13"``; None when there is none (``"999"``). Only characters of
    ``alphabet`` appear, so the range holds in any collation that orders them alike.
    """
    stem = prefix
    while stem:
        position = alphabet.index(stem[-1])
        if position + 1 < len(alphabet):
            return stem[:-1] + alphabet[position + 1]
        stem = stem[:-1]
    return None


def _starts_with(
    column: Any, prefix: str, alphabet: str, *, byte_order: bool = False
) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``: an index range, exact under byte order.

    Other collations get a LIKE too, in case one orders the alphabet differently.
    """
    upper = _successor(prefix, alphabet)
    bounds = [column >= _param(prefix)] + ([] if upper is None else [column < _param(upper)])
    return and_(*bounds) if byte_order else and_(*bounds, column.like(_param(prefix + "%")))


def _of_client(column: Any, client_id: int | None) -> ColumnElement[bool]:
    """``column`` (a client id) is ``client_id``; always true without one."""
    return true() if client_id is None else column == _param(client_id)
