"""Device tokens: issue a provider app's credential, revoke it, and find whose a
token is.

Revoking here writes the row and its audit entry; closing the sockets that use the
token is news for every node, which :func:`operations.devices.revoke_device_token`
(the use case callers run) emits in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.audit import Actor, record
from registry.crud import create_row
from registry.enums import AuditAction, ProviderStatus
from registry.errors import NotFound
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


async def revoke_device_token(
    session: AsyncSession, actor: Actor, provider_id: int, token_id: int, now: datetime
) -> DeviceToken | None:
    """Revoke the provider's token ``token_id`` as of ``now``, with its audit entry.

    Returns:
        The row, when this call revoked it; ``None`` when it was revoked already
        (revoking is idempotent: nothing is written then).

    Raises:
        NotFound: no such provider, or the token is not one of the provider's.
    """
    if await session.get(Provider, provider_id) is None:
        raise NotFound("Prestador não encontrado.")
    row = await session.get(DeviceToken, token_id)
    if row is None or row.provider_id != provider_id:
        raise NotFound("Token não encontrado.")
    if row.revoked_at is not None:
        return None
    row.revoked_at = now
    changes = {"revoked_at": [None, now.isoformat()]}
    await record(
        session,
        actor,
        "device_token",
        row.id,
        AuditAction.UPDATE,
        changes,
        ("provider", provider_id),
    )
    await session.flush()
    return row


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
