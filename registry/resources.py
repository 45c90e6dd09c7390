"""Every registry resource the API exposes, with the rules that go beyond a schema."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry import models as m
from registry.cells import point_cell
from registry.enums import PlanKind
from registry.errors import ValidationError
from registry.permissions import Permission
from registry.resource import Parent, Permissions, ResourceSpec, Values
from registry.schemas import access as sa
from registry.schemas import catalogue as sc
from registry.schemas import clients as scl
from registry.schemas import people as sp
from registry.schemas import providers as spr
from registry.users import hash_password

P = Permission

REGISTRY = Permissions(P.REGISTRY_VIEW, P.REGISTRY_CREATE, P.REGISTRY_EDIT, P.REGISTRY_DELETE)
BENEFICIARIES = Permissions(
    P.REGISTRY_VIEW, P.BENEFICIARIES_CREATE, P.BENEFICIARIES_EDIT, P.BENEFICIARIES_DELETE
)
PROVIDERS = Permissions(P.REGISTRY_VIEW, P.PROVIDERS_CREATE, P.PROVIDERS_EDIT, P.PROVIDERS_DELETE)
USERS = Permissions(*(P.SECURITY_MANAGE_USERS,) * 4)
ROLES = Permissions(*(P.SECURITY_MANAGE_ROLES,) * 4)

CLIENT = Parent("client_id", m.Client, "client", "Cliente", portal_column="id")
BENEFICIARY = Parent(
    "beneficiary_id", m.Beneficiary, "beneficiary", "Beneficiário", portal_column="client_id"
)
PLAN = Parent("plan_id", m.Plan, "plan", "Plano", portal_column="client_id")
PROVIDER = Parent("provider_id", m.Provider, "provider", "Prestador")

PLAN_CODE_PREFIX = "PL"


# -- hooks ----------------------------------------------------------------------------


async def _plan_of(
    session: AsyncSession, plan_id: int | None, client_id: int, kind: PlanKind, field: str
) -> None:
    """Check that ``plan_id`` is a plan of ``client_id`` of the right kind."""
    if plan_id is None:
        return
    plan = await session.get(m.Plan, plan_id)
    if plan is None or plan.client_id != client_id:
        raise ValidationError(field, "Plano inexistente para o cliente deste beneficiário")
    if plan.kind != kind:
        wanted = "de veículo" if kind is PlanKind.VEHICLE else "de beneficiário (não veicular)"
        raise ValidationError(field, f"Use um plano {wanted}")


async def _beneficiary_client(session: AsyncSession, beneficiary_id: int) -> int:
    client_id = await session.scalar(
        select(m.Beneficiary.client_id).where(m.Beneficiary.id == beneficiary_id)
    )
    assert client_id is not None  # the parent was checked before
    return client_id


async def vehicle_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    client_id = await _beneficiary_client(session, ids["beneficiary_id"])
    await _plan_of(session, values.get("plan_id"), client_id, PlanKind.VEHICLE, "plan_id")
    return values


async def beneficiary_plan_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    client_id = await _beneficiary_client(session, ids["beneficiary_id"])
    await _plan_of(session, values["plan_id"], client_id, PlanKind.BENEFICIARY, "plan_id")
    return values


async def provider_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    point = values["base_location"]
    return {**values, "base_h3": point_cell(point["lat"], point["lng"])}


async def plan_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    if values.get("code"):
        return values
    if existing is not None:
        return {**values, "code": existing.code}
    count = await session.scalar(
        select(func.count()).select_from(m.Plan).where(m.Plan.client_id == ids["client_id"])
    )
    number = (count or 0) + 1
    while await session.scalar(
        select(m.Plan.id).where(
            m.Plan.client_id == ids["client_id"], m.Plan.code == f"{PLAN_CODE_PREFIX}{number:04d}"
        )
    ):
        number += 1
    return {**values, "code": f"{PLAN_CODE_PREFIX}{number:04d}"}


async def contract_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    plan_ids = values.pop("plan_ids")
    found = set(
        await session.scalars(
            select(m.Plan.id).where(m.Plan.id.in_(plan_ids), m.Plan.client_id == ids["client_id"])
        )
    )
    missing = sorted(set(plan_ids) - found)
    if missing:
        raise ValidationError("plan_ids", f"Planos inexistentes para este cliente: {missing}")
    return values


async def contract_links(session: AsyncSession, contract: Any, values: Values) -> None:
    """Make the contract's plan links exactly ``plan_ids``."""
    await session.execute(delete(m.ContractPlan).where(m.ContractPlan.contract_id == contract.id))
    plan_ids = sorted(set(values["plan_ids"]))
    if plan_ids:
        await session.execute(
            insert(m.ContractPlan),
            [{"contract_id": contract.id, "plan_id": plan_id} for plan_id in plan_ids],
        )


