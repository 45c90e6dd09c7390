"""Typed readers of fields of a decoded JSON object.

Each reader returns the field's value with its Python type or raises
:class:`~realtime.errors.MessageError` (code ``invalid_field``) naming the field by
its path, ``prefix + key`` (``"fixes[3].lat"``). JSON ``true``/``false`` are never
numbers here, although Python's ``bool`` is an ``int``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from realtime.errors import MessageError
from realtime.protocol.constants import ErrorCode

JsonObject = Mapping[str, object]


def invalid(path: str, message: str) -> MessageError:
    """An ``invalid_field`` error for the field at ``path``; ``message`` follows the path."""
    return MessageError(ErrorCode.INVALID_FIELD, f"{path} {message}", path)


def _present(obj: JsonObject, key: str, prefix: str) -> object:
    value = obj.get(key)
    if value is None:
        raise invalid(prefix + key, "is required")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_str(obj: JsonObject, key: str, *, max_chars: int, prefix: str = "") -> str:
    """A required, non-empty, printable string of at most ``max_chars`` characters."""
    value = _present(obj, key, prefix)
    if not isinstance(value, str):
        raise invalid(prefix + key, "must be a string")
    if not value or len(value) > max_chars:
        raise invalid(prefix + key, f"must have 1 to {max_chars} characters")
    if not value.isprintable():
        raise invalid(prefix + key, "must hold only printable characters")
    return value


def read_float(obj: JsonObject, key: str, *, prefix: str = "") -> float:
    """A required finite number, as a ``float``."""
    return _as_float(_present(obj, key, prefix), prefix + key)


def read_optional_float(obj: JsonObject, key: str, *, prefix: str = "") -> float | None:
    """A finite number, or ``None`` when absent or ``null``."""
    value = obj.get(key)
    return None if value is None else _as_float(value, prefix + key)


def _as_float(value: object, path: str) -> float:
    if not _is_number(value):
        raise invalid(path, "must be a number")
    number = float(value)  # type: ignore[arg-type]  # _is_number checked it
    if not math.isfinite(number):
        raise invalid(path, "must be a finite number")
    return number


def read_int(obj: JsonObject, key: str, *, low: int, high: int, prefix: str = "") -> int:
    """A required integer in ``[low, high]`` (``1.0`` is not an integer here)."""
    return _as_int(_present(obj, key, prefix), prefix + key, low, high)


def read_optional_int(
    obj: JsonObject, key: str, *, low: int, high: int, prefix: str = ""
) -> int | None:
    """An integer in ``[low, high]``, or ``None`` when absent or ``null``."""
    value = obj.get(key)
    return None if value is None else _as_int(value, prefix + key, low, high)


def _as_int(value: object, path: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(path, "must be an integer")
    if not low <= value <= high:
        raise invalid(path, f"must be between {low} and {high}")
    return value


def read_bool(obj: JsonObject, key: str, *, default: bool, prefix: str = "") -> bool:
    """A boolean, or ``default`` when absent or ``null``."""
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(prefix + key, "must be true or false")
    return value


def read_list(obj: JsonObject, key: str, *, prefix: str = "") -> list[object]:
    """A required JSON array."""
    value = _present(obj, key, prefix)
    if not isinstance(value, list):
        raise invalid(prefix + key, "must be an array")
    return value


def as_object(value: object, path: str) -> JsonObject:
    """``value`` if it is a JSON object, else an ``invalid_field`` error."""
    if not isinstance(value, dict):
        raise invalid(path, "must be an object")
    return value
