from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.errors import ConfigError
from realtime.filter import (
    ACCEPTED,
    FilterConfig,
    PositionFilter,
    PositionFix,
    ProviderTrack,
    RejectionCounts,
    RejectReason,
    implied_speed_kmh,
)
from tests.realtime.support import NOW_MS, NOW_S, fix

R = RejectReason
FILTER = PositionFilter()
CONFIG = FILTER.config


def check(candidate: PositionFix, last: PositionFix | None = None) -> RejectReason | None:
    return FILTER.check(last, candidate, NOW_S).reason


def test_a_plausible_fix_is_accepted() -> None:
    assert FILTER.check(None, fix(), NOW_S) == ACCEPTED
    assert FILTER.check(fix(dt_s=-5), fix(), NOW_S).accepted


@pytest.mark.parametrize(
    "bad",
    [
        fix(lat=90.0001),
        fix(lat=-91),
        fix(lng=180.5),
        fix(lng=-181),
        fix(lat=math.nan),
        fix(lng=math.inf),
        fix(accuracy_m=-1),
        fix(accuracy_m=math.inf),
        fix(accuracy_m=math.nan),
        fix(speed_kmh=-0.1),
        fix(speed_kmh=1000.1),
        fix(heading_deg=-1),
        fix(heading_deg=360.5),
        dataclasses.replace(fix(), time_ms=-1),
    ],
)
def test_values_out_of_their_domain(bad: PositionFix) -> None:
    assert check(bad) is R.OUT_OF_RANGE


def test_domain_edges_are_in_range() -> None:
    for edge in (fix(lat=90, lng=180), fix(lat=-90, lng=-180), fix(heading_deg=360, speed_kmh=0)):
        assert check(edge) is None


def test_missing_speed_and_heading_are_fine() -> None:
    assert check(fix(speed_kmh=None, heading_deg=None)) is None


def test_null_island() -> None:
    assert check(fix(lat=0.0, lng=0.0)) is R.NULL_ISLAND
    assert check(fix(lat=-0.0000001, lng=0.0000002)) is R.NULL_ISLAND
    # Macapá sits on the equator: a zero latitude alone is a real place.
    assert check(fix(lat=0.0, lng=-51.07)) is None


def test_mock_location_rejected_unless_configured_otherwise() -> None:
    assert check(fix(mock=True)) is R.MOCK_LOCATION
    lenient = PositionFilter(FilterConfig(reject_mock=False))
    assert lenient.check(None, fix(mock=True), NOW_S).accepted


def test_poor_accuracy() -> None:
    assert check(fix(accuracy_m=CONFIG.max_accuracy_m)) is None
    assert check(fix(accuracy_m=CONFIG.max_accuracy_m + 0.1)) is R.POOR_ACCURACY


def test_future_beyond_the_allowed_clock_skew() -> None:
    assert check(fix(dt_s=CONFIG.max_future_s)) is None
    assert check(fix(dt_s=CONFIG.max_future_s + 1)) is R.FUTURE


def test_too_old() -> None:
    assert check(fix(dt_s=-CONFIG.max_age_s)) is None
    assert check(fix(dt_s=-CONFIG.max_age_s - 1)) is R.TOO_OLD


def test_duplicate_is_the_same_device_time() -> None:
    last = fix()
    assert check(fix(), last) is R.DUPLICATE
    assert check(fix(lat=-23.56), last) is R.DUPLICATE


def test_out_of_order() -> None:
    assert check(fix(dt_s=-1), fix()) is R.OUT_OF_ORDER


def test_implied_speed() -> None:
    last = fix(dt_s=-60)
    # 0.01° of latitude is about 1.11 km: in 60 s that is about 67 km/h ...
    assert check(fix(lat=last.lat + 0.01), last) is None
    # ... in 10 s about 400 km/h.
    assert check(fix(lat=last.lat + 0.01), fix(dt_s=-10)) is R.IMPLIED_SPEED


def test_implied_speed_helper() -> None:
    a = fix()
    b = fix(dt_s=36, lat=a.lat + 0.009)  # ~1 km in 36 s: ~100 km/h
    assert 99 < implied_speed_kmh(a, b) < 101
    assert implied_speed_kmh(a, fix(dt_s=10)) == 0.0
    assert implied_speed_kmh(b, fix(lat=a.lat + 0.001)) == math.inf


