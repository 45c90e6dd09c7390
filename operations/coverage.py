"""Coverage and usage limits (pure): how much of each covered service a beneficiary
has used in the current period, which plan covers a new job, and how the km of a
finished job split between the plan and the excess.

No I/O: callers load plans and earlier jobs into the frozen dataclasses below and
get decisions back. Every moment is a timezone-aware ``datetime``; returned bounds
are in UTC (compare them with anything aware), dates are read in the assistance's
zone (``tz``, America/Sao_Paulo unless given).

Periods (:class:`Period`, start inclusive, end exclusive):

=================  =============================================================
``month``          the calendar month of the moment, in local time
``year``           the calendar year of the moment, in local time
``contract_term``  the holder's contract: 00:00 of ``starts_on`` to 00:00 of the
                   day after ``ends_on`` (``ends_on`` is the last day in force);
                   no end when the contract is open-ended
=================  =============================================================

Month and year periods are calendar periods, not clipped to the contract: a plan
renewed in March with the same plan id keeps the uses of January and February.

Which earlier jobs count against a plan service (:func:`counts_against`): same plan
id, same service type, not ad hoc, the same vehicle when the plan is held by a
vehicle, opened inside the current period, and either not cancelled or cancelled
and counted by the plan's :class:`~registry.enums.CancelledJobCount` policy. A job
in any other status (scheduled, open, dispatching, attempts exceeded, with a
provider, completed, closed) holds its use until it is cancelled.

Which plan covers a new job (:func:`decide`), among the plans that apply (the
beneficiary's own plans, and the plans of the attended vehicle) and list the service:

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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from operations.errors import CoverageRefusedError, InvalidCoverageDataError
from operations.lifecycle import JobStatus
from registry.enums import CancelledJobCount, LimitPeriod, PlanKind

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
"""The default zone in which months, years and contract days are read."""

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

AD_HOC_HINT = "Abra como serviço avulso (cobrado) se necessário."
"""Appended to refusals that the operator may override with an ad-hoc job."""


# Inputs


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """A service a plan covers (``PlanService``) with its value and usage limit.

    ``uses_per_period`` None is unlimited; ``km_per_use`` None is not km-based;
    ``max_value`` None is no ceiling.
    """

    service_type_id: int
    service_name: str
    covered_value: Decimal
    uses_per_period: int | None = None
    period: LimitPeriod = LimitPeriod.YEAR
    km_per_use: int | None = None
    max_value: Decimal | None = None

    def __post_init__(self) -> None:
        if self.uses_per_period is not None and self.uses_per_period <= 0:
            raise InvalidCoverageDataError("Limite de usos do serviço deve ser positivo.")
        if self.km_per_use is not None and self.km_per_use < 0:
            raise InvalidCoverageDataError("Km por uso do serviço não pode ser negativo.")


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """A plan's flags that shape usage counting and the km excess."""

    beneficiary_pays_excess_km: bool = False
    count_km_all_trips: bool = False
    cancelled_jobs_count: CancelledJobCount = CancelledJobCount.AFTER_DISPATCH


@dataclass(frozen=True, slots=True)
class HeldPlan:
    """A plan held by the beneficiary (``BeneficiaryPlan``) or by one of their
    vehicles (``Vehicle.plan_*``, then ``vehicle_id`` is set), for a contract term.

    ``ends_on`` is the last day in force (inclusive); None is open-ended.
    """

    plan_id: int
    code: str
    name: str
    kind: PlanKind
    starts_on: date
    ends_on: date | None
    services: tuple[ServiceTerms, ...]
    options: PlanOptions = field(default_factory=PlanOptions)
    vehicle_id: int | None = None

    def __post_init__(self) -> None:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise InvalidCoverageDataError(
                f"Vigência do plano {self.name} termina antes do início."
            )
        ids = [terms.service_type_id for terms in self.services]
        if len(ids) != len(set(ids)):
            raise InvalidCoverageDataError(f"Plano {self.name} lista um serviço duas vezes.")

    def terms_for(self, service_type_id: int) -> ServiceTerms | None:
        """The terms of ``service_type_id`` in this plan, or None if not covered."""
        return next((t for t in self.services if t.service_type_id == service_type_id), None)


