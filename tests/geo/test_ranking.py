"""Weights and client overrides, scores and their breakdown, the price of a job."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.errors import (
    InvalidCandidateError,
    InvalidPriceError,
    InvalidQueryError,
    InvalidWeightsError,
)
from geo.ranking import (
    BUSY,
    BUSY_PENALTY,
    FACTORS,
    CandidateFacts,
    Ceiling,
    PriceTableRow,
    ScoreOptions,
    Scorer,
    Weights,
    price_of_job,
    score,
)
from registry.models.providers import ProviderService
from registry.schemas.clients import RANKING_FACTORS
from tests.geo.strategies import facts_st, options_st, weights_st

RADIUS = 20.0


def facts(**changes: Any) -> CandidateFacts:
    base = CandidateFacts(1, 5.0, 0.8, 0.7, 3, partner=False, busy=False, price=Decimal(200))
    return base._replace(**changes)


# Weights and overrides


def test_factors_are_the_clients_ranking_factors() -> None:
    assert set(FACTORS) == RANKING_FACTORS


def test_default_weights_sum_to_one_and_ignore_price() -> None:
    weights = Weights().as_dict()
    assert list(weights) == list(FACTORS)
    assert math.fsum(weights.values()) == pytest.approx(1.0)
    assert weights["price"] == 0.0


@pytest.mark.parametrize(
    "values",
    [{"distance": 0.5}, {"distance": -0.1, "partnership": 0.55}, {"distance": math.nan}],
)
def test_weights_must_be_non_negative_and_sum_to_one(values: dict[str, float]) -> None:
    with pytest.raises(InvalidWeightsError):
        Weights(**values)


def test_from_mapping_normalises_relative_weights() -> None:
    weights = Weights.from_mapping({"distance": 2, "partnership": 1})
    assert weights.distance == pytest.approx(2 / 3)
    assert weights.partnership == pytest.approx(1 / 3)
    assert weights.on_time_rate == weights.price == 0.0


def test_from_mapping_refuses_all_zero() -> None:
    with pytest.raises(InvalidWeightsError):
        Weights.from_mapping({"distance": 0})


def test_override_gives_the_named_share_and_keeps_the_others_ratios() -> None:
    weights = Weights().with_overrides({"partnership": 40})
    assert weights.partnership == pytest.approx(0.40)
    # The other defaults (0.35, 0.15, 0.15, 0.15) share 0.60 in the same ratios.
    assert weights.distance == pytest.approx(0.60 * 0.35 / 0.80)
    assert weights.on_time_rate == pytest.approx(0.60 * 0.15 / 0.80)
    assert weights.price == 0.0


def test_overrides_reaching_100_are_scaled_and_leave_nothing_to_the_others() -> None:
    weights = Weights().with_overrides({"distance": 60, "price": 60})
    assert weights.distance == pytest.approx(0.5)
    assert weights.price == pytest.approx(0.5)
    assert weights.partnership == weights.preference == 0.0


def test_overrides_naming_every_weighted_factor_are_scaled() -> None:
    overrides = {"distance": 20, "on_time_rate": 10, "acceptance_rate": 10, "preference": 10}
    weights = Weights().with_overrides({**overrides, "partnership": 0})
    assert weights.distance == pytest.approx(0.4)
    assert weights.partnership == 0.0


def test_empty_overrides_change_nothing() -> None:
    assert Weights().with_overrides({}) == Weights()


@pytest.mark.parametrize(
    ("overrides", "factor"),
    [
        ({"eta": 10}, "eta"),
        ({"distance": -1}, "distance"),
        ({"distance": 101}, "distance"),
        ({"distance": math.inf}, "distance"),
        ({"distance": True}, "distance"),
        ({"distance": "10"}, "distance"),
    ],
)
def test_overrides_refuse_unknown_factors_and_bad_values(
    overrides: dict[str, Any], factor: str
) -> None:
    with pytest.raises(InvalidWeightsError) as caught:
        Weights().with_overrides(overrides)
    assert caught.value.factor == factor


def test_overrides_that_zero_everything_are_refused() -> None:
    with pytest.raises(InvalidWeightsError):
        Weights().with_overrides(dict.fromkeys(FACTORS, 0))


@given(weights_st(), st.dictionaries(st.sampled_from(FACTORS), st.floats(0, 100)))
def test_overrides_always_give_valid_weights(weights: Weights, overrides: dict[str, float]) -> None:
    named = math.fsum(value / 100 for value in overrides.values())
    rest = math.fsum(w for n, w in weights.as_dict().items() if n not in overrides)
    try:
        result = weights.with_overrides(overrides).as_dict()
    except InvalidWeightsError:
        assert overrides and named == 0 and rest == 0
        return
    assert math.fsum(result.values()) == pytest.approx(1.0)
    if named < 1 and rest > 0:
        for name, value in overrides.items():
            assert result[name] == pytest.approx(value / 100)


# Scores


def test_breakdown_lists_each_factor_then_busy_and_sums_to_the_total() -> None:
    breakdown = score(facts(busy=True), Weights(), RADIUS)
    assert [line.name for line in breakdown.factors] == [*FACTORS, BUSY]
    for line in breakdown.factors:
        assert line.contribution == line.weight * line.value
    assert breakdown.total == pytest.approx(math.fsum(x.contribution for x in breakdown.factors))
    assert breakdown[BUSY].contribution == -BUSY_PENALTY
    assert breakdown["distance"].value == pytest.approx(0.75)
    assert breakdown["preference"].value == pytest.approx(0.6)


def test_breakdown_by_unknown_name() -> None:
    with pytest.raises(KeyError):
        score(facts(), Weights(), RADIUS)["eta"]


@given(facts_st(max_distance=30.0), weights_st(), options_st())
def test_fast_total_equals_breakdown_total(
    f: CandidateFacts, weights: Weights, options: ScoreOptions
) -> None:
    scorer = Scorer(weights, RADIUS, options)
    breakdown = scorer.breakdown(f)
    assert scorer.total(f) == breakdown.total
    assert all(0.0 <= line.value <= 1.0 for line in breakdown.factors)


def test_distance_value_is_linear_from_one_to_zero_at_the_radius() -> None:
    values = [score(facts(distance_km=d), Weights(), RADIUS)["distance"].value for d in (0, 10, 20)]
    assert values == [1.0, 0.5, 0.0]
    assert score(facts(distance_km=25.0), Weights(), RADIUS)["distance"].value == 0.0


def test_unknown_rates_take_the_priors() -> None:
    unknown = facts(on_time_rate=None, acceptance_rate=None)
    assert score(unknown, Weights(), RADIUS)["on_time_rate"].value == 0.5
    options = ScoreOptions(on_time_prior=0.85, acceptance_prior=0.7)
    breakdown = score(unknown, Weights(), RADIUS, options)
    assert breakdown["on_time_rate"].value == 0.85
    assert breakdown["acceptance_rate"].value == 0.7


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        ({"distance_km": 8.0}, {"distance_km": 3.0}),
        ({"on_time_rate": 0.6}, {"on_time_rate": 0.9}),
        ({"acceptance_rate": 0.2}, {"acceptance_rate": 0.95}),
        ({"preference": 1}, {"preference": 5}),
        ({"partner": False}, {"partner": True}),
        ({"price": Decimal(300)}, {"price": Decimal(150)}),
        ({"busy": True}, {"busy": False}),
    ],
)
def test_each_factor_moves_the_score_the_right_way(
    worse: dict[str, Any], better: dict[str, Any]
) -> None:
    weights = Weights().with_overrides({"price": 10})
    options = ScoreOptions(price_reference=Decimal(400))
    assert score(facts(**better), weights, RADIUS, options).total > (
        score(facts(**worse), weights, RADIUS, options).total
    )


def test_price_counts_only_against_a_reference() -> None:
    weights = Weights().with_overrides({"price": 50})
    cheap, dear = facts(price=Decimal(100)), facts(price=Decimal(900))
    assert score(cheap, weights, RADIUS).total == score(dear, weights, RADIUS).total
    options = ScoreOptions(price_reference=Decimal(400))
    assert score(cheap, weights, RADIUS, options)["price"].value == 0.75
    assert score(dear, weights, RADIUS, options)["price"].value == 0.0
    assert score(facts(price=None), weights, RADIUS, options)["price"].value == 0.5


def test_busy_costs_exactly_the_penalty() -> None:
    options = ScoreOptions(busy_penalty=0.3)
    free = score(facts(), Weights(), RADIUS, options).total
    assert score(facts(busy=True), Weights(), RADIUS, options).total == pytest.approx(free - 0.3)


@pytest.mark.parametrize(
    "changes",
    [
        {"on_time_rate": 1.5},
        {"acceptance_rate": -0.1},
        {"preference": 6},
        {"distance_km": -1.0},
        {"distance_km": math.nan},
        {"price": Decimal(-1)},
        {"price": Decimal("NaN")},
    ],
)
def test_facts_out_of_contract_are_refused(changes: dict[str, Any]) -> None:
    options = ScoreOptions(price_reference=Decimal(100))
    with pytest.raises(InvalidCandidateError) as caught:
        score(facts(provider_id=42, **changes), Weights(), RADIUS, options)
    assert caught.value.provider_id == 42


@pytest.mark.parametrize(
    "values",
    [
        {"busy_penalty": 1.5},
        {"on_time_prior": -0.1},
        {"price_prior": math.nan},
        {"price_reference": Decimal(0)},
    ],
)
def test_score_options_are_checked(values: dict[str, Any]) -> None:
    with pytest.raises(InvalidQueryError):
        ScoreOptions(**values)


@pytest.mark.parametrize("radius", [0.0, -5.0, math.inf])
def test_radius_must_be_positive_and_finite(radius: float) -> None:
    with pytest.raises(InvalidQueryError):
        Scorer(Weights(), radius)


def test_ceiling_values_are_checked() -> None:
    with pytest.raises(InvalidQueryError):
        Ceiling(preference=1.2)


@given(
    st.lists(facts_st(max_distance=30.0), max_size=5),
    weights_st(),
    options_st(),
    st.floats(0.0, 30.0),
)
def test_bound_is_never_below_the_score_of_anyone_further(
    many: list[CandidateFacts], weights: Weights, options: ScoreOptions, min_distance: float
) -> None:
    scorer = Scorer(weights, RADIUS, options)
    ceiling = Ceiling.covering(many, options)
    bound = scorer.bound(min_distance, ceiling)
    for f in many:
        assert scorer.total(f._replace(distance_km=max(min_distance, f.distance_km))) <= bound


def test_ceiling_covering_nothing_is_all_zero() -> None:
    assert Ceiling.covering([], ScoreOptions()) == Ceiling(0.0, 0.0, 0.0, 0.0, 0.0)


# Price of a job

ROW = PriceTableRow(
    departure_fee=Decimal("150.00"),
    included_km=40,
    price_per_km=Decimal("3.50"),
    night_holiday_surcharge_pct=Decimal("30.00"),
)


def test_within_included_km_only_the_departure_fee() -> None:
    assert price_of_job(ROW, 12.0, 28.0, night_or_holiday=False) == Decimal("150.00")


def test_km_beyond_the_included_are_charged() -> None:
    assert price_of_job(ROW, 15.0, 35.0, night_or_holiday=False) == Decimal("185.00")


def test_night_or_holiday_surcharge() -> None:
    assert price_of_job(ROW, 15.0, 35.0, night_or_holiday=True) == Decimal("240.50")


def test_rounds_half_up_to_cents() -> None:
    row = PriceTableRow(Decimal("100.00"), 0, Decimal("2.25"))
    # 100 + 2.25 × 0.01 = 100.0225 → 100.02; 100 + 2.25 × 0.02 = 100.045 → 100.05.
    assert price_of_job(row, 0.01, 0.0, night_or_holiday=False) == Decimal("100.02")
    assert price_of_job(row, Decimal("0.02"), 0, night_or_holiday=False) == Decimal("100.05")
    assert price_of_job(row, 0.0, 0.0, night_or_holiday=False).as_tuple().exponent == -2


def test_price_of_job_takes_a_provider_service_row() -> None:
    row = ProviderService(
        departure_fee=Decimal("80.00"),
        included_km=0,
        price_per_km=Decimal("2.00"),
        hourly_rate=None,
        night_holiday_surcharge_pct=Decimal("0"),
    )
    assert price_of_job(row, 10.0, 0.0, night_or_holiday=True) == Decimal("100.00")


@pytest.mark.parametrize(
    ("row", "km"),
    [
        (ROW, -1.0),
        (ROW, math.nan),
        (ROW, math.inf),
        (PriceTableRow(Decimal(-1), 0, Decimal(1)), 1.0),
        (PriceTableRow(Decimal(1), -5, Decimal(1)), 1.0),
        (PriceTableRow(Decimal(1), 0, Decimal("NaN")), 1.0),
    ],
)
def test_price_of_job_refuses_bad_inputs(row: PriceTableRow, km: float) -> None:
    with pytest.raises(InvalidPriceError):
        price_of_job(row, km, 0.0, night_or_holiday=False)