def test_first_broken_rule_wins() -> None:
    assert check(fix(mock=True, accuracy_m=500, dt_s=3600)) is R.MOCK_LOCATION
    assert check(fix(accuracy_m=500, dt_s=3600)) is R.POOR_ACCURACY
    assert check(fix(dt_s=-1, lat=10), fix()) is R.OUT_OF_ORDER


@pytest.mark.parametrize(
    "bad",
    [
        {"max_speed_kmh": math.inf},
        {"max_accuracy_m": 0},
        {"max_future_s": -1},
        {"max_age_s": math.nan},
    ],
)
def test_config_bounds_must_be_finite_and_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FilterConfig(**bad)  # type: ignore[arg-type]


def test_track_sorts_a_batch_and_keeps_the_newest() -> None:
    track = ProviderTrack(FILTER)
    batch = [fix(dt_s=0), fix(dt_s=-20), fix(dt_s=-10)]
    result = track.add_batch(batch, NOW_S)
    assert [f.time_ms for f in result.accepted] == [NOW_MS - 20_000, NOW_MS - 10_000, NOW_MS]
    assert result.rejected == ()
    assert track.last_accepted == batch[0]


def test_track_counts_rejections_per_reason_cumulatively() -> None:
    track = ProviderTrack(FILTER)
    first = track.add_batch([fix(), fix(), fix(mock=True, dt_s=1)], NOW_S)
    assert first.rejection_counts() == {R.DUPLICATE: 1, R.MOCK_LOCATION: 1}
    second = track.add_batch([fix(dt_s=-1), fix(dt_s=2, accuracy_m=1e4)], NOW_S)
    assert second.accepted == ()
    assert track.counts[R.OUT_OF_ORDER] == 1
    assert track.counts[R.DUPLICATE] == 1
    assert track.counts.total == 4
    assert track.last_accepted == fix()


def test_track_continues_from_a_seeded_last_fix() -> None:
    track = ProviderTrack(FILTER, last_accepted=fix(dt_s=5))
    result = track.add_batch([fix(dt_s=4), fix(dt_s=6)], NOW_S)
    assert result.accepted == (fix(dt_s=6),)
    assert result.rejected == ((fix(dt_s=4), R.OUT_OF_ORDER),)


def test_equal_times_in_a_batch_first_arrival_wins() -> None:
    track = ProviderTrack(FILTER)
    a, b = fix(lat=-23.55), fix(lat=-23.5501)
    result = track.add_batch([a, b], NOW_S)
    assert result.accepted == (a,)
    assert result.rejected == ((b, R.DUPLICATE),)


def test_rejection_counts() -> None:
    counts = RejectionCounts({R.FUTURE: 2})
    counts.update({R.FUTURE: 1, R.TOO_OLD: 4})
    counts.record(R.NULL_ISLAND)
    assert counts[R.FUTURE] == 3
    assert counts.total == 8
    as_dict = counts.as_dict()
    assert list(as_dict) == [r.value for r in RejectReason]
    assert as_dict["too_old"] == 4 and as_dict["duplicate"] == 0
    assert counts == RejectionCounts({R.FUTURE: 3, R.TOO_OLD: 4, R.NULL_ISLAND: 1})
    assert counts != RejectionCounts()


# -- properties ------------------------------------------------------------------

any_float = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def mostly(
    draw: st.DrawFn, plausible: st.SearchStrategy[float], edges: tuple[float, float]
) -> float:
    """Usually ``plausible``, sometimes just past an edge, sometimes anything."""
    low, high = edges
    roll = draw(st.integers(0, 9))
    if roll < 8:
        return draw(plausible)
    if roll == 8:
        return draw(st.floats(low - 1, low) | st.floats(high, high + 1))
    return draw(any_float)


