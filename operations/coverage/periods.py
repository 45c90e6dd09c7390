"""The windows over which a plan service's uses are counted (pure): :class:`Period`
and the functions that find the one containing a moment.

Periods (start inclusive, end exclusive; bounds in UTC, days read in ``tz``,
America/Sao_Paulo unless given):

=================  =============================================================
``month``          the calendar month of the moment, in local time
``year``           the calendar year of the moment, in local time
``contract_term``  the holder's contract: 00:00 of ``starts_on`` to 00:00 of the
                   day after ``ends_on`` (``ends_on`` is the last day in force);
                   no end when the contract is open-ended
=================  =============================================================

Month and year periods are calendar periods, not clipped to the contract: a plan
renewed in March with the same plan id keeps the uses of January and February.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from operations.coverage.common import SAO_PAULO, _ddmmyyyy, _local, _require_aware
from operations.coverage.terms import HeldPlan
from registry.enums import LimitPeriod

MONTHS_PT_BR = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)


@dataclass(frozen=True, slots=True)
class Period:
    """A window over which uses are counted: ``start`` inclusive, ``end`` exclusive
    (both UTC; ``end`` None for an open-ended contract term).

    ``label`` completes "2 de 3 usados ...": "em 2026", "em novembro de 2026",
    "na vigência do contrato (01/03/2026 a 28/02/2027)".
    """

    kind: LimitPeriod
    start: datetime
    end: datetime | None
    label: str

    def contains(self, moment: datetime) -> bool:
        """Whether the aware ``moment`` falls inside the period."""
        _require_aware(moment, "moment")
        return self.start <= moment and (self.end is None or moment < self.end)


def local_midnight(day: date, tz: tzinfo = SAO_PAULO) -> datetime:
    """The first instant of ``day`` in ``tz``, in UTC.

    Where a DST jump skipped midnight (Brazil until 2019), this is 01:00 of that day.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def month_period(moment: datetime, tz: tzinfo = SAO_PAULO) -> Period:
    """The calendar month, in ``tz``, that contains ``moment``."""
    local = _local(moment, tz)
    first = date(local.year, local.month, 1)
    following = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    label = f"em {MONTHS_PT_BR[local.month - 1]} de {local.year}"
    return Period(
        LimitPeriod.MONTH, local_midnight(first, tz), local_midnight(following, tz), label
    )


def year_period(moment: datetime, tz: tzinfo = SAO_PAULO) -> Period:
    """The calendar year, in ``tz``, that contains ``moment``."""
    year = _local(moment, tz).year
    start, end = local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)
    return Period(LimitPeriod.YEAR, start, end, f"em {year}")


def contract_period(starts_on: date, ends_on: date | None, tz: tzinfo = SAO_PAULO) -> Period:
    """The contract term from ``starts_on`` through ``ends_on`` (inclusive days)."""
    if ends_on is None:
        end = None
        label = f"na vigência do contrato (desde {_ddmmyyyy(starts_on)})"
    else:
        end = local_midnight(ends_on + timedelta(days=1), tz)
        label = f"na vigência do contrato ({_ddmmyyyy(starts_on)} a {_ddmmyyyy(ends_on)})"
    return Period(LimitPeriod.CONTRACT_TERM, local_midnight(starts_on, tz), end, label)


def period_of(
    kind: LimitPeriod, moment: datetime, plan: HeldPlan, tz: tzinfo = SAO_PAULO
) -> Period:
    """The period of ``kind`` containing ``moment`` for a service of ``plan``.

    A contract term is the plan's whole term, whether it contains ``moment`` or not.
    """
    if kind is LimitPeriod.MONTH:
        return month_period(moment, tz)
    if kind is LimitPeriod.YEAR:
        return year_period(moment, tz)
    return contract_period(plan.starts_on, plan.ends_on, tz)
