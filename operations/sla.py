"""Service levels and the handling time (pure).

* The client's SLA (``clients.sla_dispatch_minutes`` / ``sla_arrival_minutes``, or
  the deployment's defaults) becomes two due times on each job: a provider must be
  assigned by ``dispatch_due_at`` and be on site by ``arrival_due_at``. Both count
  from when the job is wanted: its creation, or its ``agendamento`` when scheduled.
* :func:`lateness` says which of them a job has missed at a moment: the panels'
  "late" flags.
* The handling time (TMA) is the time from opening the incident (the operator took
  the call) to saving a job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from operations.errors import InvalidInputError
from operations.lifecycle import AWAITING_PROVIDER, JobStatus

MAX_SLA_MINUTES = 7 * 24 * 60
"""An SLA longer than a week is a typing mistake, not a service level."""


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Minutes to dispatch and to arrive; None: no commitment."""

    dispatch_minutes: int | None
    arrival_minutes: int | None

    def __post_init__(self) -> None:
        for name in ("dispatch_minutes", "arrival_minutes"):
            value = getattr(self, name)
            if value is not None and not 0 < value <= MAX_SLA_MINUTES:
                raise InvalidInputError(
                    name, f"O prazo deve ser de 1 a {MAX_SLA_MINUTES} minutos, não {value}."
                )

    def over(self, default: SlaPolicy) -> SlaPolicy:
        """This policy, each missing value taken from ``default``."""
        return SlaPolicy(
            self.dispatch_minutes
            if self.dispatch_minutes is not None
            else default.dispatch_minutes,
            self.arrival_minutes if self.arrival_minutes is not None else default.arrival_minutes,
        )


@dataclass(frozen=True, slots=True)
class DueTimes:
    dispatch_due_at: datetime | None
    arrival_due_at: datetime | None


def due_times(created_at: datetime, scheduled_for: datetime | None, policy: SlaPolicy) -> DueTimes:
    """When the job must have a provider and when the provider must be on site."""
    start = scheduled_for if scheduled_for is not None else created_at

    def after(minutes: int | None) -> datetime | None:
        return None if minutes is None else start + timedelta(minutes=minutes)

    return DueTimes(after(policy.dispatch_minutes), after(policy.arrival_minutes))


class Lateness(enum.StrEnum):
    DISPATCH = "dispatch"  # still without a provider after dispatch_due_at
    ARRIVAL = "arrival"  # provider not on site after arrival_due_at


_BEFORE_ARRIVAL = AWAITING_PROVIDER | {JobStatus.ASSIGNED, JobStatus.EN_ROUTE}


def lateness(
    status: JobStatus,
    now: datetime,
    dispatch_due_at: datetime | None,
    arrival_due_at: datetime | None,
) -> frozenset[Lateness]:
    """The deadlines a job in ``status`` has missed at ``now``."""
    late: set[Lateness] = set()
    if status in AWAITING_PROVIDER and dispatch_due_at is not None and now > dispatch_due_at:
        late.add(Lateness.DISPATCH)
    if status in _BEFORE_ARRIVAL and arrival_due_at is not None and now > arrival_due_at:
        late.add(Lateness.ARRIVAL)
    return frozenset(late)


def handling_seconds(opened_at: datetime, saved_at: datetime) -> int:
    """Whole seconds from opening the incident to saving the job (never negative:
    clocks of different machines may disagree by a little)."""
    return max(0, int((saved_at - opened_at).total_seconds()))
