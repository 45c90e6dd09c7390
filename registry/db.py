"""Shared database helpers: the declarative base, engine and session factories.

Every module's SQLAlchemy models derive from :class:`Base`, so that one metadata
holds the whole schema (Alembic compares against it). Names of constraints and
indexes follow :data:`NAMING_CONVENTION`, so migrations stay stable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    MetaData,
    Select,
    Table,
    bindparam,
    event,
    exc,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; one metadata for the whole schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: Any) -> Table:
    """A mapped class's table, for Core statements over its columns."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def change_with_line(table: Table, columns: Sequence[str], lines: Table) -> Select[Any]:
    """One statement (data-modifying CTEs) that UPDATEs ``columns`` of one row of
    ``table`` and INSERTs a line into ``lines`` (its history): one round trip where a
    flush takes two. Parameters: :func:`change_params`."""
    changed = (
        update(table)
        .where(table.c.id == bindparam("changed_id"))
        .values({name: bindparam(f"changed_{name}") for name in columns})
        .returning(table.c.id)
        .cte(f"changed_{table.name}")
    )
    names = [c.name for c in lines.c if c.name != "id"]
    line = insert(lines).values({name: bindparam(f"line_{name}") for name in names})
    return select(changed.c.id).add_cte(line.cte(f"new_{lines.name}"))


def line_values(entry: Any, **ids: int) -> dict[str, Any]:
    """A history line's column values: a dataclass entry's fields (named as the
    columns) and the ids of what it belongs to."""
    return {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)} | ids


def change_params(row_id: int, changed: dict[str, Any], line: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a :func:`change_with_line` statement: the row's id, its new
    values, the line's values (every column of it but its id)."""
    params = {f"changed_{name}": value for name, value in changed.items()}
    params |= {f"line_{name}": value for name, value in line.items()}
    return params | {"changed_id": row_id}


class Timestamped:
    """created_at / updated_at columns, timezone-aware, set by the database."""

    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=utcnow, nullable=False
    )


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_s: float = 5.0,
    connect_timeout_s: float = 3.0,
    null_pool: bool = False,
    **kwargs: Any,
) -> AsyncEngine:
    """An asyncpg engine with bounded pool and timeouts.

    A pooled connection that died with its server (a PostgreSQL restart) is
    replaced on checkout instead of failing the request that got it
    (:func:`_replace_closed`). ``null_pool`` opens a connection per use
    (migrations, one-shot commands).
    """
    pooling: dict[str, Any] = (
        {"poolclass": NullPool}
        if null_pool
        else {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout_s}
    )
    engine = create_async_engine(
        to_async_url(url),
        **pooling,
        connect_args={
            "timeout": connect_timeout_s,
            "server_settings": {"application_name": "acionar"},
        },
        **kwargs,
    )
    if not null_pool:
        event.listen(engine.sync_engine.pool, "checkout", _replace_closed)
    return engine


def _replace_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: a connection whose socket the server closed (a restart, a
    terminated backend) is discarded and the pool takes another (SQLAlchemy's
    ``DisconnectionError`` contract on ``checkout``).

    This is what ``pool_pre_ping`` was for, without its three round trips on every
    checkout (asyncpg's ping is BEGIN, an empty query and ROLLBACK): asyncpg marks a
    connection closed as soon as its event loop sees the server close the socket.
    A link that dies silently (no close reaches us) fails the statement instead,
    and SQLAlchemy then invalidates the pool's older connections.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def to_async_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the asyncpg driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back otherwise."""
    async with sessions() as session, session.begin():
        yield session
