"""A job's arrival, promised and live (pure).

The promise is made at the accept (the provider's ETA bid, or the ETA model's for
the distance it was told): ``promised_at``. While the provider is on its way the
live ETA comes from its latest fresh position (straight-line km by the same model
as candidate search). The job is late for arrival when it has not arrived and
either the promise has passed, or the live ETA lands after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.distance import SpeedModel, StraightLineSpeedModel

MODEL = StraightLineSpeedModel()


@dataclass(frozen=True, slots=True)
class ArrivalFacts:
    promised_at: datetime | None
    arrived_at: datetime | None
    live_eta_minutes: float | None
    live_arrival_at: datetime | None
    late: bool


def arrival_facts(
    now: datetime,
    *,
    promised_at: datetime | None,
    arrived_at: datetime | None,
    km_to_origin: float | None,
    model: SpeedModel = MODEL,
) -> ArrivalFacts:
    """What to show of a job's arrival at ``now`` (``km_to_origin``: from the
    provider's fresh position, None without one)."""
    if arrived_at is not None:
        return ArrivalFacts(promised_at, arrived_at, None, None, False)
    minutes = None if km_to_origin is None else model.eta_minutes(km_to_origin, at=now)
    live_at = None if minutes is None else now + timedelta(minutes=minutes)
    late = promised_at is not None and (
        now > promised_at or (live_at is not None and live_at > promised_at)
    )
    eta = None if minutes is None else round(minutes, 1)
    return ArrivalFacts(promised_at, None, eta, live_at, late)
