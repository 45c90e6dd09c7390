"""The provider web portal's presence: while a provider's portal page is open it
renews a mark in Redis, and dispatchers see the provider as reachable by ``web``
(candidates' ``connectivity``: ``app``, ``web`` or ``offline``).

The page calls ``POST /api/v1/portal/presence`` every ``renew_s`` seconds; the mark
lives ``PRESENCE_TTL_S``, so a closed tab is offline within that.
"""

from __future__ import annotations

from pydantic import BaseModel

from server.api.core import Access, Ctx, Operation
from server.api.errors import forbidden

RENEW_SHARE = 3
"""The page renews this many times per TTL: a lost request or two do not matter."""


class PresenceOut(BaseModel):
    provider_id: int
    renew_s: float


async def presence(ctx: Ctx) -> PresenceOut:
    provider_id = ctx.user.provider_id
    if provider_id is None:
        raise forbidden()
    ttl = ctx.resources.settings.presence_ttl_s
    await ctx.request.app.state.live.store.mark_web(provider_id, ttl)
    return PresenceOut(provider_id=provider_id, renew_s=ttl / RENEW_SHARE)


OPERATIONS = [
    Operation(
        "POST",
        "/portal/presence",
        presence,
        "The provider's web portal is open (provider users; renew every renew_s)",
        "portal",
        access=Access.USER,
        response=PresenceOut,
    ),
]
