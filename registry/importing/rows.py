"""Validating one CSV row into what the loader writes (pure).

A valid row becomes an :class:`ImportRow`: the beneficiary's columns, its plan
links and, when the row has a plate, its vehicle, all normalised and with plan
codes resolved against the client's :class:`PlanCatalogue`. An invalid row becomes
the list of every problem found in it.

Only the columns present in the header are carried: on re-import a column the
file does not have is left as it is in the database, while an empty cell of a
present column clears the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String

from registry.enums import PlanKind
from registry.errors import ValidationError
from registry.importing.columns import VEHICLE_COLUMNS, Header
from registry.models import Beneficiary, Vehicle

BENEFICIARY_TEXT = ("name", "rg", "street", "number", "complement", "neighbourhood", "city")
BENEFICIARY_PLAIN = (
    "sex",
    "birth_date",
    "email",
    "phone",
    "phone_secondary",
    "whatsapp",
    "state",
    "cep",
)
VEHICLE_TEXT = ("make", "model", "colour")
# CSV column → vehicles column, where they differ.
VEHICLE_RENAMED = {
    "vehicle_plan_code": "plan_id",
    "vehicle_plan_starts_on": "plan_starts_on",
    "vehicle_plan_ends_on": "plan_ends_on",
}
Parser = Callable[[str], Any]


def column_width(model: type[Beneficiary] | type[Vehicle], column: str) -> int:
    """The declared length of a VARCHAR column of ``model``."""
    type_ = model.__table__.c[column].type
    assert isinstance(type_, String) and type_.length is not None
    return type_.length


@dataclass(frozen=True, slots=True)
class PlanRef:
    """One of the client's plans, as the import needs it."""

    id: int
    code: str
    kind: PlanKind
    active: bool = True


class PlanCatalogue:
    """A client's plans by code: exact code first, then ignoring case if unambiguous."""

    def __init__(self, plans: Iterable[PlanRef]) -> None:
        self._exact = {plan.code: plan for plan in plans}
        folded: dict[str, PlanRef | None] = {}
        for plan in self._exact.values():
            key = plan.code.casefold()
            folded[key] = None if key in folded else plan
        self._folded = folded

    def resolve(self, code: str, kind: PlanKind, field: str) -> int:
        """The id of the active plan ``code`` of ``kind``.

        Raises:
            ValidationError: no such plan for this client, another kind, inactive.
        """
        plan = self._exact.get(code) or self._folded.get(code.casefold())
        if plan is None:
            raise ValidationError(field, f"plano '{code}' não existe para este cliente")
        if plan.kind is not kind:
            wanted = "de veículo" if kind is PlanKind.VEHICLE else "do beneficiário"
            raise ValidationError(field, f"plano '{code}' não é um plano {wanted}")
        if not plan.active:
            raise ValidationError(field, f"plano '{code}' está inativo")
        return plan.id


@dataclass(frozen=True, slots=True)
class PlanLink:
    """A beneficiary plan to link: ``beneficiary_plans`` without the beneficiary."""

    plan_id: int
    starts_on: date
    ends_on: date | None


@dataclass(frozen=True, slots=True)
class ImportRow:
    """A valid row, ready to write.

    Attributes:
        line: the physical line it starts on.
        document: the beneficiary's CPF or CNPJ, digits only.
        beneficiary: ``beneficiaries`` columns → values (see :func:`beneficiary_keys`).
        representative_document: the representative's CPF/CNPJ when the column is
            present (None: empty cell or no column).
        plans: beneficiary plans to link.
        vehicle: ``vehicles`` columns → values (see :func:`vehicle_keys`), or None
            when the row has no plate.
    """

    line: int
    document: str
    beneficiary: dict[str, Any]
    representative_document: str | None
    plans: tuple[PlanLink, ...]
    vehicle: dict[str, Any] | None


def beneficiary_keys(header: Header) -> tuple[str, ...]:
    """The ``beneficiaries`` columns every row of a file with ``header`` carries."""
    present = header.present
    keys = ["document", "person_kind", "name"]
    keys += [c for c in (*BENEFICIARY_TEXT[1:], *BENEFICIARY_PLAIN) if c in present]
    keys += ["location"] if "lat" in present else []
    return tuple(keys)


def vehicle_keys(header: Header) -> tuple[str, ...]:
    """The ``vehicles`` columns every vehicle of a file with ``header`` carries."""
    return tuple(VEHICLE_RENAMED.get(c, c) for c in VEHICLE_COLUMNS if c in header.present)
