from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from realtime.geodesy import EARTH_RADIUS_M, haversine_m

lats = st.floats(-90, 90)
lngs = st.floats(-180, 180)


def test_known_distance_sao_paulo_to_rio() -> None:
    # Praça da Sé to Cinelândia: about 358 km in a straight line.
    d = haversine_m(-23.5505, -46.6333, -22.9110, -43.1755)
    assert 355_000 < d < 362_000


def test_one_degree_of_latitude() -> None:
    assert math.isclose(haversine_m(0, 0, 1, 0), EARTH_RADIUS_M * math.pi / 180, rel_tol=1e-12)


def test_antipodes_do_not_raise_and_give_half_the_circumference() -> None:
    assert math.isclose(haversine_m(10, 20, -10, -160), math.pi * EARTH_RADIUS_M, rel_tol=1e-6)


@given(lats, lngs, lats, lngs)
def test_symmetric_bounded_and_zero_on_itself(a: float, b: float, c: float, d: float) -> None:
    there = haversine_m(a, b, c, d)
    assert math.isclose(there, haversine_m(c, d, a, b), rel_tol=1e-9, abs_tol=1e-6)
    assert 0 <= there <= math.pi * EARTH_RADIUS_M + 1e-6
    assert haversine_m(a, b, a, b) == 0


def test_a_latitude_beyond_the_poles_gives_a_distance_not_an_error() -> None:
    # A stored fix from elsewhere (the live store, which the filter continues from
    # after a reconnect) is not trusted to be in range.
    assert haversine_m(61.0, 158.0, -3.9605355381792104e16, 0.0) >= 0.0
