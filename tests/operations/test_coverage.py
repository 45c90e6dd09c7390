"""Coverage and usage limits: periods in São Paulo time, which jobs count, the usage
report, the coverage decision (several plans, refusals, ad hoc) and the km split."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operations.coverage import (
    SAO_PAULO,
    Coverage,
    ExcessPayer,
    HeldPlan,
    KmSplit,
    PastJob,
    PlanOptions,
    ServiceTerms,
    Standing,
    Verdict,
    contract_period,
    counts_against,
    decide,
    format_brl,
    job_counts,
    month_period,
    period_of,
    service_usage,
    split_km,
    standing,
    usage_report,
    year_period,
)
from operations.errors import CoverageRefusedError, InvalidCoverageDataError
from operations.lifecycle import JobStatus
from registry.enums import CancelledJobCount, LimitPeriod, PlanKind

TOW, TAXI, LOCKSMITH = 1, 2, 3
CAR, OTHER_CAR = 11, 12
SP_OFFSET = timezone(timedelta(hours=-3))
"""São Paulo's offset since 2019 (no DST): for writing local times in tables."""


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def sp(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A São Paulo wall-clock time (UTC-3, valid from 2019 on)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SP_OFFSET)


def tow(**changes: Any) -> ServiceTerms:
    base = ServiceTerms(TOW, "Reboque leve", Decimal(250), 3, LimitPeriod.YEAR, 100)
    return replace(base, **changes)


def taxi(**changes: Any) -> ServiceTerms:
    base = ServiceTerms(TAXI, "Táxi", Decimal(80), None, LimitPeriod.MONTH, 50)
    return replace(base, **changes)


def car_plan(**changes: Any) -> HeldPlan:
    base = HeldPlan(
        7,
        "AB01",
        "Auto Básico",
        PlanKind.VEHICLE,
        date(2026, 3, 1),
        date(2027, 2, 28),
        (tow(), taxi()),
        vehicle_id=CAR,
    )
    return replace(base, **changes)


def home_plan(**changes: Any) -> HeldPlan:
    base = HeldPlan(
        3,
        "RES",
        "Residencial",
        PlanKind.BENEFICIARY,
        date(2025, 1, 1),
        None,
        (tow(), ServiceTerms(LOCKSMITH, "Chaveiro", Decimal(120), 2, LimitPeriod.MONTH)),
    )
    return replace(base, **changes)


def job(at: datetime, **changes: Any) -> PastJob:
    base = PastJob(TOW, 7, at, JobStatus.COMPLETED, vehicle_id=CAR)
    return replace(base, **changes)


NOW = utc(2026, 11, 10, 15)


# Periods


@pytest.mark.parametrize(
    ("moment", "start", "end", "label"),
    [
        # 01:00 UTC on New Year's Day is still 31 December, 22:00 in São Paulo.
        (utc(2026, 1, 1, 1), utc(2025, 12, 1, 3), utc(2026, 1, 1, 3), "em dezembro de 2025"),
        (
            sp(2025, 12, 31, 23, 59, 59),
            utc(2025, 12, 1, 3),
            utc(2026, 1, 1, 3),
            "em dezembro de 2025",
        ),
        (sp(2026, 1, 1), utc(2026, 1, 1, 3), utc(2026, 2, 1, 3), "em janeiro de 2026"),
        (utc(2026, 11, 30, 12), utc(2026, 11, 1, 3), utc(2026, 12, 1, 3), "em novembro de 2026"),
        # Leap February.
        (
            sp(2024, 2, 29, 23, 59, 59),
            utc(2024, 2, 1, 3),
            utc(2024, 3, 1, 3),
            "em fevereiro de 2024",
        ),
        (sp(2023, 2, 28, 12), utc(2023, 2, 1, 3), utc(2023, 3, 1, 3), "em fevereiro de 2023"),
        # Summer time until 2019: February 2019 began at 00:00 -02:00.
        (utc(2019, 2, 1, 2, 30), utc(2019, 2, 1, 2), utc(2019, 3, 1, 3), "em fevereiro de 2019"),
        (utc(2019, 2, 1, 1, 59), utc(2019, 1, 1, 2), utc(2019, 2, 1, 2), "em janeiro de 2019"),
    ],
)
def test_month_period(moment: datetime, start: datetime, end: datetime, label: str) -> None:
    period = month_period(moment)
    assert (period.kind, period.start, period.end, period.label) == (
        LimitPeriod.MONTH,
        start,
        end,
        label,
    )
    assert period.contains(moment)


