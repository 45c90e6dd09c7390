"""Registry (Negócio) models: every model module is imported here, so that
``Base.metadata`` holds the whole registry schema."""

from registry.models.access import Role, User
from registry.models.beneficiaries import Beneficiary, BeneficiaryPlan, Vehicle
from registry.models.catalogue import CancellationReason, IncidentType, RefusalReason, ServiceType
from registry.models.clients import Client, ClientContact, Contract, PartnerSite
from registry.models.plans import ContractPlan, Plan, PlanService
from registry.models.providers import Provider, ProviderPartnership, ProviderService

__all__ = [
    "Beneficiary",
    "BeneficiaryPlan",
    "CancellationReason",
    "Client",
    "ClientContact",
    "Contract",
    "ContractPlan",
    "IncidentType",
    "PartnerSite",
    "Plan",
    "PlanService",
    "Provider",
    "ProviderPartnership",
    "ProviderService",
    "RefusalReason",
    "Role",
    "ServiceType",
    "User",
    "Vehicle",
]
