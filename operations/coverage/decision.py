"""The coverage decision for a new job (pure): :func:`decide` and the
:class:`Coverage` it returns, which an operator may override as ad hoc.

Which plan covers a new job, among the plans that apply (the beneficiary's own
plans, and the plans of the attended vehicle) and list the service:

1. only plans in force now; if none, the refusal names the first plan by rule 3
   and says whether it has not started yet or has ended;
2. a plan with uses remaining (or unlimited) before an exhausted one;
3. then the most specific: a plan held by the attended vehicle before the
   beneficiary's own plans; then the lowest plan id; then, for two terms of the
   same plan (a renewal), the latest.

If the first plan so ordered is exhausted, every one is: the job is refused with
that plan's usage. A refusal may still be opened as an ad-hoc (avulso, chargeable)
job: :meth:`Coverage.as_ad_hoc`.

``max_value`` (the most a plan pays for a service over a period) is reported, not
enforced here: what each job cost is only known at closing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from operations.coverage.common import AD_HOC_HINT, SAO_PAULO, _require_aware
from operations.coverage.counting import ServiceUsage, service_usage
from operations.coverage.plans import Standing, _specificity, applies, standing, standing_message
from operations.coverage.terms import HeldPlan, PastJob
from operations.errors import CoverageRefusedError


class Verdict(enum.StrEnum):
    """What :func:`decide` (or the operator) concluded for a new job."""

    COVERED = "covered"
    LIMIT_REACHED = "limit_reached"
    NOT_COVERED = "not_covered"
    NOT_YET_IN_FORCE = "not_yet_in_force"
    EXPIRED = "expired"
    AD_HOC = "ad_hoc"


REFUSALS = frozenset(
    {Verdict.LIMIT_REACHED, Verdict.NOT_COVERED, Verdict.NOT_YET_IN_FORCE, Verdict.EXPIRED}
)


@dataclass(frozen=True, slots=True)
class Coverage:
    """The coverage of a new job: covered by a plan, refused, or ad hoc.

    ``plan`` and ``usage`` are the covering plan and its service's usage before
    the new job (for ``limit_reached``: the exhausted one; for ``not_yet_in_force``
    and ``expired``: the plan, without usage). An ``ad_hoc`` job is chargeable and
    counts against no plan.
    """

    verdict: Verdict
    service_type_id: int
    message: str
    plan: HeldPlan | None = None
    usage: ServiceUsage | None = None

    @property
    def covered(self) -> bool:
        return self.verdict is Verdict.COVERED

    @property
    def refused(self) -> bool:
        return self.verdict in REFUSALS

    @property
    def chargeable(self) -> bool:
        """The beneficiary's client does not pay: the job is billed as avulso."""
        return self.verdict is Verdict.AD_HOC

    @property
    def plan_id(self) -> int | None:
        return None if self.plan is None or not self.covered else self.plan.plan_id

    @classmethod
    def ad_hoc(cls, service_type_id: int, reason: str) -> Coverage:
        """The operator's decision to open ``service_type_id`` as a chargeable
        ad-hoc job, with the ``reason`` (typically the refusal's message)."""
        message = f"Serviço avulso (cobrado): {reason}" if reason else "Serviço avulso (cobrado)."
        return cls(Verdict.AD_HOC, service_type_id, message)

    def as_ad_hoc(self) -> Coverage:
        """This decision overridden by the operator: the job is opened ad hoc, with
        this decision's message (less the hint to do so) as the reason."""
        reason = self.message.removesuffix(AD_HOC_HINT).rstrip()
        return Coverage.ad_hoc(self.service_type_id, reason)

    def require_covered(self) -> Coverage:
        """This coverage if it lets the job be opened (covered or ad hoc).

        Raises :class:`~operations.errors.CoverageRefusedError` for a refusal.
        """
        if self.refused:
            raise CoverageRefusedError(self)
        return self


def decide(
    plans: Iterable[HeldPlan],
    jobs: Sequence[PastJob],
    service_type_id: int,
    service_name: str,
    now: datetime,
    *,
    vehicle_id: int | None = None,
    tz: tzinfo = SAO_PAULO,
) -> Coverage:
    """Which plan covers a new job of ``service_type_id`` opened at ``now``, or why
    none does (see the module's docstring for the rule).

    ``service_name`` names the service in the refusal when no plan lists it.
    """
    _require_aware(now, "now")
    listing = sorted(
        (
            (plan, terms)
            for plan in plans
            if applies(plan, vehicle_id) and (terms := plan.terms_for(service_type_id))
        ),
        key=lambda pair: _specificity(pair[0]),
    )
    if not listing:
        return Coverage(
            Verdict.NOT_COVERED, service_type_id, f"Nenhum plano vigente cobre {service_name}."
        )
    in_force = [(p, t) for p, t in listing if standing(p, now, tz) is Standing.IN_FORCE]
    if not in_force:
        return _not_in_force(listing[0][0], service_type_id, now, tz)
    usages = [(p, service_usage(p, t, jobs, now, tz)) for p, t in in_force]
    # sorted() is stable: within "has uses left", the rule-3 order stays.
    plan, usage = sorted(usages, key=lambda pair: pair[1].exhausted)[0]
    if usage.exhausted:
        return Coverage(Verdict.LIMIT_REACHED, service_type_id, _limit_message(usage), plan, usage)
    message = f"Coberto pelo plano {plan.name}. {usage.summary}."
    return Coverage(Verdict.COVERED, service_type_id, message, plan, usage)


def _not_in_force(plan: HeldPlan, service_type_id: int, now: datetime, tz: tzinfo) -> Coverage:
    plan_standing = standing(plan, now, tz)
    verdict = (
        Verdict.NOT_YET_IN_FORCE if plan_standing is Standing.NOT_YET_IN_FORCE else Verdict.EXPIRED
    )
    return Coverage(verdict, service_type_id, standing_message(plan, plan_standing), plan)


def _limit_message(usage: ServiceUsage) -> str:
    name, label = usage.terms.service_name, usage.period.label
    used = f"{usage.used} de {usage.limit} usados {label}"
    return f"Limite do serviço {name} atingido: {used}. {AD_HOC_HINT}"
