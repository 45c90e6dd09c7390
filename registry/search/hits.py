"""What a search returns: :class:`SearchHit`, a beneficiary found by name or
document or a vehicle found by plate, and how a result row becomes one.

Inactive beneficiaries and vehicles are found too (an operator must see why a caller
is not covered): hits carry ``beneficiary_active`` / ``vehicle_active``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from registry.enums import PersonKind
from registry.models import Beneficiary, Client


class HitKind(enum.StrEnum):
    BENEFICIARY = "beneficiary"
    VEHICLE = "vehicle"


class MatchedOn(enum.StrEnum):
    NAME = "name"
    PLATE = "plate"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A beneficiary (found by name or document) or a vehicle (found by plate)."""

    kind: HitKind
    matched_on: MatchedOn
    beneficiary_id: int
    beneficiary_name: str
    document: str
    person_kind: PersonKind
    client_id: int
    client_trade_name: str
    beneficiary_active: bool
    vehicle_id: int | None = None
    plate: str | None = None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    colour: str | None = None
    vehicle_active: bool | None = None

    @property
    def active(self) -> bool:
        """False when the beneficiary, or the vehicle of a vehicle hit, is inactive."""
        return self.beneficiary_active and self.vehicle_active is not False


def _hit_columns() -> list[Any]:
    return [
        Beneficiary.id.label("beneficiary_id"),
        Beneficiary.name.label("beneficiary_name"),
        Beneficiary.document,
        Beneficiary.person_kind,
        Beneficiary.client_id,
        Client.trade_name.label("client_trade_name"),
        Beneficiary.active.label("beneficiary_active"),
    ]


AnyRow = Row[*tuple[Any, ...]]


def _hit(row: AnyRow, kind: HitKind, matched_on: MatchedOn) -> SearchHit:
    values = row._asdict()
    return SearchHit(kind=kind, matched_on=matched_on, **values)
