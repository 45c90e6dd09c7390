"""Coverage and usage limits (pure): how much of each covered service a beneficiary
has used in the current period, which plan covers a new job, and how the km of a
finished job split between the plan and the excess.

No I/O: callers load plans and earlier jobs into the frozen dataclasses of
:mod:`~operations.coverage.terms` and get decisions back. Every moment is a
timezone-aware ``datetime``; returned bounds are in UTC (compare them with anything
aware), dates are read in the assistance's zone (``tz``, America/Sao_Paulo unless
given).

One step per module, each using only the ones above it:

* :mod:`~operations.coverage.common`: the default zone, pt-BR formatting, checks;
* :mod:`~operations.coverage.terms`: held plans, their services, earlier jobs;
* :mod:`~operations.coverage.periods`: month, year and contract-term periods;
* :mod:`~operations.coverage.plans`: which plans apply, in force, in which order;
* :mod:`~operations.coverage.counting`: which jobs count, the usage report;
* :mod:`~operations.coverage.decision`: :func:`decide`, which plan covers a new job;
* :mod:`~operations.coverage.excess`: :func:`split_km`, the km excess at closing.

Import from this package; the modules are its layout, not its interface.
"""

from operations.coverage.common import AD_HOC_HINT, SAO_PAULO, format_brl
from operations.coverage.counting import (
    CoverageReport,
    PlanUsage,
    ServiceUsage,
    counts_against,
    job_counts,
    service_usage,
    usage_report,
)
from operations.coverage.decision import REFUSALS, Coverage, Verdict, decide
from operations.coverage.excess import ExcessPayer, KmSplit, split_km
from operations.coverage.periods import (
    MONTHS_PT_BR,
    Period,
    contract_period,
    local_midnight,
    month_period,
    period_of,
    year_period,
)
from operations.coverage.plans import Standing, applies, standing, standing_message
from operations.coverage.terms import HeldPlan, PastJob, PlanOptions, ServiceTerms

__all__ = [
    "AD_HOC_HINT",
    "MONTHS_PT_BR",
    "REFUSALS",
    "SAO_PAULO",
    "Coverage",
    "CoverageReport",
    "ExcessPayer",
    "HeldPlan",
    "KmSplit",
    "PastJob",
    "Period",
    "PlanOptions",
    "PlanUsage",
    "ServiceTerms",
    "ServiceUsage",
    "Standing",
    "Verdict",
    "applies",
    "contract_period",
    "counts_against",
    "decide",
    "format_brl",
    "job_counts",
    "local_midnight",
    "month_period",
    "period_of",
    "service_usage",
    "split_km",
    "standing",
    "standing_message",
    "usage_report",
    "year_period",
]
