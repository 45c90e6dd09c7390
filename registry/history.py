"""Reading the audit log: a record's history (Histórico) including its children."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.enums import AuditAction
from registry.models import AuditEntry

MAX_HISTORY = 500


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_login: str
    entity: str
    entity_id: int
    action: AuditAction
    changes: dict[str, Any]
    request_id: str | None


async def history(
    session: AsyncSession, entity: str, entity_id: int, limit: int = MAX_HISTORY
) -> list[HistoryEntry]:
    """The newest ``limit`` changes of a record and of the records nested in it."""
    own = and_(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
    children = and_(AuditEntry.parent_entity == entity, AuditEntry.parent_id == entity_id)
    rows = await session.scalars(
        select(AuditEntry)
        .where(or_(own, children))
        .order_by(AuditEntry.id.desc())
        .limit(min(limit, MAX_HISTORY))
    )
    return [HistoryEntry.model_validate(row) for row in rows]
