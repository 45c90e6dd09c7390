"""Hypothesis strategies for candidate facts, weights and scoring options."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from geo.ranking import FACTORS, CandidateFacts, ScoreOptions, Weights

unit = st.floats(min_value=0.0, max_value=1.0)
rates = st.none() | unit


@st.composite
def weights_st(draw: st.DrawFn) -> Weights:
    """Any weights: random relative values, sometimes with zeros and ties."""
    values = draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 1.0]) | unit, min_size=6, max_size=6))
    if not any(values):
        values[0] = 1.0
    return Weights.from_mapping(dict(zip(FACTORS, values, strict=True)))


@st.composite
def options_st(draw: st.DrawFn) -> ScoreOptions:
    reference = draw(st.none() | st.integers(1, 1000).map(Decimal))
    return ScoreOptions(
        busy_penalty=draw(unit),
        on_time_prior=draw(unit),
        acceptance_prior=draw(unit),
        price_reference=reference,
        price_prior=draw(unit),
    )


@st.composite
def facts_st(
    draw: st.DrawFn, *, provider_id: int | None = None, max_distance: float = 30.0
) -> CandidateFacts:
    """Facts with few distinct values, so that ties are frequent."""
    return CandidateFacts(
        provider_id=draw(st.integers(1, 10**9)) if provider_id is None else provider_id,
        distance_km=draw(st.floats(0.0, max_distance)),
        on_time_rate=draw(rates),
        acceptance_rate=draw(rates),
        preference=draw(st.integers(0, 5)),
        partner=draw(st.booleans()),
        busy=draw(st.booleans()),
        price=draw(st.none() | st.integers(0, 1500).map(Decimal)),
    )