@pytest.mark.parametrize(
    ("moment", "year"),
    [
        (utc(2026, 1, 1, 1), 2025),
        (utc(2026, 1, 1, 2, 59, 59), 2025),
        (utc(2026, 1, 1, 3), 2026),
        (sp(2025, 12, 31, 23, 59, 59), 2025),
        (sp(2026, 12, 31, 23, 59, 59), 2026),
        (sp(2024, 12, 31, 12), 2024),
    ],
)
def test_year_period(moment: datetime, year: int) -> None:
    period = year_period(moment)
    assert period.label == f"em {year}"
    assert period.start == utc(year, 1, 1, 3)
    assert period.end == utc(year + 1, 1, 1, 3)
    assert period.contains(moment)


def test_year_period_under_summer_time_starts_at_local_midnight() -> None:
    assert year_period(utc(2019, 1, 1, 2)).start == utc(2019, 1, 1, 2)
    assert year_period(utc(2019, 1, 1, 1, 59)).label == "em 2018"


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "start", "end", "label"),
    [
        (
            date(2026, 3, 1),
            date(2027, 2, 28),
            utc(2026, 3, 1, 3),
            utc(2027, 3, 1, 3),
            "na vigência do contrato (01/03/2026 a 28/02/2027)",
        ),
        (
            date(2027, 3, 1),
            date(2028, 2, 29),
            utc(2027, 3, 1, 3),
            utc(2028, 3, 1, 3),
            "na vigência do contrato (01/03/2027 a 29/02/2028)",
        ),
        (
            date(2026, 3, 1),
            None,
            utc(2026, 3, 1, 3),
            None,
            "na vigência do contrato (desde 01/03/2026)",
        ),
        # Summer time began at midnight on 4 November 2018: that day began at 01:00.
        (
            date(2018, 11, 4),
            date(2018, 11, 4),
            utc(2018, 11, 4, 3),
            utc(2018, 11, 5, 2),
            "na vigência do contrato (04/11/2018 a 04/11/2018)",
        ),
    ],
)
def test_contract_period(
    starts_on: date, ends_on: date | None, start: datetime, end: datetime | None, label: str
) -> None:
    period = contract_period(starts_on, ends_on)
    assert (period.kind, period.start, period.end, period.label) == (
        LimitPeriod.CONTRACT_TERM,
        start,
        end,
        label,
    )


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (utc(2026, 3, 1, 2, 59, 59), False),
        (utc(2026, 3, 1, 3), True),
        (sp(2027, 2, 28, 23, 59, 59), True),
        (sp(2027, 3, 1), False),
    ],
)
def test_contract_period_bounds(moment: datetime, inside: bool) -> None:
    assert contract_period(date(2026, 3, 1), date(2027, 2, 28)).contains(moment) is inside


def test_periods_follow_another_zone() -> None:
    manaus = ZoneInfo("America/Manaus")  # UTC-4
    assert month_period(utc(2026, 6, 1, 3, 30), manaus).label == "em maio de 2026"
    assert month_period(utc(2026, 6, 1, 3, 30)).label == "em junho de 2026"
    assert year_period(utc(2027, 1, 1, 3, 30), manaus).start == utc(2026, 1, 1, 4)


def test_naive_moments_are_refused() -> None:
    with pytest.raises(InvalidCoverageDataError):
        month_period(datetime(2026, 1, 1))
    with pytest.raises(InvalidCoverageDataError):
        job(datetime(2026, 1, 1))
    with pytest.raises(InvalidCoverageDataError):
        decide([car_plan()], [], TOW, "Reboque leve", datetime(2026, 5, 1), vehicle_id=CAR)


# Standing


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 1, 2, 59, 59), Standing.NOT_YET_IN_FORCE),
        (utc(2026, 3, 1, 3), Standing.IN_FORCE),
        (utc(2027, 3, 1, 2, 59, 59), Standing.IN_FORCE),
        (utc(2027, 3, 1, 3), Standing.EXPIRED),
    ],
)
def test_standing_across_contract_days(now: datetime, expected: Standing) -> None:
    assert standing(car_plan(), now) is expected


def test_open_ended_plan_never_expires() -> None:
    assert standing(home_plan(), utc(2099, 12, 31)) is Standing.IN_FORCE


@pytest.mark.parametrize(
    "changes",
    [
        {"ends_on": date(2026, 2, 28)},
        {"services": (tow(), tow())},
    ],
)
def test_inconsistent_plans_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidCoverageDataError):
        car_plan(**changes)


@pytest.mark.parametrize("changes", [{"uses_per_period": 0}, {"km_per_use": -1}])
def test_inconsistent_terms_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidCoverageDataError):
        tow(**changes)


# Which jobs count

C = CancelledJobCount


