"""The catalogue search (in memory) against the brute-force reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.catalogue import WARM_CHUNK, Catalogue, ProviderEntry
from geo.distance import StraightLineSpeedModel, haversine_km
from geo.errors import InvalidCandidateError, InvalidQueryError
from geo.ranking import CandidateFacts, PriceTableRow, ScoreOptions, Weights, price_of_job
from geo.search import CatalogueSearch, LiveFix, SearchQuery
from geo.topn import RankedCandidate, brute_force_top_n
from tests.geo.strategies import options_st, rates, weights_st
from tests.geo.test_topn import SE, assert_same, destination, ids

NOW_MS = 1_800_000_000_000
FRESH_MS = 120_000
TOW, TAXI = 1, 2
CLIENT, OTHER_CLIENT = 10, 11
ROW = PriceTableRow(Decimal("120.00"), 5, Decimal("3.50"), Decimal(20))


@dataclass
class Provider:
    entry: ProviderEntry
    live: LiveFix | None = None  # (lat, lng, received ms), fresh or not
    busy: bool = False


class FakeLive:
    """A live view over a dict (what realtime.mirror.LiveMirror answers)."""

    def __init__(self, providers: Sequence[Provider], resolution: int) -> None:
        self.providers = {p.entry.provider_id: p for p in providers}
        self.resolution = resolution
        self.busy = {pid for pid, p in self.providers.items() if p.busy}
        self.cells: dict[str, dict[int, LiveFix]] = {}
        self.positions = {pid: p.live for pid, p in self.providers.items() if p.live is not None}
        for pid, p in self.providers.items():
            if p.live is not None:
                cell = h3.latlng_to_cell(p.live[0], p.live[1], resolution)
                self.cells.setdefault(cell, {})[pid] = p.live

    def in_cell(self, cell: str) -> Mapping[int, LiveFix]:
        return self.cells.get(cell, {})


def search(catalogue: Catalogue, live: FakeLive, query: SearchQuery) -> CatalogueSearch:
    return CatalogueSearch(
        catalogue, live, query, now_ms=NOW_MS, fresh_ms=FRESH_MS, resolution=live.resolution
    )


def run(catalogue: Catalogue, live: FakeLive, query: SearchQuery) -> tuple[RankedCandidate, ...]:
    return search(catalogue, live, query).run().candidates


def reference(providers: Sequence[Provider], query: SearchQuery) -> tuple[RankedCandidate, ...]:
    """Every eligible provider scored at its counted position, sorted."""
    road = StraightLineSpeedModel().road_km
    facts = []
    for p in providers:
        e = p.entry
        if not e.active or query.service_type_id not in e.services:
            continue
        fresh = p.live is not None and NOW_MS - p.live[2] < FRESH_MS
        lat, lng = (p.live[0], p.live[1]) if p.live is not None and fresh else (e.lat, e.lng)
        d = haversine_km(query.lat, query.lng, lat, lng)
        if e.working_radius_km is not None and d > e.working_radius_km:
            continue  # beyond its own radius
        price = price_of_job(
            e.services[query.service_type_id],
            road(d),
            road(query.trip_km),
            night_or_holiday=query.night_or_holiday,
        )
        facts.append(
            CandidateFacts(
                e.provider_id,
                d,
                e.on_time_rate,
                e.acceptance_rate,
                e.preference,
                query.client_id in e.partners,
                p.busy,
                price,
            )
        )
    return brute_force_top_n(facts, query.weights, query.radius_km, query.n, query.options)


PROVIDER = st.tuples(
    st.floats(0, 1.3),  # base distance, × radius
    st.floats(0, 360),
    st.sampled_from(["own", "own", "origin"]),
    st.sampled_from(["none", "fresh", "stale", "fresh", "exactly stale"]),
    st.floats(0, 1.2),  # live distance from the base, × radius
    st.floats(0, 360),
    st.tuples(rates, rates, st.integers(0, 5)),
    st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    st.one_of(st.none(), st.floats(0, 1.5)),  # its own working radius, × radius
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Provider], float, int]:
    resolution = draw(st.sampled_from([7, 8, 9]))
    max_radius = min(25.0, 20 * h3.average_hexagon_edge_length(resolution, "km"))
    radius = draw(st.floats(0.3, max_radius))
    providers = []
    for pid, drawn in enumerate(draw(st.lists(PROVIDER, max_size=80)), start=1):
        km, bearing, where, live_kind, live_km, live_bearing, record, flags, own = drawn
        active, tow, partner, busy = flags
        base = destination(*SE, km * radius, bearing) if where == "own" else SE
        age_ms = {"fresh": 1_000, "stale": 600_000, "exactly stale": FRESH_MS}.get(live_kind)
        live = None
        if age_ms is not None:
            at = destination(*base, live_km * radius, live_bearing)
            live = (at[0], at[1], NOW_MS - age_ms)
        entry = ProviderEntry(
            provider_id=pid,
            lat=base[0],
            lng=base[1],
            cell=h3.latlng_to_cell(*base, resolution),
            active=active or pid % 3 == 0,
            on_time_rate=record[0],
            acceptance_rate=record[1],
            preference=record[2],
            services={TOW if tow else TAXI: ROW},
            partners=frozenset({CLIENT} if partner else {OTHER_CLIENT}),
            working_radius_km=None if own is None else own * radius,
        )
        providers.append(Provider(entry, live, busy))
    return providers, radius, resolution


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    worlds(),
    weights_st(),
    options_st(),
    st.integers(1, 30),
    st.sampled_from([CLIENT, None]),
    st.floats(0, 50),
)
def test_catalogue_search_equals_brute_force(
    world: tuple[list[Provider], float, int],
    weights: Weights,
    options: ScoreOptions,
    n: int,
    client: int | None,
    trip_km: float,
) -> None:
    providers, radius, resolution = world
    catalogue = Catalogue(p.entry for p in providers)
    query = SearchQuery(*SE, TOW, client, radius, n, weights, options, trip_km)
    found = run(catalogue, FakeLive(providers, resolution), query)
    assert_same(found, reference(providers, query))


def provider(pid: int, km: float, bearing: float = 0.0, **changes: object) -> Provider:
    lat, lng = destination(*SE, km, bearing)
    entry = ProviderEntry(
        pid,
        lat,
        lng,
        h3.latlng_to_cell(lat, lng, 8),
        True,
        0.9,
        0.9,
        3,
        {TOW: ROW},
        frozenset(),
    )
    return Provider(entry._replace(**changes))  # type: ignore[arg-type]


def query(**changes: object) -> SearchQuery:
    q = SearchQuery(*SE, TOW, CLIENT, 20.0, 5, Weights())
    return SearchQuery(**{**q.__dict__, **changes}) if hasattr(q, "__dict__") else _with(q, changes)


def _with(q: SearchQuery, changes: dict[str, object]) -> SearchQuery:
    from dataclasses import replace

    return replace(q, **changes)  # type: ignore[arg-type]


def test_a_provider_is_a_candidate_only_where_its_own_radius_reaches() -> None:
    # The case: listed 17 to 31 km away with working radii of 15 to 25 km.
    near = provider(1, 12.0, working_radius_km=15)
    short = provider(2, 17.0, 90.0, working_radius_km=15)
    wide = provider(3, 17.0, 180.0, working_radius_km=25)
    beyond_search = provider(4, 31.0, 270.0, working_radius_km=40)  # the search's 20 km
    just_in = provider(5, 14.9, 45.0, working_radius_km=15)
    unlimited = provider(6, 19.0, 135.0)  # no radius of its own
    everyone = [near, short, wide, beyond_search, just_in, unlimited]
    catalogue = Catalogue(p.entry for p in everyone)
    found = run(catalogue, FakeLive(everyone, 8), query(n=10))
    assert sorted(ids(found)) == [1, 3, 5, 6]
    assert all(c.facts.distance_km <= 20.0 for c in found)


def test_the_own_radius_is_measured_from_where_the_provider_counts() -> None:
    back = provider(1, 18.0, working_radius_km=15)
    back.live = (*destination(*SE, 1.0, 0.0), NOW_MS - 1_000)  # fresh, 1 km from the job
    out = provider(2, 3.0, 180.0, working_radius_km=15)
    out.live = (*destination(*SE, 19.0, 180.0), NOW_MS - 1_000)  # on a job far away
    partner = provider(3, 16.0, 90.0, working_radius_km=15, partners=frozenset({CLIENT}))
    stale = provider(4, 16.0, 270.0, working_radius_km=15)
    stale.live = (*destination(*SE, 1.0, 270.0), NOW_MS - 600_000)  # old news: its base
    everyone = [back, out, partner, stale]
    found = run(Catalogue(p.entry for p in everyone), FakeLive(everyone, 8), query())
    assert ids(found) == [1]
    assert found[0].facts.distance_km == pytest.approx(1.0, abs=0.01)


def test_a_busy_provider_is_flagged_and_penalised() -> None:
    free, busy = provider(1, 2.0), provider(2, 2.0, 180.0)
    busy.busy = True
    found = run(Catalogue([free.entry, busy.entry]), FakeLive([free, busy], 8), query())
    assert ids(found) == [1, 2]
    assert not found[0].facts.busy and found[1].facts.busy
    assert found[1].breakdown["busy"].contribution == -0.2
    assert found[0].score - found[1].score == pytest.approx(0.2)


def test_a_fresh_live_position_counts_and_a_stale_one_does_not() -> None:
    mover = provider(1, 15.0)
    mover.live = (*destination(*SE, 0.3, 90.0), NOW_MS - 5_000)
    idle = provider(2, 1.0)
    idle.live = (*destination(*SE, 19.0, 90.0), NOW_MS - FRESH_MS)  # just too old
    found = run(Catalogue([mover.entry, idle.entry]), FakeLive([mover, idle], 8), query())
    assert ids(found) == [1, 2]
    assert found[0].facts.position_source.value == "live"
    assert found[0].facts.position_age_s == 5.0
    assert found[1].facts.position_source.value == "base"
    assert found[1].facts.distance_km == pytest.approx(1.0)


def test_a_yard_streaming_elsewhere_is_kept_until_one_of_its_trucks_goes_quiet() -> None:
    """A cell's based providers that stream elsewhere are kept out of later searches
    over the same live view while they stay fresh; one that stops streaming counts
    at its base again as soon as its last position is too old."""
    yard = [provider(pid, 1.0, 90.0) for pid in range(1, 31)]
    for i, truck in enumerate(yard):  # all streaming from 12 km away (out of a 5 km radius)
        truck.live = (*destination(*SE, 12.0, 10.0 * i), NOW_MS - 1_000)
    quiet = yard[0]
    quiet.live = (*destination(*SE, 12.0, 0.0), NOW_MS - FRESH_MS + 30_000)  # fresh 30 s more
    catalogue, live = Catalogue(p.entry for p in yard), FakeLive(yard, 8)
    q = query(radius_km=5.0)

    def at(now_ms: int) -> tuple[RankedCandidate, ...]:
        return (
            CatalogueSearch(catalogue, live, q, now_ms=now_ms, fresh_ms=FRESH_MS, resolution=8)
            .run()
            .candidates
        )

    assert at(NOW_MS) == ()
    view = catalogue.view(TOW, search(catalogue, live, q)._topn.scorer)
    cell, least = yard[0].entry.cell, NOW_MS - FRESH_MS + 1
    kept = view.unstreamed(cell, live.positions, least)
    assert kept == ([], []) and view.unstreamed(cell, live.positions, least)[1] is kept[1]
    assert at(NOW_MS + 29_000) == ()
    assert ids(at(NOW_MS + 31_000)) == [quiet.entry.provider_id]
    assert at(NOW_MS + 31_000)[0].facts.distance_km == pytest.approx(1.0)


def test_blocked_and_other_services_are_not_candidates() -> None:
    blocked = provider(1, 1.0, active=False)
    taxi = provider(2, 1.0, 90.0, services={TAXI: ROW})
    ok = provider(3, 3.0)
    world = [blocked, taxi, ok]
    found = run(Catalogue(p.entry for p in world), FakeLive(world, 8), query())
    assert ids(found) == [3]


def test_partners_are_found_wherever_they_are_and_priced() -> None:
    far_partner = provider(1, 19.0, partners=frozenset({CLIENT}))
    near = [provider(pid, 0.5, pid * 10.0) for pid in range(2, 30)]
    world = [far_partner, *near]
    found = run(Catalogue(p.entry for p in world), FakeLive(world, 8), query(n=30))
    by_id = {c.facts.provider_id: c for c in found}
    assert by_id[1].facts.partner and by_id[1].breakdown["partnership"].value == 1.0
    expected = price_of_job(ROW, 19.0 * 1.3, 0.0, night_or_holiday=False)
    assert by_id[1].facts.price == pytest.approx(expected, abs=Decimal("0.02"))


def test_a_dense_cell_is_read_best_first_and_cut_short() -> None:
    # All within 100 m of the origin, in its cell: the best records win.
    crowd = [provider(pid, 0.1, pid * 0.7, on_time_rate=pid / 500) for pid in range(1, 500)]
    result = search(Catalogue(p.entry for p in crowd), FakeLive(crowd, 8), query(n=3)).run()
    assert ids(result.candidates) == ids(reference(crowd, query(n=3)))
    assert result.seen < 50


def test_a_network_without_a_perfect_record_stops_where_distance_settles_it() -> None:
    # Every record 0.9/0.9/3: against a perfect record the search would read ~5 km
    # more; against the network's best base it stops once the 3 nearest are certain.
    spread = [provider(pid, pid * 0.05, pid * 37.0) for pid in range(1, 200)]
    result = search(Catalogue(p.entry for p in spread), FakeLive(spread, 8), query(n=3)).run()
    assert ids(result.candidates) == ids(reference(spread, query(n=3)))
    assert result.rings <= 3


def test_a_record_raised_after_a_search_raises_the_bound() -> None:
    spread = [provider(pid, pid * 0.05, pid * 37.0) for pid in range(1, 200)]
    catalogue = Catalogue(p.entry for p in spread)
    run(catalogue, FakeLive(spread, 8), query(n=3))  # the view's best base is known
    star = provider(150, 2.0, 150 * 37.0, on_time_rate=1.0, acceptance_rate=1.0, preference=5)
    catalogue.replace([150], [star.entry])
    world = [star if p.entry.provider_id == 150 else p for p in spread]
    found = run(catalogue, FakeLive(world, 8), query(n=3))
    assert 150 in ids(found)
    assert ids(found) == ids(reference(world, query(n=3)))


def test_a_live_position_outside_its_cell_is_refused() -> None:
    p = provider(1, 5.0)
    p.live = (*destination(*SE, 0.05, 0.0), NOW_MS)
    live = FakeLive([p], 8)
    far_cell = h3.latlng_to_cell(*destination(*SE, 5.0, 90.0), 8)
    live.cells = {far_cell: {1: p.live}}  # in a cell 5 km away: a broken view
    with pytest.raises(InvalidCandidateError):
        search(Catalogue([p.entry]), live, query()).run()


def test_a_search_runs_once() -> None:
    once = search(Catalogue(), FakeLive([], 8), query())
    assert once.run().candidates == ()
    with pytest.raises(InvalidQueryError):
        once.run()


def test_fresh_ms_must_be_positive() -> None:
    with pytest.raises(InvalidQueryError):
        CatalogueSearch(
            Catalogue(), FakeLive([], 8), query(), now_ms=NOW_MS, fresh_ms=0, resolution=8
        )


def test_catalogue_replace_moves_and_removes() -> None:
    a, b = provider(1, 1.0).entry, provider(2, 1.0, 180.0).entry
    catalogue = Catalogue([a, b])
    view = catalogue.view(TOW, search(catalogue, FakeLive([], 8), query())._topn.scorer)
    assert [e.provider_id for e in view.ranked(a.cell)[1]] == sorted(
        {1, 2} if a.cell == b.cell else {1}
    )
    moved = provider(1, 8.0).entry
    catalogue.replace([1, 2], [moved])
    assert catalogue.get(2) is None
    assert 1 not in [e.provider_id for e in view.ranked(a.cell)[1]]
    assert [e.provider_id for e in view.ranked(moved.cell)[1]] == [1]
    catalogue.replace([1], [moved._replace(active=False)])
    assert view.ranked(moved.cell)[1] == []
    assert catalogue.eligible(1, TOW) is None


def test_a_reloaded_catalogue_takes_over_the_sorted_cells() -> None:
    world = [provider(pid, pid * 0.3, pid * 40.0) for pid in range(1, 60)]
    old = Catalogue(p.entry for p in world)
    run(old, FakeLive(world, 8), query(n=3))
    scorer = search(old, FakeLive([], 8), query())._topn.scorer
    read = old.view(TOW, scorer).sorted_cells()
    assert read
    new = Catalogue(p.entry for p in world)
    steps = list(new.adopt_views(old))
    assert len(steps) == len(read) // WARM_CHUNK
    view = new.view(TOW, scorer)
    assert sorted(view.sorted_cells()) == sorted(read)
    assert view.best_known
    assert view.ranked(read[0]) == old.view(TOW, scorer).ranked(read[0])


def test_warming_sorts_every_cell_of_the_most_served_service_types() -> None:
    tows = [provider(pid, pid * 0.3, pid * 40.0) for pid in range(1, 40)]
    taxis = [provider(pid, 1.0, services={TAXI: ROW}) for pid in range(40, 45)]
    catalogue = Catalogue(p.entry for p in tows + taxis)
    assert catalogue.service_types() == [TOW, TAXI]
    steps = list(catalogue.warm(Weights(), ScoreOptions()))
    scorer = search(catalogue, FakeLive([], 8), query())._topn.scorer
    tow_cells = {p.entry.cell for p in tows}
    assert set(catalogue.view(TOW, scorer).sorted_cells()) == tow_cells
    assert len(catalogue.view(TAXI, scorer).sorted_cells()) == 1
    assert len(steps) == len(tow_cells) // WARM_CHUNK
