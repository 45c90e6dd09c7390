"""The city scenario's pure parts: calls deterministic for a seed, Poisson arrivals,
and the outcomes it reports."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from clients.city_scenario.calls import MAX_CALLS, PLACES, arrivals, calls, offset
from clients.city_scenario.outcomes import JobOutcome, job_outcome, side_by_side, summarise
from clients.provider_app_sim.movement import haversine_m


def test_the_same_seed_gives_the_same_calls_and_another_seed_others() -> None:
    first = calls(2.0, 3600, callers=50, seed=7)
    assert first == calls(2.0, 3600, callers=50, seed=7)
    assert first != calls(2.0, 3600, callers=50, seed=8)
    assert all(0 <= c.caller < 50 for c in first)
    assert [c.at_s for c in first] == sorted(c.at_s for c in first)


def test_arrivals_follow_their_rate() -> None:
    times = arrivals(6.0, 3600 * 10, random.Random(1))  # mean 3,600 calls
    assert 3400 < len(times) < 3800
    assert len(arrivals(1e6, 3600, random.Random(1))) == MAX_CALLS
    assert arrivals(0, 3600, random.Random(1)) == []


@given(st.integers(0, 2**32), st.sampled_from(PLACES))
def test_calls_stay_near_their_place_and_tows_go_a_few_km(seed: int, place: object) -> None:
    for call in calls(5.0, 600, callers=3, seed=seed):
        _, lat, lng = next(p for p in PLACES if p[0] == call.place)
        assert haversine_m(lat, lng, *call.origin) <= 401
        assert 1_990 <= haversine_m(*call.origin, *call.destination) <= 12_010


def test_offset_moves_the_distance_asked() -> None:
    assert abs(haversine_m(-23.55, -46.63, *offset(-23.55, -46.63, 45, 5000)) - 5000) < 2


JOB = {"created_at": "2026-12-02T10:00:00+00:00", "status": "completed"}


def test_a_job_taken_at_the_second_offer() -> None:
    offers = [
        {"status": "refused", "answered_at": "2026-12-02T10:00:20+00:00", "distance_km": 3},
        {"status": "accepted", "answered_at": "2026-12-02T10:01:00+00:00", "distance_km": 4.5},
    ]
    job = {
        **JOB,
        "arrived_at": "2026-12-02T10:20:00+00:00",
        "promised_at": "2026-12-02T10:25:00+00:00",
    }
    outcome = job_outcome(job, offers)
    assert outcome == JobOutcome("completed", 2, 60.0, 1200.0, True, 4.5)


def test_a_job_nobody_took() -> None:
    offers = [{"status": "expired", "answered_at": None, "distance_km": 2}]
    outcome = job_outcome({**JOB, "status": "attempts_exceeded"}, offers)
    assert outcome.accept_s is None and outcome.empty_km is None and outcome.on_time is None
    summary = summarise([outcome, job_outcome(JOB, [])])
    assert (summary.jobs, summary.not_taken, summary.completed) == (2, 1, 1)
    assert summary.attempts_mean == 0.5


def test_the_table_puts_runs_side_by_side() -> None:
    late = JobOutcome("completed", 1, 30.0, 1800.0, False, 6.0)
    early = JobOutcome("completed", 3, 90.0, 600.0, True, 2.0)
    table = side_by_side([("ranking", summarise([early])), ("nearest", summarise([late]))])
    assert "| arrived on time | 100 % | 0 % |" in table
    assert "| time to arrival p50 (min) | 10.0 | 30.0 |" in table
    assert table.splitlines()[0] == "| figure | ranking | nearest |"


def test_nearest_only_weighs_every_ranking_factor_and_only_distance() -> None:
    from clients.city_scenario.scenario import NEAREST_ONLY
    from geo.ranking import FACTORS, Weights

    assert set(NEAREST_ONLY) == set(FACTORS)
    weights = Weights.from_mapping(NEAREST_ONLY)
    assert weights.distance == 1.0 and sum(weights.as_dict().values()) == 1.0
