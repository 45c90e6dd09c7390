"""The km of a finished job against its plan's allowance (pure): how many the plan
covers, how many are excess, and who pays the excess.

Computed at closing, when the job's legs are known: the plan counts the loaded km
(origin to destination) or, with ``count_km_all_trips``, every leg; the excess is
the beneficiary's to pay when ``beneficiary_pays_excess_km``, else the client's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from operations.coverage.terms import PlanOptions
from operations.errors import InvalidCoverageDataError


class ExcessPayer(enum.StrEnum):
    """Who pays the km beyond the plan's allowance."""

    BENEFICIARY = "beneficiary"
    CLIENT = "client"


@dataclass(frozen=True, slots=True)
class KmSplit:
    """The km of one job against the plan's allowance.

    ``counted_km`` is what the plan measures (loaded km, or every leg's);
    ``covered_km + excess_km == counted_km``; ``payer`` is None when there is no
    excess.
    """

    counted_km: Decimal
    covered_km: Decimal
    excess_km: Decimal
    payer: ExcessPayer | None


def split_km(
    km_per_use: int | None,
    options: PlanOptions,
    *,
    loaded_km: Decimal,
    total_km: Decimal,
) -> KmSplit:
    """Split a job's km between the plan's allowance and the excess.

    Args:
        km_per_use: the plan service's allowance for one use; None is not
            km-based (everything is covered).
        options: ``count_km_all_trips`` counts ``total_km`` instead of
            ``loaded_km``; ``beneficiary_pays_excess_km`` names the payer.
        loaded_km: km with the vehicle (or passenger) aboard: origin to destination.
        total_km: km of every leg (to the origin, loaded, back); at least
            ``loaded_km``.

    Raises:
        InvalidCoverageDataError: negative or non-finite km, or ``total_km`` below
            ``loaded_km``.
    """
    for km in (loaded_km, total_km):
        if not km.is_finite() or km < 0:
            raise InvalidCoverageDataError(f"Quilometragem inválida: {km}.")
    if total_km < loaded_km:
        raise InvalidCoverageDataError("Km total menor que o km com o veículo carregado.")
    counted = total_km if options.count_km_all_trips else loaded_km
    covered = counted if km_per_use is None else min(counted, Decimal(km_per_use))
    excess = counted - covered
    payer = None
    if excess > 0:
        payer = (
            ExcessPayer.BENEFICIARY if options.beneficiary_pays_excess_km else ExcessPayer.CLIENT
        )
    return KmSplit(counted, covered, excess, payer)
