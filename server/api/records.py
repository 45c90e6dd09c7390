"""Per-record endpoints beyond CRUD: history (Histórico) and provider partnerships."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from registry import models as m
from registry.audit import record
from registry.enums import AuditAction
from registry.history import HistoryEntry, history
from registry.permissions import Permission
from registry.schemas.providers import PartnershipIn, PartnershipOut
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import not_found

P = Permission

# entity name, model, path segment, pt-BR title, portal column
HISTORY_OWNERS: list[tuple[str, type[Any], str, str, str | None]] = [
    ("client", m.Client, "clients", "Cliente", "id"),
    ("beneficiary", m.Beneficiary, "beneficiaries", "Beneficiário", "client_id"),
    ("provider", m.Provider, "providers", "Prestador", None),
]


def _history_op(
    entity: str, model: type[Any], segment: str, title: str, portal_column: str | None
) -> Operation:
    async def handler(ctx: Ctx) -> list[HistoryEntry]:
        row = await ctx.session.get(model, ctx.path["item_id"])
        principal = ctx.user
        if row is None or (
            principal.is_client_user and getattr(row, portal_column or "") != principal.client_id
        ):
            raise not_found(title)
        return await history(ctx.session, entity, row.id)

    return Operation(
        "GET",
        f"/{segment}/{{item_id:int}}/history",
        handler,
        f"History: {title}",
        segment,
        Access.PORTAL if portal_column else Access.PERMISSION,
        P.REGISTRY_VIEW,
        response=list[HistoryEntry],
    )


async def _provider(ctx: Ctx) -> m.Provider:
    provider = await ctx.session.get(m.Provider, ctx.path["provider_id"])
    if provider is None:
        raise not_found("Prestador")
    return provider


async def list_partners(ctx: Ctx) -> list[PartnershipOut]:
    provider = await _provider(ctx)
    rows = await ctx.session.scalars(
        select(m.ProviderPartnership)
        .where(m.ProviderPartnership.provider_id == provider.id)
        .order_by(m.ProviderPartnership.client_id)
    )
    return [PartnershipOut(provider_id=r.provider_id, client_id=r.client_id) for r in rows]


async def add_partner(ctx: Ctx) -> PartnershipOut:
    provider = await _provider(ctx)
    body: PartnershipIn = ctx.body
    if await ctx.session.get(m.Client, body.client_id) is None:
        raise not_found("Cliente")
    inserted = await ctx.session.execute(
        insert(m.ProviderPartnership)
        .values(provider_id=provider.id, client_id=body.client_id)
        .on_conflict_do_nothing()
        .returning(m.ProviderPartnership.client_id)
    )
    if inserted.first() is not None:
        await record(
            ctx.session,
            ctx.actor,
            "provider_partnership",
            body.client_id,
            AuditAction.CREATE,
            {"client_id": [None, body.client_id]},
            ("provider", provider.id),
        )
    return PartnershipOut(provider_id=provider.id, client_id=body.client_id)


async def remove_partner(ctx: Ctx) -> None:
    provider = await _provider(ctx)
    client_id = int(ctx.path["client_id"])
    deleted = await ctx.session.execute(
        delete(m.ProviderPartnership)
        .where(
            m.ProviderPartnership.provider_id == provider.id,
            m.ProviderPartnership.client_id == client_id,
        )
        .returning(m.ProviderPartnership.client_id)
    )
    if deleted.first() is None:
        raise not_found("Parceria")
    await record(
        ctx.session,
        ctx.actor,
        "provider_partnership",
        client_id,
        AuditAction.DELETE,
        {"client_id": [client_id, None]},
        ("provider", provider.id),
    )


async def client_partners(ctx: Ctx) -> list[PartnershipOut]:
    """The providers that are partners of a client (Parceiros tab of the client)."""
    client = await ctx.session.get(m.Client, ctx.path["client_id"])
    if client is None:
        raise not_found("Cliente")
    rows = await ctx.session.scalars(
        select(m.ProviderPartnership)
        .where(m.ProviderPartnership.client_id == client.id)
        .order_by(m.ProviderPartnership.provider_id)
    )
    return [PartnershipOut(provider_id=r.provider_id, client_id=r.client_id) for r in rows]


PARTNERS = "/providers/{provider_id:int}/partners"
OPERATIONS = [
    *(_history_op(*owner) for owner in HISTORY_OWNERS),
    Operation(
        "GET",
        PARTNERS,
        list_partners,
        "List: partner clients of a provider",
        "providers",
        permission=P.REGISTRY_VIEW,
        response=list[PartnershipOut],
    ),
    Operation(
        "POST",
        PARTNERS,
        add_partner,
        "Make a provider a client's partner",
        "providers",
        permission=P.PROVIDERS_EDIT,
        body=PartnershipIn,
        body_kind=BodyKind.MODEL,
        response=PartnershipOut,
        status=201,
    ),
    Operation(
        "DELETE",
        PARTNERS + "/{client_id:int}",
        remove_partner,
        "End a partnership",
        "providers",
        permission=P.PROVIDERS_EDIT,
        status=204,
    ),
    Operation(
        "GET",
        "/clients/{client_id:int}/partners",
        client_partners,
        "List: partner providers of a client",
        "clients",
        permission=P.REGISTRY_VIEW,
        response=list[PartnershipOut],
    ),
]