@dataclass(frozen=True, slots=True)
class PastJob:
    """An earlier job of the beneficiary, as far as usage counting needs it.

    ``opened_at`` is the job's date and time (``requested_at``); ``plan_id`` is None
    for an ad-hoc job; ``provider_assigned``: a provider had been committed to the
    job before it was cancelled (it travelled).
    """

    service_type_id: int
    plan_id: int | None
    opened_at: datetime
    status: JobStatus
    provider_assigned: bool = False
    ad_hoc: bool = False
    vehicle_id: int | None = None
    job_id: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.opened_at, "opened_at")


# Periods


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


# Standing of a plan


class Standing(enum.StrEnum):
    """Whether a held plan is in force at a moment."""

    IN_FORCE = "in_force"
    NOT_YET_IN_FORCE = "not_yet_in_force"
    EXPIRED = "expired"


def standing(plan: HeldPlan, now: datetime, tz: tzinfo = SAO_PAULO) -> Standing:
    """The plan's standing at ``now``: its days are read in ``tz``."""
    today = _local(now, tz).date()
    if today < plan.starts_on:
        return Standing.NOT_YET_IN_FORCE
    if plan.ends_on is not None and today > plan.ends_on:
        return Standing.EXPIRED
    return Standing.IN_FORCE


def standing_message(plan: HeldPlan, plan_standing: Standing) -> str:
    """The pt-BR refusal for a plan that is not in force."""
    if plan_standing is Standing.NOT_YET_IN_FORCE:
        when = f"a vigência começa em {_ddmmyyyy(plan.starts_on)}"
        return f"O plano {plan.name} ainda não está em vigor: {when}. {AD_HOC_HINT}"
    if plan_standing is Standing.EXPIRED and plan.ends_on is not None:
        when = f"a vigência terminou em {_ddmmyyyy(plan.ends_on)}"
        return f"O plano {plan.name} não está mais em vigor: {when}. {AD_HOC_HINT}"
    return f"O plano {plan.name} está em vigor."


# Usage


def job_counts(job: PastJob, policy: CancelledJobCount) -> bool:
    """Whether ``job`` uses up a covered service, whatever the plan or period.

    Ad-hoc jobs never count; cancelled jobs count as ``policy`` says; a job in any
    other status counts.
    """
    if job.ad_hoc or job.plan_id is None:
        return False
    if job.status is not JobStatus.CANCELLED:
        return True
    if policy is CancelledJobCount.ALWAYS:
        return True
    return policy is CancelledJobCount.AFTER_DISPATCH and job.provider_assigned


def counts_against(job: PastJob, plan: HeldPlan, service_type_id: int, period: Period) -> bool:
    """Whether ``job`` uses up one of ``plan``'s ``service_type_id`` in ``period``."""
    if job.plan_id != plan.plan_id or job.service_type_id != service_type_id:
        return False
    if plan.vehicle_id is not None and job.vehicle_id != plan.vehicle_id:
        return False
    return job_counts(job, plan.options.cancelled_jobs_count) and period.contains(job.opened_at)


@dataclass(frozen=True, slots=True)
class ServiceUsage:
    """One covered service of a plan in force: its terms and use in the current
    period.

    ``used`` may exceed the limit (a limit lowered after use, jobs forced by a
    supervisor); ``remaining`` is then 0. ``counted_job_ids`` lists the counted
    jobs that have an id.
    """

    plan_id: int
    terms: ServiceTerms
    period: Period
    used: int
    counted_job_ids: tuple[int, ...] = ()

    @property
    def service_type_id(self) -> int:
        return self.terms.service_type_id

    @property
    def limit(self) -> int | None:
        """Uses allowed in the period; None is unlimited."""
        return self.terms.uses_per_period

    @property
    def remaining(self) -> int | None:
        """Uses left in the period (never negative); None is unlimited."""
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        """No use left in the period."""
        return self.remaining == 0

    @property
    def summary(self) -> str:
        """The operator's line: "Reboque leve: 2 de 3 usados em 2026, 100 km por uso"."""
        terms, label = self.terms, self.period.label
        if self.limit is None:
            noun = "uso" if self.used == 1 else "usos"
            text = f"{terms.service_name}: ilimitado ({self.used} {noun} {label})"
        else:
            text = f"{terms.service_name}: {self.used} de {self.limit} usados {label}"
        if terms.km_per_use is not None:
            text += f", {terms.km_per_use} km por uso"
        if terms.max_value is not None:
            text += f", teto de {format_brl(terms.max_value)} no período"
        return text


