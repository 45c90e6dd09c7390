"""Records kept about the registry itself: the audit log (Histórico) and attached
files (Arquivos)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base
from registry.enums import AuditAction
from registry.models.columns import IdPk, str_enum


class AuditEntry(Base):
    """One create, update or delete of a registry record: who, when, what changed.

    ``changes`` maps each changed field to ``[old, new]`` (``old`` is null on create,
    ``new`` on delete). ``parent_entity`` / ``parent_id`` name the record a nested
    one belongs to (a client's contact, a beneficiary's vehicle), so that the
    parent's history shows its children's changes too. ``actor_login`` is copied so
    that the entry still reads after the user is removed. Entries are never updated
    nor deleted.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id", "id"),
        Index("ix_audit_log_parent", "parent_entity", "parent_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_login: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    parent_entity: Mapped[str | None] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "action"))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))


class Attachment(IdPk, Base):
    """A file attached to a client, beneficiary or provider.

    The bytes live under FILES_DIR named by their SHA-256 (so the same file stored
    twice takes the space once); this row holds the name the user gave it.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("owner_kind IN ('client', 'beneficiary', 'provider')", name="owner"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("size >= 0", name="size_non_negative"),
        Index("ix_attachments_owner", "owner_kind", "owner_id"),
    )

    owner_kind: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