async def contract_out(session: AsyncSession, contract: Any) -> scl.ContractOut:
    plan_ids = await session.scalars(
        select(m.ContractPlan.plan_id)
        .where(m.ContractPlan.contract_id == contract.id)
        .order_by(m.ContractPlan.plan_id)
    )
    return scl.contract_out(contract, list(plan_ids))


async def user_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    password = values.get("password")
    if existing is not None and (password or not values.get("active", True)):
        await end_sign_ins(session, existing.id)
    if password:
        # argon2 spends ~0.1 s of CPU on purpose: never on the event loop
        return {**values, "password_hash": await asyncio.to_thread(hash_password, password)}
    if existing is None:
        raise ValidationError("password", "Informe a senha do novo usuário")
    return values


async def end_sign_ins(session: AsyncSession, user_id: int) -> None:
    """End every web session of the user and revoke its API tokens (a new password,
    a deactivated user: whoever held the old password holds nothing any more)."""
    await session.execute(delete(m.UserSession).where(m.UserSession.user_id == user_id))
    await session.execute(
        update(m.ApiToken)
        .where(m.ApiToken.user_id == user_id, m.ApiToken.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def role_columns(
    session: AsyncSession, values: Values, ids: dict[str, int], existing: Any
) -> Values:
    return {**values, "permissions": sorted(str(p) for p in values["permissions"])}


# -- the resources --------------------------------------------------------------------


def _named(name: str, entity: str, title: str, model: type[Any]) -> ResourceSpec:
    return ResourceSpec(
        name,
        entity,
        title,
        model,
        sc.NamedEntryIn,
        sc.NamedEntryOut,
        REGISTRY,
        filters=("active",),
        sort=("name", "id"),
        text_search=("name",),
    )


ADDRESS_FILTERS = ("city", "state")

RESOURCES: list[ResourceSpec] = [
    ResourceSpec(
        "clients",
        "client",
        "Cliente",
        m.Client,
        scl.ClientIn,
        scl.ClientOut,
        REGISTRY,
        portal_column="id",
        filters=("cnpj", "vip", "active", *ADDRESS_FILTERS),
        sort=("trade_name", "legal_name", "id", "created_at"),
        text_search=("trade_name", "legal_name"),
    ),
    ResourceSpec(
        "contacts",
        "client_contact",
        "Contato",
        m.ClientContact,
        scl.ClientContactIn,
        scl.ClientContactOut,
        REGISTRY,
        parent=CLIENT,
        filters=("kind",),
    ),
    ResourceSpec(
        "bank_accounts",
        "client_bank_account",
        "Conta bancária",
        m.ClientBankAccount,
        scl.ClientBankAccountIn,
        scl.ClientBankAccountOut,
        REGISTRY,
        parent=CLIENT,
    ),
    ResourceSpec(
        "responsibles",
        "client_responsible",
        "Responsável",
        m.ClientResponsible,
        scl.ClientResponsibleIn,
        scl.ClientResponsibleOut,
        REGISTRY,
        parent=CLIENT,
        sort=("name", "id"),
    ),
    ResourceSpec(
        "contracts",
        "contract",
        "Contrato",
        m.Contract,
        scl.ContractIn,
        scl.ContractOut,
        REGISTRY,
        parent=CLIENT,
        sort=("code", "id"),
        text_search=("code", "description"),
        to_columns=contract_columns,
        after_write=contract_links,
        to_out=contract_out,
    ),
    ResourceSpec(
        "plans",
        "plan",
        "Plano",
        m.Plan,
        scl.PlanIn,
        scl.PlanOut,
        REGISTRY,
        parent=CLIENT,
        filters=("kind", "active"),
        sort=("code", "name", "id"),
        text_search=("code", "name"),
        to_columns=plan_columns,
    ),
    ResourceSpec(
        "services",
        "plan_service",
        "Serviço do plano",
        m.PlanService,
        scl.PlanServiceIn,
        scl.PlanServiceOut,
        REGISTRY,
        parent=PLAN,
        filters=("service_type_id",),
    ),
    ResourceSpec(
        "partner_sites",
        "partner_site",
        "Estabelecimento parceiro",
        m.PartnerSite,
        scl.PartnerSiteIn,
        scl.PartnerSiteOut,
        REGISTRY,
        parent=CLIENT,
        filters=("kind", *ADDRESS_FILTERS),
        sort=("name", "id"),
        text_search=("name", "street", "neighbourhood"),
        point_fields=("location",),
    ),
    ResourceSpec(
        "beneficiaries",
        "beneficiary",
        "Beneficiário",
        m.Beneficiary,
        sp.BeneficiaryIn,
        sp.BeneficiaryOut,
        BENEFICIARIES,
        portal_column="client_id",
        filters=(
            "client_id",
            "document",
            "person_kind",
            "active",
            "representative_id",
            *ADDRESS_FILTERS,
        ),
        sort=("name", "id", "created_at"),
        text_search=("name",),
        point_fields=("location",),
    ),
    ResourceSpec(
        "plans",
        "beneficiary_plan",
        "Plano do beneficiário",
        m.BeneficiaryPlan,
        sp.BeneficiaryPlanIn,
        sp.BeneficiaryPlanOut,
        BENEFICIARIES,
        parent=BENEFICIARY,
        filters=("plan_id",),
        to_columns=beneficiary_plan_columns,
    ),
    ResourceSpec(
        "vehicles",
        "vehicle",
        "Veículo",
        m.Vehicle,
        sp.VehicleIn,
        sp.VehicleOut,
        BENEFICIARIES,
        parent=BENEFICIARY,
        filters=("plate", "plan_id", "active"),
        sort=("plate", "id"),
        to_columns=vehicle_columns,
    ),
    ResourceSpec(
        "representatives",
        "representative",
        "Representante",
        m.Representative,
        sp.RepresentativeIn,
        sp.RepresentativeOut,
        REGISTRY,
        filters=("document", "active"),
        sort=("name", "id"),
        text_search=("name",),
    ),
    ResourceSpec(
        "suppliers",
        "supplier",
        "Fornecedor",
        m.Supplier,
        sp.SupplierIn,
        sp.SupplierOut,
        REGISTRY,
        filters=("document", "active", *ADDRESS_FILTERS),
        sort=("name", "id"),
        text_search=("name", "trade_name"),
    ),
    ResourceSpec(
        "providers",
        "provider",
        "Prestador",
        m.Provider,
        spr.ProviderIn,
        spr.ProviderOut,
        PROVIDERS,
        filters=("document", "status", "person_kind", *ADDRESS_FILTERS),
        sort=("name", "id", "preference", "created_at"),
        text_search=("name", "trade_name"),
        point_fields=("base_location",),
        to_columns=provider_columns,
    ),
    ResourceSpec(
        "services",
        "provider_service",
        "Serviço do prestador",
        m.ProviderService,
        spr.ProviderServiceIn,
        spr.ProviderServiceOut,
        PROVIDERS,
        parent=PROVIDER,
        filters=("service_type_id",),
    ),
    ResourceSpec(
        "service_types",
        "service_type",
        "Tipo de serviço",
        m.ServiceType,
        sc.ServiceTypeIn,
        sc.ServiceTypeOut,
        REGISTRY,
        filters=("code", "target", "active", "needs_destination"),
        sort=("name", "code", "id"),
        text_search=("name",),
    ),
    _named("incident_types", "incident_type", "Tipo de evento", m.IncidentType),
    _named(
        "cancellation_reasons",
        "cancellation_reason",
        "Motivo de cancelamento",
        m.CancellationReason,
    ),
    _named("refusal_reasons", "refusal_reason", "Motivo de recusa", m.RefusalReason),
    ResourceSpec(
        "extra_items",
        "extra_item",
        "Item extra",
        m.ExtraItem,
        sc.ExtraItemIn,
        sc.ExtraItemOut,
        REGISTRY,
        filters=("active",),
        sort=("name", "id"),
        text_search=("name",),
    ),
    ResourceSpec(
        "ledger_categories",
        "ledger_category",
        "Categoria para lançamento",
        m.LedgerCategory,
        sc.LedgerCategoryIn,
        sc.LedgerCategoryOut,
        REGISTRY,
        filters=("kind", "active"),
        sort=("name", "id"),
        text_search=("name",),
    ),
    ResourceSpec(
        "roles",
        "role",
        "Perfil",
        m.Role,
        sa.RoleIn,
        sa.RoleOut,
        ROLES,
        sort=("name", "id"),
        to_columns=role_columns,
    ),
    ResourceSpec(
        "users",
        "user",
        "Usuário",
        m.User,
        sa.UserIn,
        sa.UserOut,
        USERS,
        filters=("kind", "client_id", "provider_id", "role_id", "active"),
        sort=("login", "name", "id"),
        text_search=("login", "name"),
        write_only=("password",),
        to_columns=user_columns,
    ),
]
