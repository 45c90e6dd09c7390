"""Revoking a provider app's device token, as a use case on a unit of work.

The token is the registry's (:mod:`registry.devices` writes the row and its audit
entry); what makes revoking an application-layer step is its news: every node must
close the sockets that use the token (close code 4004), so ``device_token.revoked``
is written to the outbox in the transaction of the revocation and reaches every
node at least once, even when Redis is down at that moment.
"""

from __future__ import annotations

from operations.events import DEVICE_TOKEN_REVOKED, TokenRevokedEvent
from operations.service import UnitOfWork
from registry import devices
from registry.audit import Actor


async def revoke_device_token(
    uow: UnitOfWork, actor: Actor, provider_id: int, token_id: int
) -> None:
    """Revoke the provider's token ``token_id`` as of the unit's instant, and
    announce it; revoking a revoked token again changes and announces nothing.

    Raises:
        registry.errors.NotFound: no such provider, or the token is not its own.
    """
    row = await devices.revoke_device_token(uow.session, actor, provider_id, token_id, uow.now)
    if row is not None:
        uow.emit(DEVICE_TOKEN_REVOKED, TokenRevokedEvent(provider_id=provider_id, token_id=row.id))