@pytest.mark.parametrize(
    ("policy", "status", "provider_assigned", "ad_hoc", "counts"),
    [
        (C.NEVER, JobStatus.CANCELLED, False, False, False),
        (C.NEVER, JobStatus.CANCELLED, True, False, False),
        (C.AFTER_DISPATCH, JobStatus.CANCELLED, False, False, False),
        (C.AFTER_DISPATCH, JobStatus.CANCELLED, True, False, True),
        (C.ALWAYS, JobStatus.CANCELLED, False, False, True),
        (C.ALWAYS, JobStatus.CANCELLED, True, False, True),
        (C.NEVER, JobStatus.COMPLETED, True, False, True),
        (C.NEVER, JobStatus.ATTEMPTS_EXCEEDED, False, False, True),
        (C.NEVER, JobStatus.SCHEDULED, False, False, True),
        (C.ALWAYS, JobStatus.COMPLETED, True, True, False),
        (C.ALWAYS, JobStatus.CANCELLED, True, True, False),
    ],
)
def test_job_counts_by_status_and_policy(
    policy: CancelledJobCount,
    status: JobStatus,
    provider_assigned: bool,
    ad_hoc: bool,
    counts: bool,
) -> None:
    past = job(NOW, status=status, provider_assigned=provider_assigned, ad_hoc=ad_hoc)
    assert job_counts(past, policy) is counts


@pytest.mark.parametrize("status", sorted(set(JobStatus) - {JobStatus.CANCELLED}))
@pytest.mark.parametrize("policy", list(CancelledJobCount))
def test_every_status_but_cancelled_counts(status: JobStatus, policy: CancelledJobCount) -> None:
    assert job_counts(job(NOW, status=status), policy)


def test_a_job_without_plan_never_counts() -> None:
    assert not job_counts(job(NOW, plan_id=None), CancelledJobCount.ALWAYS)


@pytest.mark.parametrize(
    ("changes", "counts"),
    [
        ({}, True),
        ({"plan_id": 8}, False),
        ({"service_type_id": TAXI}, False),
        ({"vehicle_id": OTHER_CAR}, False),
        ({"vehicle_id": None}, False),
        ({"opened_at": utc(2026, 1, 1, 2, 59)}, False),  # 2025 in São Paulo
        ({"opened_at": utc(2026, 1, 1, 3)}, True),
    ],
)
def test_counts_against_a_vehicle_plan(changes: dict[str, Any], counts: bool) -> None:
    plan = car_plan()
    period = year_period(NOW)
    assert counts_against(job(NOW, **changes), plan, TOW, period) is counts


def test_a_beneficiary_plan_counts_jobs_of_any_vehicle() -> None:
    plan = home_plan()
    period = year_period(NOW)
    for vehicle_id in (CAR, OTHER_CAR, None):
        assert counts_against(job(NOW, plan_id=3, vehicle_id=vehicle_id), plan, TOW, period)


# Usage


def _used(plan: HeldPlan, terms: ServiceTerms, jobs: list[PastJob], now: datetime) -> int:
    return service_usage(plan, terms, jobs, now).used


@pytest.mark.parametrize(
    ("period", "opened", "now", "counts"),
    [
        (LimitPeriod.YEAR, utc(2026, 1, 1, 1), utc(2026, 6, 1), False),
        (LimitPeriod.YEAR, utc(2026, 1, 1, 1), utc(2025, 12, 31, 12), True),
        (LimitPeriod.YEAR, sp(2026, 12, 31, 23, 59, 59), sp(2026, 6, 1), True),
        (LimitPeriod.YEAR, sp(2027, 1, 1), sp(2026, 12, 31, 23, 59, 59), False),
        (LimitPeriod.MONTH, sp(2026, 10, 31, 23, 59, 59), sp(2026, 11, 1), False),
        (LimitPeriod.MONTH, sp(2026, 11, 1), sp(2026, 11, 30, 23, 59, 59), True),
        (LimitPeriod.MONTH, utc(2026, 12, 1, 2), sp(2026, 11, 15), True),
        (LimitPeriod.MONTH, sp(2028, 2, 29, 23, 59, 59), sp(2028, 2, 1), True),
        (LimitPeriod.MONTH, sp(2028, 2, 29, 23, 59, 59), sp(2028, 3, 1), False),
        # The contract runs 01/03/2026 to 28/02/2027.
        (LimitPeriod.CONTRACT_TERM, sp(2026, 2, 28, 23, 59, 59), sp(2026, 6, 1), False),
        (LimitPeriod.CONTRACT_TERM, sp(2026, 3, 1), sp(2026, 6, 1), True),
        (LimitPeriod.CONTRACT_TERM, sp(2027, 2, 28, 23, 59, 59), sp(2026, 6, 1), True),
        (LimitPeriod.CONTRACT_TERM, sp(2027, 3, 1), sp(2026, 6, 1), False),
    ],
)
def test_usage_across_period_boundaries(
    period: LimitPeriod, opened: datetime, now: datetime, counts: bool
) -> None:
    terms = tow(period=period)
    plan = car_plan(services=(terms,))
    assert _used(plan, terms, [job(opened)], now) == int(counts)


