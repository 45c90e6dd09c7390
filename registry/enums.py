"""The registry's closed vocabularies, as ``StrEnum`` (stored as their values).

Pure Python, no SQLAlchemy: validation, the demo generator and the API share them
with the models.
"""

from __future__ import annotations

import enum


class ServiceTarget(enum.StrEnum):
    """What a service type attends: a vehicle (auto plans) or a home."""

    VEHICLE = "vehicle"
    HOME = "home"


class PersonKind(enum.StrEnum):
    """Pessoa física (CPF, 11 digits) or pessoa jurídica (CNPJ, 14 digits)."""

    PF = "pf"
    PJ = "pj"


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"


class PlanKind(enum.StrEnum):
    """A plan for the beneficiary (home, pet, funeral...) or for one vehicle."""

    BENEFICIARY = "beneficiary"
    VEHICLE = "vehicle"


class LimitPeriod(enum.StrEnum):
    """The window over which a plan service's ``uses_per_period`` is counted."""

    MONTH = "month"
    YEAR = "year"
    CONTRACT_TERM = "contract_term"


class CancelledJobCount(enum.StrEnum):
    """Whether a plan counts cancelled jobs against its usage limits.

    ``after_dispatch``: only when a provider had been assigned before the
    cancellation (the provider travelled); ``never``; ``always``.
    """

    NEVER = "never"
    AFTER_DISPATCH = "after_dispatch"
    ALWAYS = "always"


class ContactKind(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    SKYPE = "skype"
    WHATSAPP = "whatsapp"


class ProviderStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class Channel(enum.StrEnum):
    """How an offer reaches a provider (Acionamento GPS / Web / Link / Verbal)."""

    APP = "app"
    WEB = "web"
    LINK = "link"
    VERBAL = "verbal"


class UserKind(enum.StrEnum):
    """Staff of the assistance, a client's portal user, or a provider's user."""

    STAFF = "staff"
    CLIENT = "client"
    PROVIDER = "provider"


class LedgerKind(enum.StrEnum):
    """Categoria para lançamento: an expense (despesa) or a revenue (receita)."""

    EXPENSE = "expense"
    REVENUE = "revenue"


class BankAccountType(enum.StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class TokenKind(enum.StrEnum):
    """A bearer token for an API client, or a provider app's device token."""

    API = "api"
    DEVICE = "device"