@st.composite
def wild_fixes(draw: st.DrawFn) -> PositionFix:
    """Fixes with any values at all, including NaN and infinities, often plausible."""
    optional = st.none()
    return PositionFix(
        lat=draw(mostly(st.floats(-90, 90), (-90, 90))),
        lng=draw(mostly(st.floats(-180, 180), (-180, 180))),
        accuracy_m=draw(mostly(st.floats(0, 100), (0, 100))),
        time_ms=draw(
            st.integers(NOW_MS - 2 * 86_400_000, NOW_MS + 60_000)
            if draw(st.integers(0, 9)) < 8
            else st.integers(-(2**60), 2**60)
        ),
        speed_kmh=draw(optional | mostly(st.floats(0, 1000), (0, 1000))),
        heading_deg=draw(optional | mostly(st.floats(0, 360), (0, 360))),
        mock=draw(st.sampled_from([False, False, False, True])),
    )


@st.composite
def nearby_fixes(draw: st.DrawFn) -> PositionFix:
    """Plausible fixes within ~10 km and the last 10 minutes: some too fast, some not."""
    return fix(
        dt_s=-draw(st.integers(0, 600_000)) / 1000,
        lat=-23.55 + draw(st.floats(-0.05, 0.05)),
        lng=-46.63 + draw(st.floats(-0.05, 0.05)),
        accuracy_m=draw(st.floats(0, 110)),
        mock=draw(st.sampled_from([False] * 9 + [True])),
    )


def in_range(f: PositionFix) -> bool:
    return (
        -90 <= f.lat <= 90
        and -180 <= f.lng <= 180
        and 0 <= f.accuracy_m <= CONFIG.max_accuracy_m
        and (f.speed_kmh is None or 0 <= f.speed_kmh <= CONFIG.max_reported_speed_kmh)
        and (f.heading_deg is None or 0 <= f.heading_deg <= 360)
        and NOW_S - CONFIG.max_age_s <= f.time_ms / 1000 <= NOW_S + CONFIG.max_future_s
        and not f.mock
    )


@given(wild_fixes(), st.none() | wild_fixes())
def test_never_accepts_a_fix_out_of_range(candidate: PositionFix, last: PositionFix | None) -> None:
    if FILTER.check(last, candidate, NOW_S).accepted:
        assert in_range(candidate)


@given(nearby_fixes(), nearby_fixes())
def test_never_accepts_a_fix_not_newer_than_the_last(last: PositionFix, new: PositionFix) -> None:
    if FILTER.check(last, new, NOW_S).accepted:
        assert new.time_ms > last.time_ms


@given(nearby_fixes(), nearby_fixes())
def test_never_accepts_an_implied_speed_over_the_limit(last: PositionFix, new: PositionFix) -> None:
    if FILTER.check(last, new, NOW_S).accepted:
        assert implied_speed_kmh(last, new) <= CONFIG.max_speed_kmh


@given(st.lists(nearby_fixes(), max_size=30), st.randoms())
def test_a_batch_in_any_order_ends_on_its_newest_accepted_fix(
    batch: list[PositionFix], random: object
) -> None:
    shuffled = list(batch)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    result = ProviderTrack(FILTER).add_batch(shuffled, NOW_S)
    times = [f.time_ms for f in result.accepted]
    assert times == sorted(set(times))  # strictly increasing
    assert len(result.accepted) + len(result.rejected) == len(batch)
    if result.accepted:
        assert result.accepted[-1].time_ms == max(times)


@given(st.lists(nearby_fixes(), max_size=30, unique_by=lambda f: f.time_ms), st.randoms())
def test_with_distinct_times_the_order_of_arrival_does_not_matter(
    batch: list[PositionFix], random: object
) -> None:
    shuffled = list(batch)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert (
        ProviderTrack(FILTER).add_batch(shuffled, NOW_S).accepted
        == ProviderTrack(FILTER).add_batch(batch, NOW_S).accepted
    )


@given(st.lists(st.lists(nearby_fixes(), max_size=10), max_size=6))
def test_last_accepted_only_moves_forward_across_batches(batches: list[list[PositionFix]]) -> None:
    track = ProviderTrack(FILTER)
    previous = -1
    for batch in batches:
        track.add_batch(batch, NOW_S)
        current = -1 if track.last_accepted is None else track.last_accepted.time_ms
        assert current >= previous
        previous = current


def test_nearby_fixes_do_get_accepted_and_rejected_for_speed() -> None:
    # Guards the properties above against vacuity: both outcomes occur.
    assert check(fix(lat=-23.6), fix(dt_s=-600)) is None
    assert check(fix(lat=-23.6), fix(dt_s=-1)) is R.IMPLIED_SPEED
