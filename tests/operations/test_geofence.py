"""Arrival by geofence (pure): dwell, hysteresis, accuracy, and the first fix after
a signal loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operations.geofence import ArrivalDetector, GeofenceConfig
from operations.tracks import Approaches

ORIGIN = (-23.55, -46.65)
M_PER_DEG_LAT = 111_195.0


def _at(metres_north: float) -> tuple[float, float]:
    return ORIGIN[0] + metres_north / M_PER_DEG_LAT, ORIGIN[1]


def _detector() -> ArrivalDetector:
    return ArrivalDetector(*ORIGIN, GeofenceConfig(radius_m=150, dwell_s=30, gap_s=120))


def _feed(d: ArrivalDetector, path: Sequence[tuple[float, float, float]]) -> float | None:
    """(metres north, accuracy, t) fixes; the arrival time, if any."""
    found = None
    for metres, accuracy, t in path:
        arrived = d.feed(*_at(metres), accuracy, t)
        found = arrived if arrived is not None else found
    return found


def test_arrival_after_staying_inside_for_the_dwell() -> None:
    d = _detector()
    path = [(2000, 10, 0), (800, 10, 5), (300, 10, 10), (100, 10, 15), (60, 10, 20)]
    path += [(20, 10, 30), (15, 10, 45)]
    assert _feed(d, path) == 45  # inside since 15 s, 30 s later
    assert d.feed(*_at(10), 5, 60) is None  # once


def test_driving_past_is_not_arriving() -> None:
    d = _detector()
    path = [(2000, 10, 0), (500, 10, 10), (100, 10, 20), (-100, 10, 30), (-600, 10, 40)]
    assert _feed(d, path) is None


def test_jitter_at_the_edge_does_not_restart_the_dwell() -> None:
    d = _detector()
    path = [(1000, 10, 0), (140, 5, 5), (200, 5, 15), (130, 5, 25), (210, 5, 35)]
    assert _feed(d, path) == 35  # 200 and 210 m are within the 225 m exit


def test_accuracy_helps_but_never_by_more_than_the_radius() -> None:
    d = _detector()
    assert _feed(d, [(1000, 10, 0), (180, 40, 5), (180, 40, 40)]) == 40  # may be 140 m
    vague = _detector()
    assert _feed(vague, [(1000, 10, 0), (400, 2000, 5), (400, 2000, 60)]) is None


def test_the_first_fix_after_a_signal_loss_already_inside_is_an_arrival() -> None:
    d = _detector()
    assert _feed(d, [(3000, 10, 0), (2000, 10, 5), (30, 10, 300)]) == 300


def test_old_fixes_are_ignored() -> None:
    d = _detector()
    _feed(d, [(1000, 10, 100)])
    assert d.feed(*_at(10), 5, 50) is None


@given(st.lists(st.tuples(st.floats(301, 5000), st.floats(0, 1000), st.floats(0, 1)), max_size=40))
def test_fixes_all_farther_than_twice_the_radius_never_arrive(
    path: list[tuple[float, float, float]],
) -> None:
    d = _detector()
    t = 0.0
    for metres, accuracy, step in path:
        t += step * 60
        assert d.feed(*_at(metres), accuracy, t) is None


def test_bad_configs_are_refused() -> None:
    for bad in ({"radius_m": 0}, {"dwell_s": float("nan")}, {"exit_factor": 0.5}):
        with pytest.raises(ValueError):
            GeofenceConfig(**bad)


def test_approaches_watch_each_job_until_its_arrival() -> None:
    approaches = Approaches(GeofenceConfig(radius_m=150, dwell_s=30, gap_s=120))
    approaches.watch(7, *ORIGIN)

    @dataclass
    class Fix:
        lat: float
        lng: float
        accuracy_m: float
        time_ms: int
        speed_kmh: float | None = None

    far = Fix(*_at(900), 10, 0)
    near = [Fix(*_at(50), 10, 5_000), Fix(*_at(40), 10, 40_000)]
    assert approaches.feed(7, [far]) is None
    arrived = approaches.feed(7, near)
    assert arrived is not None and arrived.timestamp() == 40
    assert len(approaches) == 0 and approaches.feed(7, near) is None
    assert approaches.feed(8, near) is None  # not watched
