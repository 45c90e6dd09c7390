"""Registry (Negócio) models: every model module is imported here, so that
``Base.metadata`` holds the whole registry schema."""

from registry.models.access import ApiToken, DeviceToken, Role, User, UserSession
from registry.models.beneficiaries import Beneficiary, BeneficiaryPlan, Vehicle
from registry.models.business import ExtraItem, LedgerCategory, Representative, Supplier
from registry.models.catalogue import CancellationReason, IncidentType, RefusalReason, ServiceType
from registry.models.clients import (
    Client,
    ClientBankAccount,
    ClientContact,
    ClientResponsible,
    Contract,
    PartnerSite,
)
from registry.models.plans import ContractPlan, Plan, PlanService
from registry.models.providers import Provider, ProviderPartnership, ProviderService
from registry.models.records import Attachment, AuditEntry

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEntry",
    "Beneficiary",
    "BeneficiaryPlan",
    "CancellationReason",
    "Client",
    "ClientBankAccount",
    "ClientContact",
    "ClientResponsible",
    "Contract",
    "ContractPlan",
    "DeviceToken",
    "ExtraItem",
    "IncidentType",
    "LedgerCategory",
    "PartnerSite",
    "Plan",
    "PlanService",
    "Provider",
    "ProviderPartnership",
    "ProviderService",
    "RefusalReason",
    "Representative",
    "Role",
    "ServiceType",
    "Supplier",
    "User",
    "UserSession",
    "Vehicle",
]