def test_calendar_periods_keep_the_uses_of_an_earlier_term_of_the_same_plan() -> None:
    renewed = car_plan(starts_on=date(2026, 3, 1))
    january = job(sp(2026, 1, 15))
    assert _used(renewed, tow(), [january], NOW) == 1
    assert _used(renewed, tow(period=LimitPeriod.CONTRACT_TERM), [january], NOW) == 0


def test_the_same_instant_in_any_zone_counts_alike() -> None:
    instant = utc(2026, 1, 1, 2, 30)
    views = [instant, instant.astimezone(SAO_PAULO), instant.astimezone(ZoneInfo("Asia/Tokyo"))]
    for view in views:
        assert _used(car_plan(), tow(), [job(view)], utc(2025, 12, 20)) == 1


@pytest.mark.parametrize(
    ("policy", "used"),
    [(C.NEVER, 1), (C.AFTER_DISPATCH, 2), (C.ALWAYS, 3)],
)
def test_usage_by_cancelled_job_policy(policy: CancelledJobCount, used: int) -> None:
    plan = car_plan(options=PlanOptions(cancelled_jobs_count=policy))
    jobs = [
        job(utc(2026, 4, 1)),
        job(utc(2026, 5, 1), status=JobStatus.CANCELLED, provider_assigned=True),
        job(utc(2026, 6, 1), status=JobStatus.CANCELLED),
    ]
    assert _used(plan, tow(), jobs, NOW) == used


def test_ad_hoc_jobs_never_count() -> None:
    jobs = [job(utc(2026, 4, d), ad_hoc=True) for d in range(1, 10)]
    jobs += [job(utc(2026, 5, d), plan_id=None, ad_hoc=True) for d in range(1, 10)]
    usage = service_usage(car_plan(), tow(), jobs, NOW)
    assert (usage.used, usage.remaining, usage.exhausted) == (0, 3, False)


def test_usage_lists_counted_jobs() -> None:
    jobs = [
        job(utc(2026, 4, 1), job_id=100),
        job(utc(2025, 4, 1), job_id=101),
        job(utc(2026, 5, 1), job_id=102, service_type_id=TAXI),
        job(utc(2026, 6, 1)),
    ]
    usage = service_usage(car_plan(), tow(), jobs, NOW)
    assert usage.used == 2
    assert usage.counted_job_ids == (100,)


def test_over_use_leaves_nothing_remaining() -> None:
    jobs = [job(utc(2026, 4, d)) for d in range(1, 6)]
    usage = service_usage(car_plan(), tow(), jobs, NOW)
    assert (usage.used, usage.limit, usage.remaining, usage.exhausted) == (5, 3, 0, True)
    assert usage.summary.startswith("Reboque leve: 5 de 3 usados em 2026")


def test_unlimited_service() -> None:
    jobs = [job(utc(2026, 11, d, 12), service_type_id=TAXI) for d in range(1, 8)]
    usage = service_usage(car_plan(), taxi(), jobs, NOW)
    assert (usage.used, usage.limit, usage.remaining, usage.exhausted) == (7, None, None, False)


@pytest.mark.parametrize(
    ("terms", "used", "summary"),
    [
        (tow(), 2, "Reboque leve: 2 de 3 usados em 2026, 100 km por uso"),
        (
            tow(period=LimitPeriod.MONTH, km_per_use=None),
            1,
            "Reboque leve: 1 de 3 usados em novembro de 2026",
        ),
        (
            tow(period=LimitPeriod.CONTRACT_TERM, max_value=Decimal(1500)),
            0,
            "Reboque leve: 0 de 3 usados na vigência do contrato (01/03/2026 a 28/02/2027), "
            "100 km por uso, teto de R$ 1.500,00 no período",
        ),
        (taxi(), 1, "Táxi: ilimitado (1 uso em novembro de 2026), 50 km por uso"),
        (taxi(km_per_use=None), 2, "Táxi: ilimitado (2 usos em novembro de 2026)"),
    ],
)
def test_summary(terms: ServiceTerms, used: int, summary: str) -> None:
    plan = car_plan(services=(terms,))
    jobs = [
        job(utc(2026, 11, d), service_type_id=terms.service_type_id) for d in range(2, used + 2)
    ]
    assert service_usage(plan, terms, jobs, NOW).summary == summary


