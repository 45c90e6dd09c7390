"""Device tokens: issue, revoke and check a provider app's credential."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit import Actor
from registry.crud import create_row
from registry.db import utcnow
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


async def provider_for_token(session: AsyncSession, token: str) -> tuple[int, int] | None:
    """(provider id, token id) of a valid token of an active provider, else None.

    Records when the token was last used.
    """
    row = (
        await session.execute(
            select(DeviceToken.id, DeviceToken.provider_id)
            .join(Provider, Provider.id == DeviceToken.provider_id)
            .where(
                DeviceToken.token_hash == token_digest(token),
                DeviceToken.revoked_at.is_(None),
                Provider.status == ProviderStatus.ACTIVE,
            )
        )
    ).first()
    if row is None:
        return None
    await session.execute(
        update(DeviceToken).where(DeviceToken.id == row.id).values(last_used_at=utcnow())
    )
    return row.provider_id, row.id
