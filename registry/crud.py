"""Create, update and delete registry rows with their audit entries.

Every write goes through here so that the audit log (Histórico) is complete: one
entry per change, in the same transaction, with the changed fields.
"""

from __future__ import annotations

from typing import Any

import asyncpg.exceptions
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import SECRET_FIELDS, SECRET_SHOWN, Actor, diff, record
from registry.db import Base
from registry.enums import AuditAction
from registry.errors import InUse

ParentRef = tuple[str, int] | None

# Bookkeeping columns that say nothing about what the user changed.
_UNAUDITED = frozenset({"created_at", "updated_at"})


def column_values(row: Base) -> dict[str, Any]:
    """The row's column attributes (loaded ones), by attribute name."""
    state = inspect(row)
    return {
        attr.key: getattr(row, attr.key)
        for attr in state.mapper.column_attrs
        if attr.key not in state.unloaded and attr.key not in _UNAUDITED
    }


def _entity_id(row: Base) -> int:
    identity = inspect(row).identity
    assert identity is not None, "the row must be flushed first"
    return int(identity[0])


async def create_row(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    model: type[Base],
    values: dict[str, Any],
    parent: ParentRef = None,
) -> Any:
    """Insert a row and audit it; returns the row, refreshed from the database."""
    row = model(**values)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    changes = diff({}, {k: v for k, v in column_values(row).items() if v is not None})
    await record(session, actor, entity, _entity_id(row), AuditAction.CREATE, changes, parent)
    return row


async def update_row(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    row: Base,
    values: dict[str, Any],
    parent: ParentRef = None,
) -> dict[str, list[Any]]:
    """Apply ``values`` to ``row``; audit and return the fields that really changed
    (a secret, such as a password hash, is applied and audited as changed, its values
    never written to the audit)."""
    before = column_values(row)
    changes = diff(before, {**before, **values})
    secrets = [n for n in SECRET_FIELDS if n in values and values[n] != before.get(n)]
    for name in [*changes, *secrets]:
        setattr(row, name, values[name])
    changes.update({name: [SECRET_SHOWN, SECRET_SHOWN] for name in secrets})
    if changes:
        await session.flush()
        await session.refresh(row)
        entity_id = _entity_id(row)
        await record(session, actor, entity, entity_id, AuditAction.UPDATE, changes, parent)
    return changes


async def delete_row(
    session: AsyncSession, actor: Actor, entity: str, row: Base, parent: ParentRef = None
) -> None:
    """Delete ``row`` and audit it.

    Raises:
        InUse: other rows refer to it.
    """
    before = column_values(row)
    entity_id = _entity_id(row)
    await session.delete(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, asyncpg.exceptions.ForeignKeyViolationError):
            raise InUse() from exc
        raise
    changes = diff({k: v for k, v in before.items() if v is not None}, {})
    await record(session, actor, entity, entity_id, AuditAction.DELETE, changes, parent)
