"""The exact top-N search against the brute-force reference, and its H3 geometry."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import (
    EARTH_RADIUS_KM,
    LivePosition,
    StraightLineSpeedModel,
    counted_position,
    haversine_km,
)
from geo.errors import InvalidCandidateError, InvalidQueryError
from geo.ranking import (
    CandidateFacts,
    Ceiling,
    ScoreOptions,
    Scorer,
    Weights,
)
from geo.topn import (
    RankedCandidate,
    RingGeometry,
    RingSearch,
    SearchState,
    TopN,
    brute_force_top_n,
    fill_eta,
    top_n,
)
from tests.geo.strategies import facts_st, options_st, unit, weights_st

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SE = (-23.5503, -46.6339)  # Praça da Sé, São Paulo


def destination(lat: float, lng: float, km: float, bearing_deg: float) -> tuple[float, float]:
    """The point ``km`` away from (lat, lng) along a bearing, on the sphere."""
    delta, theta = km / EARTH_RADIUS_KM, math.radians(bearing_deg)
    phi1, lmb1 = math.radians(lat), math.radians(lng)
    phi2 = math.asin(
        math.sin(phi1) * math.cos(delta) + math.cos(phi1) * math.sin(delta) * math.cos(theta)
    )
    lmb2 = lmb1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi1),
        math.cos(delta) - math.sin(phi1) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lmb2) + 540.0) % 360.0 - 180.0


@dataclass
class World:
    """Providers around a job's origin, indexed by the cell of their counted position."""

    lat: float
    lng: float
    facts: list[CandidateFacts]
    resolution: int

    def __post_init__(self) -> None:
        self.by_cell: dict[str, list[CandidateFacts]] = defaultdict(list)
        for f in self.facts:
            assert f.lat is not None and f.lng is not None
            self.by_cell[h3.latlng_to_cell(f.lat, f.lng, self.resolution)].append(f)

    def source(self, cells: Sequence[str]) -> list[CandidateFacts]:
        return [f for cell in cells for f in self.by_cell.get(cell, ())]


def make_facts(
    lat: float, lng: float, pid: int, position: tuple[float, float], template: CandidateFacts
) -> CandidateFacts:
    return template._replace(
        provider_id=pid,
        distance_km=haversine_km(lat, lng, *position),
        lat=position[0],
        lng=position[1],
    )