def test_report_of_a_vehicle() -> None:
    plans = [
        home_plan(),
        car_plan(),
        car_plan(plan_id=9, vehicle_id=OTHER_CAR),
        car_plan(plan_id=5, starts_on=date(2027, 3, 1), ends_on=None),
    ]
    report = usage_report(plans, [job(utc(2026, 4, 1))], NOW, vehicle_id=CAR)
    assert [u.plan.plan_id for u in report.in_force] == [7, 3]
    assert report.not_in_force == ((plans[3], Standing.NOT_YET_IN_FORCE),)
    tow_usage = report.usage(7, TOW)
    assert tow_usage is not None and tow_usage.used == 1
    assert report.usage(3, TOW) is not None
    assert report.usage(3, TAXI) is None
    assert report.usage(9, TOW) is None


def test_report_of_a_beneficiary_leaves_vehicle_plans_out() -> None:
    report = usage_report([home_plan(), car_plan()], [], NOW)
    assert [u.plan.plan_id for u in report.in_force] == [3]


# The decision


def test_covered() -> None:
    jobs = [job(utc(2026, 4, 1)), job(utc(2026, 5, 1))]
    coverage = decide([car_plan()], jobs, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    assert coverage.verdict is Verdict.COVERED
    assert (coverage.covered, coverage.refused, coverage.chargeable) == (True, False, False)
    assert coverage.plan_id == 7
    assert coverage.usage is not None and coverage.usage.remaining == 1
    assert coverage.message == (
        "Coberto pelo plano Auto Básico. Reboque leve: 2 de 3 usados em 2026, 100 km por uso."
    )
    assert coverage.require_covered() is coverage


def test_limit_reached() -> None:
    jobs = [job(utc(2026, m, 1)) for m in (4, 5, 6)]
    coverage = decide([car_plan()], jobs, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    assert coverage.verdict is Verdict.LIMIT_REACHED
    assert coverage.refused and not coverage.chargeable
    assert coverage.plan_id is None
    assert coverage.message == (
        "Limite do serviço Reboque leve atingido: 3 de 3 usados em 2026. "
        "Abra como serviço avulso (cobrado) se necessário."
    )
    with pytest.raises(CoverageRefusedError) as caught:
        coverage.require_covered()
    assert caught.value.coverage is coverage
    assert caught.value.message == coverage.message


def test_limit_of_last_year_does_not_carry_over() -> None:
    jobs = [job(sp(2025, 12, 31, 23, 59, 59)) for _ in range(3)]
    assert decide([car_plan()], jobs, TOW, "Reboque leve", sp(2026, 3, 2), vehicle_id=CAR).covered
    late = [job(utc(2026, 1, 1, 1)) for _ in range(3)]  # still 2025 in São Paulo
    assert decide([car_plan()], late, TOW, "Reboque leve", sp(2026, 3, 2), vehicle_id=CAR).covered


def test_not_covered() -> None:
    coverage = decide([car_plan()], [], LOCKSMITH, "Chaveiro", NOW, vehicle_id=CAR)
    assert coverage.verdict is Verdict.NOT_COVERED
    assert coverage.message == "Nenhum plano vigente cobre Chaveiro."


def test_another_vehicles_plan_does_not_cover() -> None:
    coverage = decide([car_plan()], [], TOW, "Reboque leve", NOW, vehicle_id=OTHER_CAR)
    assert coverage.verdict is Verdict.NOT_COVERED


@pytest.mark.parametrize(
    ("now", "verdict", "message"),
    [
        (
            sp(2026, 2, 28, 23, 59, 59),
            Verdict.NOT_YET_IN_FORCE,
            "O plano Auto Básico ainda não está em vigor: a vigência começa em 01/03/2026. "
            "Abra como serviço avulso (cobrado) se necessário.",
        ),
        (
            sp(2027, 3, 1),
            Verdict.EXPIRED,
            "O plano Auto Básico não está mais em vigor: a vigência terminou em 28/02/2027. "
            "Abra como serviço avulso (cobrado) se necessário.",
        ),
    ],
)
def test_plan_not_in_force(now: datetime, verdict: Verdict, message: str) -> None:
    coverage = decide([car_plan()], [], TOW, "Reboque leve", now, vehicle_id=CAR)
    assert (coverage.verdict, coverage.message) == (verdict, message)
    assert coverage.refused and coverage.plan is not None and coverage.plan_id is None


def test_between_two_terms_out_of_force_the_renewal_is_named() -> None:
    old = car_plan(starts_on=date(2025, 3, 1), ends_on=date(2026, 2, 28))
    renewal = car_plan(starts_on=date(2026, 3, 2), ends_on=date(2027, 3, 1))
    for plans in ([old, renewal], [renewal, old]):
        coverage = decide(plans, [], TOW, "Reboque leve", sp(2026, 3, 1, 12), vehicle_id=CAR)
        assert coverage.verdict is Verdict.NOT_YET_IN_FORCE
        assert coverage.plan is renewal


def test_a_plan_in_force_is_preferred_to_one_that_is_not() -> None:
    expired = car_plan(plan_id=1, ends_on=date(2026, 5, 31))
    exhausted = [job(utc(2026, m, 1), plan_id=3, vehicle_id=None) for m in (7, 8, 9)]
    coverage = decide([expired, home_plan()], exhausted, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    assert coverage.verdict is Verdict.LIMIT_REACHED
    assert coverage.plan is not None and coverage.plan.plan_id == 3


def _uses(plan_id: int, count: int, vehicle_id: int | None = CAR) -> list[PastJob]:
    return [
        job(utc(2026, 4, 1) + timedelta(hours=h), plan_id=plan_id, vehicle_id=vehicle_id)
        for h in range(count)
    ]


@pytest.mark.parametrize(
    ("plans", "jobs", "verdict", "plan_id"),
    [
        # Both have uses: the vehicle's plan, though its id is higher.
        ([home_plan(), car_plan()], [], Verdict.COVERED, 7),
        # The vehicle's plan is exhausted: the beneficiary's.
        ([home_plan(), car_plan()], _uses(7, 3), Verdict.COVERED, 3),
        # Two beneficiary plans with uses: the lowest id.
        ([home_plan(plan_id=4), home_plan()], [], Verdict.COVERED, 3),
        ([home_plan(plan_id=4), home_plan()], _uses(3, 3, None), Verdict.COVERED, 4),
        # Every plan exhausted: the refusal is the most specific one's.
        ([home_plan(), car_plan()], _uses(7, 3) + _uses(3, 3), Verdict.LIMIT_REACHED, None),
        # An unlimited plan always has uses.
        (
            [car_plan(), home_plan(services=(tow(uses_per_period=None),))],
            _uses(7, 3) + _uses(3, 50),
            Verdict.COVERED,
            3,
        ),
    ],
)
def test_choice_among_several_plans(
    plans: list[HeldPlan], jobs: list[PastJob], verdict: Verdict, plan_id: int | None
) -> None:
    coverage = decide(plans, jobs, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    assert (coverage.verdict, coverage.plan_id) == (verdict, plan_id)
    if verdict is Verdict.LIMIT_REACHED:
        assert coverage.plan is not None and coverage.plan.plan_id == 7
    reordered = decide(list(reversed(plans)), jobs, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    assert reordered == coverage


def test_ad_hoc() -> None:
    coverage = Coverage.ad_hoc(LOCKSMITH, "fora do plano")
    assert coverage.verdict is Verdict.AD_HOC
    assert (coverage.covered, coverage.refused, coverage.chargeable) == (False, False, True)
    assert coverage.plan_id is None and coverage.usage is None
    assert coverage.message == "Serviço avulso (cobrado): fora do plano"
    assert coverage.require_covered() is coverage
    assert Coverage.ad_hoc(LOCKSMITH, "").message == "Serviço avulso (cobrado)."


def test_a_refusal_opened_as_ad_hoc() -> None:
    jobs = [job(utc(2026, m, 1)) for m in (4, 5, 6)]
    refusal = decide([car_plan()], jobs, TOW, "Reboque leve", NOW, vehicle_id=CAR)
    ad_hoc = refusal.as_ad_hoc()
    assert ad_hoc.chargeable and ad_hoc.service_type_id == TOW
    assert ad_hoc.message == (
        "Serviço avulso (cobrado): Limite do serviço Reboque leve atingido: 3 de 3 usados em 2026."
    )
    # An ad-hoc job does not use the plan up: the next refusal reads the same.
    again = decide(
        [car_plan()], [*jobs, job(NOW, plan_id=None, ad_hoc=True)], TOW, "x", NOW, vehicle_id=CAR
    )
    assert again == refusal


# Km excess

B, CL = ExcessPayer.BENEFICIARY, ExcessPayer.CLIENT


@pytest.mark.parametrize(
    ("km_per_use", "all_trips", "beneficiary_pays", "loaded", "total", "expected"),
    [
        (100, False, False, "80", "150", ("80", "80", "0", None)),
        (100, True, False, "80", "150", ("150", "100", "50", CL)),
        (100, False, True, "120.5", "130", ("120.5", "100", "20.5", B)),
        (100, False, True, "100", "130", ("100", "100", "0", None)),
        (None, True, True, "80", "500", ("500", "500", "0", None)),
        (0, False, False, "10", "10", ("10", "0", "10", CL)),
        (40, True, True, "0", "0", ("0", "0", "0", None)),
    ],
)
def test_split_km(
    km_per_use: int | None,
    all_trips: bool,
    beneficiary_pays: bool,
    loaded: str,
    total: str,
    expected: tuple[str, str, str, ExcessPayer | None],
) -> None:
    options = PlanOptions(beneficiary_pays_excess_km=beneficiary_pays, count_km_all_trips=all_trips)
    split = split_km(km_per_use, options, loaded_km=Decimal(loaded), total_km=Decimal(total))
    counted, covered, excess, payer = expected
    assert split == KmSplit(Decimal(counted), Decimal(covered), Decimal(excess), payer)


@pytest.mark.parametrize(
    ("loaded", "total"), [("-1", "10"), ("NaN", "10"), ("10", "Infinity"), ("20", "10")]
)
def test_split_km_refuses_impossible_km(loaded: str, total: str) -> None:
    with pytest.raises(InvalidCoverageDataError):
        split_km(100, PlanOptions(), loaded_km=Decimal(loaded), total_km=Decimal(total))


@given(
    km_per_use=st.none() | st.integers(0, 500),
    loaded=st.decimals(0, 1000, places=1),
    extra=st.decimals(0, 1000, places=1),
    all_trips=st.booleans(),
    beneficiary_pays=st.booleans(),
)
def test_split_km_adds_up(
    km_per_use: int | None,
    loaded: Decimal,
    extra: Decimal,
    all_trips: bool,
    beneficiary_pays: bool,
) -> None:
    options = PlanOptions(beneficiary_pays_excess_km=beneficiary_pays, count_km_all_trips=all_trips)
    split = split_km(km_per_use, options, loaded_km=loaded, total_km=loaded + extra)
    assert split.covered_km + split.excess_km == split.counted_km
    assert split.excess_km >= 0 and split.covered_km >= 0
    if km_per_use is not None:
        assert split.covered_km <= km_per_use
    assert (split.payer is None) == (split.excess_km == 0)


@pytest.mark.parametrize(
    ("value", "text"),
    [("1500", "R$ 1.500,00"), ("0.5", "R$ 0,50"), ("1234567.891", "R$ 1.234.567,89")],
)
def test_format_brl(value: str, text: str) -> None:
    assert format_brl(Decimal(value)) == text


# Properties

instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
zones = st.sampled_from([UTC, SAO_PAULO, ZoneInfo("America/Manaus"), ZoneInfo("Asia/Tokyo")])
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
ONE_TICK = timedelta(microseconds=1)


@given(moment=instants, kind=st.sampled_from([LimitPeriod.MONTH, LimitPeriod.YEAR]))
def test_calendar_periods_tile_time(moment: datetime, kind: LimitPeriod) -> None:
    period = month_period(moment) if kind is LimitPeriod.MONTH else year_period(moment)
    assert period.end is not None and period.contains(moment)
    later = month_period(period.end) if kind is LimitPeriod.MONTH else year_period(period.end)
    earlier_moment = period.start - ONE_TICK
    earlier = (
        month_period(earlier_moment) if kind is LimitPeriod.MONTH else year_period(earlier_moment)
    )
    assert later.start == period.end and earlier.end == period.start
    assert not period.contains(period.end) and not period.contains(earlier_moment)
    first_day = period.start.astimezone(SAO_PAULO).date()
    local = moment.astimezone(SAO_PAULO)
    assert first_day.day == 1 and first_day.year == local.year
    assert first_day.month == (local.month if kind is LimitPeriod.MONTH else 1)
    assert (period.start - ONE_TICK).astimezone(SAO_PAULO).date() == first_day - timedelta(1)


@given(moment=instants, starts_on=days, length=st.none() | st.integers(0, 800))
def test_contract_term_holds_exactly_the_days_in_force(
    moment: datetime, starts_on: date, length: int | None
) -> None:
    ends_on = None if length is None else starts_on + timedelta(length)
    plan = car_plan(starts_on=starts_on, ends_on=ends_on)
    day = moment.astimezone(SAO_PAULO).date()
    inside = starts_on <= day and (ends_on is None or day <= ends_on)
    assert contract_period(starts_on, ends_on).contains(moment) is inside
    assert (standing(plan, moment) is Standing.IN_FORCE) is inside


@st.composite
def past_jobs(draw: st.DrawFn) -> PastJob:
    opened = draw(
        st.datetimes(
            min_value=datetime(2024, 1, 1), max_value=datetime(2029, 1, 1), timezones=zones
        )
    )
    return PastJob(
        service_type_id=draw(st.sampled_from([TOW, TAXI])),
        plan_id=draw(st.sampled_from([7, 8, None])),
        opened_at=opened,
        status=draw(st.sampled_from(list(JobStatus))),
        provider_assigned=draw(st.booleans()),
        ad_hoc=draw(st.booleans()),
        vehicle_id=draw(st.sampled_from([CAR, OTHER_CAR, None])),
    )


@st.composite
def held_plans(draw: st.DrawFn) -> HeldPlan:
    terms = tow(
        uses_per_period=draw(st.none() | st.integers(1, 5)),
        period=draw(st.sampled_from(list(LimitPeriod))),
    )
    starts_on = draw(days)
    length = draw(st.none() | st.integers(0, 800))
    return car_plan(
        starts_on=starts_on,
        ends_on=None if length is None else starts_on + timedelta(length),
        services=(terms,),
        options=PlanOptions(cancelled_jobs_count=draw(st.sampled_from(list(CancelledJobCount)))),
        vehicle_id=draw(st.sampled_from([CAR, None])),
    )


def _same_period(plan: HeldPlan, kind: LimitPeriod, opened: datetime, now: datetime) -> bool:
    """An oracle of period membership read from local dates, not from UTC bounds."""
    day, today = opened.astimezone(SAO_PAULO).date(), now.astimezone(SAO_PAULO).date()
    if kind is LimitPeriod.MONTH:
        return (day.year, day.month) == (today.year, today.month)
    if kind is LimitPeriod.YEAR:
        return day.year == today.year
    return plan.starts_on <= day and (plan.ends_on is None or day <= plan.ends_on)


def _expected_used(plan: HeldPlan, jobs: list[PastJob], now: datetime) -> int:
    terms = plan.services[0]
    policy = plan.options.cancelled_jobs_count
    return sum(
        1
        for j in jobs
        if not j.ad_hoc
        and j.plan_id == plan.plan_id
        and j.service_type_id == terms.service_type_id
        and (plan.vehicle_id is None or j.vehicle_id == plan.vehicle_id)
        and (
            j.status is not JobStatus.CANCELLED
            or policy is C.ALWAYS
            or (policy is C.AFTER_DISPATCH and j.provider_assigned)
        )
        and _same_period(plan, terms.period, j.opened_at, now)
    )


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2029, 1, 1), timezones=zones
)


@given(plan=held_plans(), jobs=st.lists(past_jobs(), max_size=30), now=moments)
def test_usage_counts_exactly_the_jobs_that_count(
    plan: HeldPlan, jobs: list[PastJob], now: datetime
) -> None:
    terms = plan.services[0]
    usage = service_usage(plan, terms, jobs, now)
    assert usage.used == _expected_used(plan, jobs, now)
    assert usage.used <= sum(job_counts(j, plan.options.cancelled_jobs_count) for j in jobs)
    if usage.limit is None:
        assert usage.remaining is None and not usage.exhausted
    else:
        assert usage.remaining == max(usage.limit - usage.used, 0) >= 0
    assert usage.period == period_of(terms.period, now, plan)


@given(
    plan=held_plans(),
    jobs=st.lists(past_jobs(), max_size=20),
    ad_hoc=st.lists(past_jobs(), max_size=20),
    now=moments,
)
def test_ad_hoc_jobs_change_nothing(
    plan: HeldPlan, jobs: list[PastJob], ad_hoc: list[PastJob], now: datetime
) -> None:
    extra = [replace(j, ad_hoc=True) for j in ad_hoc]
    assert usage_report([plan], jobs + extra, now, vehicle_id=CAR) == usage_report(
        [plan], jobs, now, vehicle_id=CAR
    )
    assert decide([plan], jobs + extra, TOW, "Reboque leve", now, vehicle_id=CAR) == decide(
        [plan], jobs, TOW, "Reboque leve", now, vehicle_id=CAR
    )


@given(
    plans=st.lists(held_plans(), min_size=1, max_size=3, unique_by=lambda p: p.vehicle_id),
    jobs=st.lists(past_jobs(), max_size=30),
    now=moments,
)
def test_decision_agrees_with_the_report(
    plans: list[HeldPlan], jobs: list[PastJob], now: datetime
) -> None:
    plans = [replace(p, plan_id=7 + i) for i, p in enumerate(plans)]
    coverage = decide(plans, jobs, TOW, "Reboque leve", now, vehicle_id=CAR)
    report = usage_report(plans, jobs, now, vehicle_id=CAR)
    usages = [u for p in report.in_force for u in p.services]
    if coverage.covered:
        assert coverage.usage in usages and not coverage.usage.exhausted
    elif coverage.verdict is Verdict.LIMIT_REACHED:
        assert usages and all(u.exhausted for u in usages)
    else:
        assert coverage.verdict in (Verdict.NOT_YET_IN_FORCE, Verdict.EXPIRED)
        assert not report.in_force and report.not_in_force
