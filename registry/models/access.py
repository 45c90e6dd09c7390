"""Access: roles (Perfil) with their permission codes, and users (Usuário)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import TokenKind, UserKind
from registry.models.columns import IdPk, str_enum

# Staff users belong to no client nor provider; portal users to exactly one.
USER_KIND_SCOPE = (
    "(kind = 'staff' AND client_id IS NULL AND provider_id IS NULL) "
    "OR (kind = 'client' AND client_id IS NOT NULL AND provider_id IS NULL) "
    "OR (kind = 'provider' AND provider_id IS NOT NULL AND client_id IS NULL)"
)


class Role(IdPk, Timestamped, Base):
    """Perfil: a named set of permission codes (see :mod:`registry.permissions`).

    Codes are stored as text so that a code added in a later version needs no
    migration; unknown codes grant nothing.
    """

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(60), unique=True)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))


class User(IdPk, Timestamped, Base):
    """Usuário: someone who signs in.

    ``login`` is unique case-insensitively (stored in lower case by
    :func:`registry.users.upsert_user`). ``kind`` says whose user it is: the
    assistance's staff, a client's (client portal, scoped to ``client_id``) or a
    provider's (provider portal, scoped to ``provider_id``). ``password_hash`` is
    an argon2id hash.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(USER_KIND_SCOPE, name="kind_scope"),
        CheckConstraint("login <> ''", name="login_not_empty"),
        Index("ix_users_login_lower", func.lower(text("login")), unique=True),
    )

    login: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(160))
    password_hash: Mapped[str] = mapped_column(Text)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    kind: Mapped[UserKind] = mapped_column(
        str_enum(UserKind, "kind"), server_default=UserKind.STAFF.value
    )
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(IdPk, Base):
    """A bearer token: an API client's (``api``) or a provider app's (``device``).

    Only the SHA-256 of the token is stored; the token itself is shown once, when
    issued. A revoked or expired token authenticates nothing.
    """

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[TokenKind] = mapped_column(str_enum(TokenKind, "kind"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A signed-in web session. The cookie carries a random id; only its SHA-256
    is stored (``id_hash``), beside the session's CSRF token."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class DeviceToken(IdPk, Base):
    """A provider app's credential for the provider websocket (``/ws/provider``).

    Issued by operators through the API (shown once), revoked the same way; only
    its SHA-256 is stored. A revoked token closes the sockets that used it.
    """

    __tablename__ = "device_tokens"

    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