PROVIDER_DRAWS = st.tuples(
    st.floats(0, 1.3),  # distance of the base, × radius
    st.floats(0, 360),  # its bearing
    st.sampled_from(["own", "own", "shared spot", "origin"]),  # where the base is
    st.booleans(),  # has a live position
    st.floats(0, 300),  # its age, s
    st.floats(0, 1),  # its distance from the base, × radius
    st.floats(0, 360),  # its bearing
    facts_st(provider_id=0),
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[World, float]:
    """A random origin anywhere but the poles, a radius fit for the resolution, and up
    to 80 providers: some beyond the radius, some on a shared spot or on the origin
    (tied distances), some whose fresh live position lies far from their base."""
    resolution = draw(st.sampled_from([6, 7, 8, 9]))
    max_radius = min(25.0, 20 * h3.average_hexagon_edge_length(resolution, "km"))
    radius = draw(st.floats(0.2, max_radius))
    lat, lng = draw(st.floats(-80, 80)), draw(st.floats(-180, 180))
    spot = destination(lat, lng, draw(st.floats(0, radius)), draw(st.floats(0, 360)))
    facts: list[CandidateFacts] = []
    size = draw(st.integers(0, 80))
    drawn_providers = draw(st.lists(PROVIDER_DRAWS, min_size=size, max_size=size))
    for pid, drawn in enumerate(drawn_providers, start=1):
        base_km, base_bearing, where, has_live, age_s, live_km, live_bearing, template = drawn
        base = {"own": destination(lat, lng, base_km * radius, base_bearing), "shared spot": spot}
        base_lat, base_lng = base.get(where, (lat, lng))
        live_lat, live_lng = destination(base_lat, base_lng, live_km * radius, live_bearing)
        live = LivePosition(live_lat, live_lng, NOW - timedelta(seconds=age_s))
        counted = counted_position(base_lat, base_lng, live if has_live else None, now=NOW)
        facts.append(make_facts(lat, lng, pid, (counted.lat, counted.lng), template))
    if draw(st.booleans()) and facts:  # someone exactly on the radius
        radius = max(draw(st.sampled_from(facts)).distance_km, 1e-3)
    return World(lat, lng, facts, resolution), radius


def ids(candidates: Iterable[RankedCandidate]) -> list[int]:
    return [c.facts.provider_id for c in candidates]


def assert_same(found: Sequence[RankedCandidate], expected: Sequence[RankedCandidate]) -> None:
    assert ids(found) == ids(expected)
    assert [c.score for c in found] == [c.score for c in expected]
    assert [c.breakdown for c in found] == [c.breakdown for c in expected]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(worlds(), weights_st(), options_st(), st.integers(1, 30), st.integers(1, 3))
def test_search_equals_brute_force(
    world_radius: tuple[World, float],
    weights: Weights,
    options: ScoreOptions,
    n: int,
    rings_per_batch: int,
) -> None:
    world, radius = world_radius
    result = top_n(
        world.lat,
        world.lng,
        world.source,
        weights=weights,
        radius_km=radius,
        n=n,
        options=options,
        resolution=world.resolution,
        rings_per_batch=rings_per_batch,
    )
    expected = brute_force_top_n(world.facts, weights, radius, n, options)
    assert_same(result.candidates, expected)
    eligible = sum(f.distance_km <= radius for f in world.facts)
    assert len(result.candidates) == min(n, eligible)
    assert result.eligible <= eligible and result.seen <= len(world.facts)


@pytest.mark.slow
@settings(max_examples=75, deadline=None)
@given(worlds(), weights_st(), options_st(), st.integers(1, 30))
def test_pinned_partners_with_a_tight_ceiling_equal_brute_force(
    world_radius: tuple[World, float], weights: Weights, options: ScoreOptions, n: int
) -> None:
    world, radius = world_radius
    result = top_n(
        world.lat,
        world.lng,
        world.source,
        weights=weights,
        radius_km=radius,
        n=n,
        options=options,
        resolution=world.resolution,
        ceiling=Ceiling(partnership=0.0),
        pinned=[f for f in world.facts if f.partner],
    )
    assert_same(result.candidates, brute_force_top_n(world.facts, weights, radius, n, options))


@pytest.mark.slow
@settings(max_examples=75, deadline=None)
@given(worlds(), weights_st(), options_st(), st.integers(1, 30))
def test_per_batch_ceilings_from_the_source_equal_brute_force(
    world_radius: tuple[World, float], weights: Weights, options: ScoreOptions, n: int
) -> None:
    world, radius = world_radius
    search = RingSearch(
        world.lat,
        world.lng,
        weights=weights,
        radius_km=radius,
        n=n,
        options=options,
        resolution=world.resolution,
    )
    undelivered = {f.provider_id: f for f in world.facts}
    while (batch := search.next_batch()) is not None:
        facts = world.source(batch.cells)
        for f in facts:
            del undelivered[f.provider_id]
        search.feed(batch, facts, ceiling_beyond=Ceiling.covering(undelivered.values(), options))
    expected = brute_force_top_n(world.facts, weights, radius, n, options)
    assert_same(search.result().candidates, expected)


def at(lat: float, lng: float, pid: int, position: tuple[float, float]) -> CandidateFacts:
    return make_facts(lat, lng, pid, position, CandidateFacts(0, 0.0, 0.9, 0.8, 3, False, False))


def test_everybody_at_the_same_spot_ranks_by_id() -> None:
    spot = destination(*SE, 1.0, 45.0)
    world = World(*SE, [at(*SE, pid, spot) for pid in (9, 3, 7, 1, 5, 2)], resolution=8)
    result = top_n(*SE, world.source, weights=Weights(), radius_km=5.0, n=4)
    assert ids(result.candidates) == [1, 2, 3, 5]
    assert len({c.score for c in result.candidates}) == 1


def test_nobody_in_the_radius() -> None:
    far = [at(*SE, pid, destination(*SE, 6.0 + pid, 90.0)) for pid in range(1, 5)]
    for world in (World(*SE, far, 8), World(*SE, [], 8)):
        result = top_n(*SE, world.source, weights=Weights(), radius_km=5.0, n=3)
        assert result.candidates == ()
        assert result.eligible == 0


def test_fewer_eligible_than_n_returns_them_all_best_first() -> None:
    facts = [at(*SE, pid, destination(*SE, 0.9 * pid, 10.0 * pid)) for pid in range(1, 9)]
    world = World(*SE, facts, 8)
    result = top_n(*SE, world.source, weights=Weights(), radius_km=5.0, n=20)
    assert ids(result.candidates) == [1, 2, 3, 4, 5]


def test_provider_exactly_on_the_radius_is_eligible() -> None:
    facts = [at(*SE, 1, destination(*SE, 3.0, 200.0)), at(*SE, 2, destination(*SE, 4.0, 20.0))]
    radius = facts[1].distance_km
    world = World(*SE, facts, 8)
    result = top_n(*SE, world.source, weights=Weights(), radius_km=radius, n=5)
    assert ids(result.candidates) == [1, 2]
    assert result.candidates[1].breakdown["distance"].value == 0.0


def test_stops_early_in_a_dense_network() -> None:
    facts = [at(*SE, pid, destination(*SE, 0.1 * (pid % 150), 2.4 * pid)) for pid in range(1, 1501)]
    world = World(*SE, facts, 8)
    options = ScoreOptions()
    ceiling = Ceiling.covering(facts, options)
    result = top_n(*SE, world.source, weights=Weights(), radius_km=20.0, n=10, ceiling=ceiling)
    assert result.seen < len(facts) / 2
    assert_same(result.candidates, brute_force_top_n(facts, Weights(), 20.0, 10))


def test_live_position_counts_wherever_the_base_is() -> None:
    base = destination(*SE, 12.0, 0.0)
    live = LivePosition(*destination(*SE, 0.5, 0.0), NOW - timedelta(seconds=10))
    counted = counted_position(*base, live, now=NOW)
    mover = at(*SE, 1, (counted.lat, counted.lng))
    idle = at(*SE, 2, destination(*SE, 2.0, 90.0))
    world = World(*SE, [idle, mover], 8)
    result = top_n(*SE, world.source, weights=Weights(), radius_km=5.0, n=1)
    assert ids(result.candidates) == [1]
    assert result.candidates[0].facts.distance_km == pytest.approx(0.5)


# The search's contract with its source and its caller


def search() -> RingSearch:
    return RingSearch(*SE, weights=Weights(), radius_km=5.0, n=3)


def test_batches_must_be_fed_in_turn() -> None:
    s = search()
    batch = s.next_batch()
    assert batch is not None and batch.cells == (h3.latlng_to_cell(*SE, 8),)
    with pytest.raises(InvalidQueryError):
        s.next_batch()
    with pytest.raises(InvalidQueryError):
        s.result()
    other = search().next_batch()
    assert other is not None
    with pytest.raises(InvalidQueryError):
        s.feed(other, [])
    s.feed(batch, [])
    assert s.state is SearchState.READY
    with pytest.raises(InvalidQueryError):
        s.pin([])


def test_a_batch_never_reaches_wholly_beyond_the_radius() -> None:
    s = RingSearch(*SE, weights=Weights(), radius_km=1.0, n=3)
    batch = s.next_batch(max_rings=50)
    assert batch is not None
    assert s.geometry.min_distance_km(batch.last_ring) <= 1.0
    assert s.geometry.min_distance_km(batch.last_ring + 1) > 1.0
    s.feed(batch, [])
    assert s.state is SearchState.DONE
    assert s.next_batch() is None
    assert s.result().rings == batch.last_ring + 1


def test_a_provider_fed_twice_is_refused() -> None:
    f = at(*SE, 7, SE)
    with pytest.raises(InvalidCandidateError) as caught:
        TopN(Weights(), 5.0, 3).add([f, f])
    assert caught.value.provider_id == 7


@pytest.mark.parametrize("distance", [math.nan, -0.1])
def test_a_distance_that_is_not_a_distance_is_refused(distance: float) -> None:
    with pytest.raises(InvalidCandidateError):
        TopN(Weights(), 5.0, 3).add([at(*SE, 7, SE)._replace(distance_km=distance)])


def test_a_provider_delivered_in_a_ring_far_from_its_position_is_refused() -> None:
    s = search()
    for _ in range(3):
        batch = s.next_batch()
        assert batch is not None
        s.feed(batch, [at(*SE, 100 + batch.first_ring, destination(*SE, 4.5, 0.0))])
    batch = s.next_batch()
    assert batch is not None
    with pytest.raises(InvalidCandidateError):
        s.feed(batch, [at(*SE, 8, destination(*SE, 0.05, 0.0))])


@pytest.mark.parametrize(
    "changes",
    [
        {"n": 0},
        {"n": True},
        {"radius_km": 0.0},
        {"resolution": 16},
        {"lat": 91.0},
        {"lng": math.nan},
    ],
)
def test_search_arguments_are_checked(changes: dict[str, Any]) -> None:
    args: dict[str, Any] = {"lat": SE[0], "lng": SE[1], "radius_km": 5.0, "n": 3, **changes}
    with pytest.raises(InvalidQueryError):
        RingSearch(weights=Weights(), **args)


def test_max_rings_is_checked() -> None:
    with pytest.raises(InvalidQueryError):
        search().next_batch(max_rings=0)


def test_settled_on_a_tied_score_only_when_the_unseen_are_further() -> None:
    topn = TopN(Weights(), 10.0, 1)
    f = CandidateFacts(1, 2.0, 1.0, 1.0, 5, True, False)
    topn.add([f])
    # Anyone unseen at >= 2 km under an all-1 ceiling scores at most f's score.
    assert Scorer(Weights(), 10.0).bound(2.0) == topn.threshold
    assert not topn.settled(2.0)
    assert topn.settled(2.0 + 1e-9)
    assert topn.settled(10.5)


def test_threshold_is_the_nth_best_score() -> None:
    topn = TopN(Weights(), 10.0, 2)
    topn.add([at(*SE, 1, SE)])
    assert topn.threshold is None
    topn.add([at(*SE, 2, destination(*SE, 3.0, 0.0)), at(*SE, 3, destination(*SE, 6.0, 0.0))])
    assert topn.threshold == topn.ranked()[1].score


def test_fill_eta() -> None:
    ranked = brute_force_top_n([at(*SE, 1, destination(*SE, 10.0, 0.0))], Weights(), 20.0, 1)
    (filled,) = fill_eta(ranked, StraightLineSpeedModel())
    assert filled.facts.eta_minutes == pytest.approx(26.0)
    assert filled.breakdown == ranked[0].breakdown


# H3 geometry: the ring bound is a true lower bound


def _vec(lat: float, lng: float) -> tuple[float, float, float]:
    phi, lmb = math.radians(lat), math.radians(lng)
    return (math.cos(phi) * math.cos(lmb), math.cos(phi) * math.sin(lmb), math.sin(phi))


def _cross(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _angle(a: Sequence[float], b: Sequence[float]) -> float:
    c = _cross(a, b)
    return math.atan2(math.sqrt(_dot(c, c)), _dot(a, b))


def _arc_distance_km(p: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    """Exact distance from p to the great-circle arc a-b (all unit vectors)."""
    normal = _cross(a, b)
    size = math.sqrt(_dot(normal, normal))
    normal = (normal[0] / size, normal[1] / size, normal[2] / size)
    off = _dot(p, normal)
    foot = (p[0] - off * normal[0], p[1] - off * normal[1], p[2] - off * normal[2])
    if _dot(_cross(a, foot), normal) >= 0 and _dot(_cross(foot, b), normal) >= 0:
        return math.asin(min(1.0, abs(off))) * EARTH_RADIUS_KM
    return min(_angle(p, a), _angle(p, b)) * EARTH_RADIUS_KM


def _cell_distance_km(lat: float, lng: float, cell: str) -> float:
    p = _vec(lat, lng)
    ring = [_vec(*v) for v in h3.cell_to_boundary(cell)]
    return min(_arc_distance_km(p, a, b) for a, b in zip(ring, ring[1:] + ring[:1], strict=True))


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-85, 85),
    st.floats(-180, 180),
    st.integers(5, 10),
    st.lists(st.integers(1, 25), min_size=1, max_size=3),
)
def test_ring_bound_is_below_the_true_distance(
    lat: float, lng: float, resolution: int, rings: list[int]
) -> None:
    geometry = RingGeometry(lat, lng, resolution)
    for k in rings:
        true = min(_cell_distance_km(lat, lng, c) for c in geometry.ring(k))
        assert geometry.min_distance_km(k) <= true


@given(unit)
def test_ring_bound_grows_with_k(offset: float) -> None:
    lat, lng = destination(*SE, offset * 0.4, 33.0)
    geometry = RingGeometry(lat, lng, 8)
    bounds = [geometry.min_distance_km(k) for k in range(30)]
    assert bounds[0] == 0.0
    assert bounds == sorted(bounds)
    assert bounds[-1] > 0.5 * 29 * 1.5 * h3.average_hexagon_edge_length(8, "km")
