"""Provider device tokens: the credentials of provider apps on /ws/provider.

Revoking a token closes the sockets that use it, on every node (close code 4004):
:func:`operations.devices.revoke_device_token` commits the ``device_token.revoked``
event with the revocation (the outbox), so it reaches every node at least once, even
when Redis is down at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from operations.devices import revoke_device_token
from registry import models as m
from registry.devices import issue_device_token
from registry.permissions import Permission
from registry.schemas.common import ONE_LINE, InModel
from server.api.core import BodyKind, Ctx, Operation
from server.api.errors import not_found

P = Permission


class DeviceTokenIn(InModel):
    name: Annotated[str, Field(min_length=1, max_length=80), ONE_LINE]


class DeviceTokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewDeviceTokenOut(DeviceTokenOut):
    token: str  # shown once: configure it in the provider's app


async def _provider(ctx: Ctx) -> m.Provider:
    provider = await ctx.session.get(m.Provider, ctx.path["provider_id"])
    if provider is None:
        raise not_found("Prestador")
    return provider


async def issue(ctx: Ctx) -> NewDeviceTokenOut:
    provider = await _provider(ctx)
    row, secret = await issue_device_token(ctx.session, ctx.actor, provider.id, ctx.body.name)
    return NewDeviceTokenOut(**DeviceTokenOut.model_validate(row).model_dump(), token=secret)


async def list_tokens(ctx: Ctx) -> list[DeviceTokenOut]:
    provider = await _provider(ctx)
    rows = await ctx.session.scalars(
        select(m.DeviceToken)
        .where(m.DeviceToken.provider_id == provider.id)
        .order_by(m.DeviceToken.id)
    )
    return [DeviceTokenOut.model_validate(row) for row in rows]


async def revoke(ctx: Ctx) -> None:
    await revoke_device_token(ctx.uow, ctx.actor, ctx.path["provider_id"], ctx.path["token_id"])


PATH = "/providers/{provider_id:int}/device_tokens"
OPERATIONS = [
    Operation(
        "POST",
        PATH,
        issue,
        "Issue a device token for the provider's app",
        "providers",
        permission=P.PROVIDERS_EDIT,
        body=DeviceTokenIn,
        body_kind=BodyKind.MODEL,
        response=NewDeviceTokenOut,
        status=201,
    ),
    Operation(
        "GET",
        PATH,
        list_tokens,
        "List the provider's device tokens",
        "providers",
        permission=P.PROVIDERS_EDIT,
        response=list[DeviceTokenOut],
    ),
    Operation(
        "DELETE",
        PATH + "/{token_id:int}",
        revoke,
        "Revoke a device token (closes its sockets)",
        "providers",
        permission=P.PROVIDERS_EDIT,
        status=204,
    ),
]
