"""The audit log (Histórico): who changed what, and when.

Services call :func:`record` in the same transaction as the change, so an entry
exists exactly when the change does. Values are stored JSON-ready
(:func:`json_value`); :func:`diff` keeps only the fields that changed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from geoalchemy2 import WKBElement, WKTElement
from sqlalchemy.ext.asyncio import AsyncSession

from registry.enums import AuditAction
from registry.models.records import AuditEntry
from registry.points import point_from_wkb, point_from_wkt

# Never copied into the log, whatever the entity.
SECRET_FIELDS = frozenset({"password_hash", "token_hash", "csrf_token", "id_hash"})
SECRET_SHOWN = "***"  # what the audit shows of a secret that changed (never its value)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a signed-in user (or the system), and the request's id."""

    user_id: int | None
    login: str
    request_id: str | None = None


SYSTEM = Actor(user_id=None, login="system")


def json_value(value: Any) -> Any:
    """A JSON-ready copy of a column value (Decimal as string, dates ISO, points)."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"  # 10.00 and 10 are the same amount
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, WKBElement):
        point = point_from_wkb(value.data)
        return {"lat": point.lat, "lng": point.lng}
    if isinstance(value, WKTElement):
        point = point_from_wkt(value.data)
        return {"lat": point.lat, "lng": point.lng}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for each field whose JSON value changed."""
    changes: dict[str, list[Any]] = {}
    for name in sorted(set(before) | set(after)):
        if name in SECRET_FIELDS:
            continue
        old, new = json_value(before.get(name)), json_value(after.get(name))
        if old != new:
            changes[name] = [old, new]
    return changes


async def record(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    entity_id: int,
    action: AuditAction,
    changes: Mapping[str, list[Any]],
    parent: tuple[str, int] | None = None,
) -> None:
    """Add one audit entry to the session (written with the change it describes).

    ``parent`` is (entity, id) of the record a nested one belongs to.
    """
    session.add(
        AuditEntry(
            actor_user_id=actor.user_id,
            actor_login=actor.login,
            entity=entity,
            entity_id=entity_id,
            parent_entity=parent[0] if parent else None,
            parent_id=parent[1] if parent else None,
            action=action,
            changes=dict(changes),
            request_id=actor.request_id,
        )
    )
