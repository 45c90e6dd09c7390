"""Distances, the speed model and which position counts."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import h3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.distance import (
    EARTH_RADIUS_KM,
    LIVE_POSITION_MAX_AGE_S,
    CountedPosition,
    LivePosition,
    PositionSource,
    SpeedModel,
    StraightLineSpeedModel,
    counted_position,
    haversine_km,
)
from geo.errors import InvalidQueryError

lats = st.floats(min_value=-89.9, max_value=89.9)
lngs = st.floats(min_value=-180.0, max_value=180.0)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_one_degree_of_latitude() -> None:
    assert haversine_km(-23.0, -46.0, -24.0, -46.0) == pytest.approx(
        2 * math.pi * EARTH_RADIUS_KM / 360, rel=1e-12
    )


def test_antipodes_are_half_a_great_circle_apart() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)


def test_se_to_paulista_is_about_two_and_a_half_km() -> None:
    # Praça da Sé to MASP, Avenida Paulista.
    assert haversine_km(-23.5503, -46.6339, -23.5614, -46.6559) == pytest.approx(2.60, abs=0.05)


@given(lats, lngs, lats, lngs)
def test_haversine_is_symmetric_and_agrees_with_h3(
    lat1: float, lng1: float, lat2: float, lng2: float
) -> None:
    d = haversine_km(lat1, lng1, lat2, lng2)
    assert d == pytest.approx(haversine_km(lat2, lng2, lat1, lng1), abs=1e-9)
    # h3's sphere is 1.6 m smaller (radius 6371.00718 km).
    h3_d = h3.great_circle_distance((lat1, lng1), (lat2, lng2))
    assert d == pytest.approx(h3_d, rel=1e-6, abs=1e-6)
    assert 0.0 <= d <= math.pi * EARTH_RADIUS_KM + 1e-9


def test_straight_line_model_adds_detour_at_urban_speed() -> None:
    model = StraightLineSpeedModel()
    # 10 km straight is 13 km of road at 30 km/h: 26 minutes.
    assert model.road_km(10.0) == pytest.approx(13.0)
    assert model.eta_minutes(10.0) == pytest.approx(26.0)
    assert model.eta_minutes(10.0, at=NOW) == model.eta_minutes(10.0)
    assert model.eta_minutes(0.0) == 0.0


def test_speed_model_is_a_seam() -> None:
    class Fixed:
        def eta_minutes(self, distance_km: float, *, at: datetime | None = None) -> float:
            return 7.0

    models: list[SpeedModel] = [StraightLineSpeedModel(1.0, 60.0), Fixed()]
    assert [m.eta_minutes(5.0) for m in models] == [5.0, 7.0]


@pytest.mark.parametrize("distance", [-0.1, math.nan, math.inf])
def test_eta_refuses_bad_distances(distance: float) -> None:
    with pytest.raises(InvalidQueryError):
        StraightLineSpeedModel().eta_minutes(distance)


@pytest.mark.parametrize(("detour", "speed"), [(0.9, 30.0), (1.3, 0.0), (math.nan, 30.0)])
def test_speed_model_refuses_bad_constants(detour: float, speed: float) -> None:
    with pytest.raises(InvalidQueryError):
        StraightLineSpeedModel(detour, speed)


def test_fresh_live_position_counts() -> None:
    live = LivePosition(-23.6, -46.7, NOW - timedelta(seconds=30))
    assert counted_position(-23.5, -46.6, live, now=NOW) == CountedPosition(
        -23.6, -46.7, PositionSource.LIVE, 30.0
    )


def test_stale_live_position_falls_back_to_base_but_keeps_its_age() -> None:
    live = LivePosition(-23.6, -46.7, NOW - timedelta(seconds=LIVE_POSITION_MAX_AGE_S))
    assert counted_position(-23.5, -46.6, live, now=NOW) == CountedPosition(
        -23.5, -46.6, PositionSource.BASE, LIVE_POSITION_MAX_AGE_S
    )
    younger = LivePosition(-23.6, -46.7, NOW - timedelta(seconds=50))
    assert counted_position(0, 0, younger, now=NOW, max_age_s=40).source is PositionSource.BASE


def test_no_live_position_means_base_with_no_age() -> None:
    assert counted_position(-23.5, -46.6, None, now=NOW) == CountedPosition(
        -23.5, -46.6, PositionSource.BASE, None
    )


def test_position_from_the_future_counts_as_just_taken() -> None:
    live = LivePosition(-23.6, -46.7, NOW + timedelta(seconds=3))
    assert counted_position(-23.5, -46.6, live, now=NOW).age_s == 0.0


def test_counted_position_refuses_naive_times_and_bad_max_age() -> None:
    naive = datetime(2026, 11, 23, 15, 0)
    with pytest.raises(InvalidQueryError):
        counted_position(0, 0, None, now=naive)
    with pytest.raises(InvalidQueryError):
        counted_position(0, 0, LivePosition(0, 0, naive), now=NOW)
    with pytest.raises(InvalidQueryError):
        counted_position(0, 0, None, now=NOW, max_age_s=0)
