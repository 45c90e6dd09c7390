"""Device tokens: issue a provider app's credential, and find whose a token is."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.audit import Actor
from registry.crud import create_row
from registry.enums import ProviderStatus
from registry.models import DeviceToken, Provider

TOKEN_PREFIX = "dt_"
TOKEN_BYTES = 32


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_device_token(
    session: AsyncSession, actor: Actor, provider_id: int, name: str
) -> tuple[DeviceToken, str]:
    """A new token for the provider's app; the secret is returned once, never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    values = {
        "provider_id": provider_id,
        "name": name,
        "token_hash": token_digest(secret),
        "created_by": actor.user_id,
    }
    row = await create_row(
        session, actor, "device_token", DeviceToken, values, ("provider", provider_id)
    )
    return row, secret


_NO_SYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")

_TOKEN_OWNER = (
    update(DeviceToken)
    .where(
        DeviceToken.token_hash == bindparam("digest"),
        DeviceToken.revoked_at.is_(None),
        DeviceToken.provider_id == Provider.id,
        Provider.status == ProviderStatus.ACTIVE,
    )
    .values(last_used_at=func.now())
    .returning(DeviceToken.provider_id, DeviceToken.id)
)
"""Built once: SQLAlchemy then compiles it once (its cache key is memoised)."""


async def token_owner(engine: AsyncEngine, token: str) -> tuple[int, int] | None:
    """(provider id, token id) of a valid token of an active provider, else ``None``;
    records when the token was used. One statement (``UPDATE ... RETURNING``) on a
    bare connection: thousands of apps reconnect at once after a network blip.
    """
    async with engine.begin() as connection:
        # last_used_at is bookkeeping: the commit need not wait for the WAL flush
        # (a crash may lose the latest ones); thousands of reconnects commit at once.
        await connection.execute(_NO_SYNC_COMMIT)
        found = await connection.execute(_TOKEN_OWNER, {"digest": token_digest(token)})
        row = found.first()
    return None if row is None else (int(row[0]), int(row[1]))


async def blocked_among(sessions: async_sessionmaker[AsyncSession], ids: set[int]) -> list[int]:
    """Which of the providers ``ids`` are blocked (their sockets must close)."""
    if not ids:
        return []
    async with sessions() as session:
        rows = await session.scalars(
            select(Provider.id).where(
                Provider.id.in_(sorted(ids)), Provider.status == ProviderStatus.BLOCKED
            )
        )
        return list(rows)
