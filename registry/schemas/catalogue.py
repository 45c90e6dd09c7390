"""API schemas of the catalogues: service types, incident types, reasons, extra
items and ledger categories."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

from registry.enums import LedgerKind, ServiceTarget
from registry.schemas.clients import Money
from registry.schemas.common import ONE_LINE, InModel, Stamped

Title = Annotated[str, Field(min_length=1, max_length=120), ONE_LINE]


class ServiceTypeIn(InModel):
    code: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
    name: Annotated[str, Field(min_length=1, max_length=80), ONE_LINE]
    needs_destination: bool = False
    target: ServiceTarget = ServiceTarget.VEHICLE
    active: bool = True


class ServiceTypeOut(Stamped):
    code: str
    name: str
    needs_destination: bool
    target: ServiceTarget
    active: bool


class NamedEntryIn(InModel):
    """Incident types, cancellation and refusal reasons: a name and a flag."""

    name: Title
    active: bool = True


class NamedEntryOut(Stamped):
    name: str
    active: bool


class ExtraItemIn(InModel):
    name: Title
    unit: Annotated[str, Field(min_length=1, max_length=20), ONE_LINE]
    price: Money
    active: bool = True


class ExtraItemOut(Stamped):
    name: str
    unit: str
    price: Decimal
    active: bool


class LedgerCategoryIn(InModel):
    name: Title
    kind: LedgerKind
    active: bool = True


class LedgerCategoryOut(Stamped):
    name: str
    kind: LedgerKind
    active: bool