@dataclass(frozen=True, slots=True)
class PlanUsage:
    """A plan in force with the usage of each of its services."""

    plan: HeldPlan
    services: tuple[ServiceUsage, ...]


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Every plan that applies at ``at``: usage of those in force, the standing of
    the others."""

    at: datetime
    in_force: tuple[PlanUsage, ...]
    not_in_force: tuple[tuple[HeldPlan, Standing], ...]

    def usage(self, plan_id: int, service_type_id: int) -> ServiceUsage | None:
        """The usage of a service of a plan in force, or None."""
        for plan_usage in self.in_force:
            if plan_usage.plan.plan_id == plan_id:
                return next(
                    (u for u in plan_usage.services if u.service_type_id == service_type_id),
                    None,
                )
        return None


def service_usage(
    plan: HeldPlan,
    terms: ServiceTerms,
    jobs: Iterable[PastJob],
    now: datetime,
    tz: tzinfo = SAO_PAULO,
) -> ServiceUsage:
    """How much of ``plan``'s ``terms`` the ``jobs`` use in the period containing
    ``now``."""
    period = period_of(terms.period, now, plan, tz)
    counted = [j for j in jobs if counts_against(j, plan, terms.service_type_id, period)]
    ids = tuple(j.job_id for j in counted if j.job_id is not None)
    return ServiceUsage(plan.plan_id, terms, period, len(counted), ids)


def applies(plan: HeldPlan, vehicle_id: int | None) -> bool:
    """Whether ``plan`` serves a job of the beneficiary for ``vehicle_id`` (None: no
    vehicle): the beneficiary's own plans always do, a vehicle's only for it."""
    return plan.vehicle_id is None or plan.vehicle_id == vehicle_id


def usage_report(
    plans: Iterable[HeldPlan],
    jobs: Sequence[PastJob],
    now: datetime,
    *,
    vehicle_id: int | None = None,
    tz: tzinfo = SAO_PAULO,
) -> CoverageReport:
    """The usage of every service of every plan that applies, at ``now``.

    Plans held by another vehicle than ``vehicle_id`` are left out. Plans come out
    in the order of :func:`decide`'s rule 3 (the vehicle's first, then by id).
    """
    _require_aware(now, "now")
    in_force: list[PlanUsage] = []
    others: list[tuple[HeldPlan, Standing]] = []
    for plan in sorted((p for p in plans if applies(p, vehicle_id)), key=_specificity):
        plan_standing = standing(plan, now, tz)
        if plan_standing is Standing.IN_FORCE:
            services = tuple(service_usage(plan, t, jobs, now, tz) for t in plan.services)
            in_force.append(PlanUsage(plan, services))
        else:
            others.append((plan, plan_standing))
    return CoverageReport(now, tuple(in_force), tuple(others))


# The decision


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


def _specificity(plan: HeldPlan) -> tuple[bool, int, int]:
    """Rule 3's order: plans held by a vehicle first, then the lowest plan id, then
    (two terms of one plan) the latest term."""
    return (plan.vehicle_id is None, plan.plan_id, -plan.starts_on.toordinal())


# Km excess at closing


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


# Formatting and checks


def format_brl(value: Decimal) -> str:
    """``Decimal("1500")`` as "R$ 1.500,00"."""
    text = f"{value.quantize(Decimal('0.01')):,.2f}"
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def _ddmmyyyy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _local(moment: datetime, tz: tzinfo) -> datetime:
    _require_aware(moment, "moment")
    return moment.astimezone(tz)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidCoverageDataError(f"Data e hora sem fuso horário ({name}).")
