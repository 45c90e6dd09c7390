"""Permission codes and the default permission set of each seeded role (pure).

Codes are ``<area>.<action>`` strings grouped as the product's profile screen
groups them (:class:`PermissionGroup`: Cadastro, Edição, Exclusão, Outros,
Segurança). Roles store codes as text; a code this version does not know grants
nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping


class PermissionGroup(enum.StrEnum):
    """The groups of the profile screen, by their pt-BR titles."""

    CREATE = "Cadastro"
    EDIT = "Edição"
    DELETE = "Exclusão"
    OTHER = "Outros"
    SECURITY = "Segurança"


class Permission(enum.StrEnum):
    """What a user may do. Each code belongs to one :class:`PermissionGroup`."""

    # Cadastro
    REGISTRY_CREATE = "registry.create"
    BENEFICIARIES_CREATE = "beneficiaries.create"
    PROVIDERS_CREATE = "providers.create"
    # Edição
    REGISTRY_EDIT = "registry.edit"
    BENEFICIARIES_EDIT = "beneficiaries.edit"
    PROVIDERS_EDIT = "providers.edit"
    OPERATIONS_EDIT_JOB = "operations.edit_job"
    # Exclusão
    REGISTRY_DELETE = "registry.delete"
    BENEFICIARIES_DELETE = "beneficiaries.delete"
    PROVIDERS_DELETE = "providers.delete"
    # Outros
    REGISTRY_VIEW = "registry.view"
    OPERATIONS_VIEW = "operations.view"
    OPERATIONS_OPEN_INCIDENT = "operations.open_incident"
    OPERATIONS_DISPATCH = "operations.dispatch"
    OPERATIONS_CANCEL_JOB = "operations.cancel_job"
    OPERATIONS_AUTO_DISPATCH_RULES = "operations.auto_dispatch_rules"
    CLOSING_CLOSE_JOBS = "closing.close_jobs"
    BILLING_INVOICE = "billing.invoice"
    REPORTS_VIEW = "reports.view"
    PORTAL_CLIENT = "portal.client"
    PORTAL_PROVIDER = "portal.provider"
    # Segurança
    SECURITY_MANAGE_USERS = "security.manage_users"
    SECURITY_MANAGE_ROLES = "security.manage_roles"
    SECURITY_VIEW_AUDIT = "security.view_audit"

    @property
    def group(self) -> PermissionGroup:
        """The profile screen's group of this permission."""
        return _GROUP_OF[self]


def _group_of() -> dict[Permission, PermissionGroup]:
    by_action = {
        "create": PermissionGroup.CREATE,
        "edit": PermissionGroup.EDIT,
        "edit_job": PermissionGroup.EDIT,
        "delete": PermissionGroup.DELETE,
    }
    groups = {}
    for permission in Permission:
        area, action = permission.value.split(".")
        default = PermissionGroup.SECURITY if area == "security" else PermissionGroup.OTHER
        groups[permission] = by_action.get(action, default)
    return groups


_GROUP_OF = _group_of()

P = Permission

ADMIN = "Administrador"
OPERATIONS = "Operação"
PROVIDER_NETWORK = "Rede de Prestadores"
CLOSING = "Fechamento/Faturamento"
SUPERVISION = "Supervisão"
ANALYTICS = "Analítico"
CLIENT_PORTAL = "Portal do Cliente"
PROVIDER_PORTAL = "Portal do Prestador"

_OPERATOR = {
    P.REGISTRY_VIEW,
    P.OPERATIONS_VIEW,
    P.OPERATIONS_OPEN_INCIDENT,
    P.OPERATIONS_DISPATCH,
    P.OPERATIONS_CANCEL_JOB,
    P.OPERATIONS_EDIT_JOB,
    P.BENEFICIARIES_CREATE,
    P.BENEFICIARIES_EDIT,
}
_PORTALS = {P.PORTAL_CLIENT, P.PORTAL_PROVIDER}

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    ADMIN: frozenset(set(Permission) - _PORTALS),
    OPERATIONS: frozenset(_OPERATOR),
    PROVIDER_NETWORK: frozenset(
        {
            P.REGISTRY_VIEW,
            P.OPERATIONS_VIEW,
            P.PROVIDERS_CREATE,
            P.PROVIDERS_EDIT,
            P.PROVIDERS_DELETE,
            P.REPORTS_VIEW,
        }
    ),
    CLOSING: frozenset(
        {
            P.REGISTRY_VIEW,
            P.OPERATIONS_VIEW,
            P.CLOSING_CLOSE_JOBS,
            P.BILLING_INVOICE,
            P.REPORTS_VIEW,
        }
    ),
    SUPERVISION: frozenset(
        _OPERATOR
        | {
            P.OPERATIONS_AUTO_DISPATCH_RULES,
            P.REPORTS_VIEW,
            P.SECURITY_VIEW_AUDIT,
            P.BENEFICIARIES_DELETE,
        }
    ),
    ANALYTICS: frozenset({P.REGISTRY_VIEW, P.OPERATIONS_VIEW, P.REPORTS_VIEW}),
    CLIENT_PORTAL: frozenset({P.PORTAL_CLIENT}),
    PROVIDER_PORTAL: frozenset({P.PORTAL_PROVIDER}),
}
"""The seeded roles (Perfis) and their default permissions.

Portal roles are for users of kind ``client`` / ``provider``: what they see is
also scoped to their own client or provider.
"""


def by_group(permissions: Iterable[Permission]) -> dict[PermissionGroup, list[Permission]]:
    """``permissions`` grouped as the profile screen shows them, each list sorted."""
    grouped: dict[PermissionGroup, list[Permission]] = {group: [] for group in PermissionGroup}
    for permission in sorted(set(permissions)):
        grouped[permission.group].append(permission)
    return grouped


def granted(stored: Iterable[str]) -> frozenset[Permission]:
    """The known permissions among codes stored on a role (unknown ones are ignored)."""
    known = {permission.value for permission in Permission}
    return frozenset(Permission(code) for code in stored if code in known)
