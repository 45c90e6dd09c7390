"""The exact top-N candidate search over the provider catalogue (pure).

The same ring search as :mod:`geo.topn` (same geometry, same stop rule, same order),
fed from the in-memory :class:`~geo.catalogue.Catalogue` for the static facts and
from a :class:`LiveView` for live positions and the busy flag: in a server, the
node's mirror of the live store (:class:`realtime.mirror.LiveMirror`), read
synchronously, so that a search sees one instant of it::

    result = CatalogueSearch(catalogue, mirror, query, now_ms=now, fresh_ms=120_000,
                             resolution=8).run()

What makes it fast (docs/geo.md, "The catalogue" and "The live mirror"):

* Only the client's partners are scored wherever they are (pinned); everyone else
  is bounded with ``partnership = 0``.
* A provider is a candidate only within its own working radius as well as the
  query's: its distance (from where it counts) is at most both.
* A cell's providers come best base first (:class:`~geo.catalogue.CellView`); the
  first whose ``base + w_distance × (best distance value in its ring)`` cannot enter
  the top N ends the cell, before its distance is even computed. A live position in
  the cell is screened the same way before it is measured.
* The stop rule is checked after every ring, against the best base of the view's
  whole network (:meth:`~geo.catalogue.CellView.best_base`) rather than a perfect
  record: where no provider has a perfect record, the search stops as soon as the
  distance alone settles the top N.
* A provider based in a cell but live elsewhere costs one lookup there (it counts
  where it is).
* No I/O happens until the top N is known.
* Scores are the :class:`~geo.ranking.Scorer`'s, bit for bit, computed from the
  cached base; Decimal prices only when price is weighed against a reference, and
  for the final list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from geo.catalogue import Catalogue, ProviderEntry
from geo.distance import EARTH_RADIUS_KM, PositionSource, StraightLineSpeedModel, haversine_km
from geo.errors import InvalidQueryError
from geo.ranking import (
    DEFAULT_OPTIONS,
    CandidateFacts,
    Ceiling,
    ScoreOptions,
    Weights,
    price_of_job,
)
from geo.topn import RankedCandidate, RingGeometry, TopN, TopNResult

PARTNERS_CEILING = Ceiling(partnership=0.0)
"""Everyone not pinned is not this client's partner."""

LATITUDE_BAND_MARGIN = 1.001
"""Slack on the latitude band of :meth:`CatalogueSearch._pin` for rounding (a
partner inside the radius is never skipped; one just outside may be measured)."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A candidate search: where, which service, for which client, how far, how many."""

    lat: float
    lng: float
    service_type_id: int
    client_id: int | None
    radius_km: float
    n: int
    weights: Weights
    options: ScoreOptions = DEFAULT_OPTIONS
    trip_km: float = 0.0  # origin → destination, for the price of tows
    night_or_holiday: bool = False


LiveFix = tuple[float, float, int]
"""A live position: (lat, lng, when the server received it in ms since the epoch)."""


class LiveView(Protocol):
    """The live state a search reads, at one instant: each provider's latest position
    (fresh or not; the search tells) and the busy set."""

    @property
    def busy(self) -> Set[int]: ...

    @property
    def positions(self) -> Mapping[int, LiveFix]:
        """Each provider's latest position, fresh or not, by provider id: the same
        mapping at every read, in which a provider's received time never goes back
        (the catalogue keeps, per cell, who streams elsewhere on that promise)."""
        ...

    def in_cell(self, cell: str) -> Mapping[int, LiveFix]:
        """The providers whose latest position lies in ``cell`` (H3 hex at the
        search's resolution), with that position."""
        ...


class _Found(NamedTuple):
    """A candidate kept in the top N until its facts are built."""

    entry: ProviderEntry
    lat: float
    lng: float
    distance_km: float
    live: LiveFix | None
    busy: bool


class CatalogueSearch:
    """Exact top-N search over a catalogue and a live view; see the module.

    Raises :class:`~geo.errors.InvalidQueryError` on bad arguments,
    :class:`~geo.errors.InvalidCandidateError` when the live view puts a position in
    a cell it does not lie in.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        live: LiveView,
        query: SearchQuery,
        *,
        now_ms: int,
        fresh_ms: int,
        resolution: int,
        model: StraightLineSpeedModel | None = None,
    ) -> None:
        if fresh_ms <= 0:
            raise InvalidQueryError(f"fresh_ms must be > 0, not {fresh_ms}")
        self.query = query
        self.geometry = RingGeometry(query.lat, query.lng, resolution)
        self._topn = TopN(query.weights, query.radius_km, query.n, query.options)
        self._scorer = self._topn.scorer
        self._view = catalogue.view(query.service_type_id, self._scorer)
        self._live = live
        self._model = model or StraightLineSpeedModel()
        self.now_ms = now_ms
        self.min_received_ms = now_ms - fresh_ms + 1  # fresh: younger than fresh_ms
        self._partners = (
            {e.provider_id: e for e in catalogue.partners(query.client_id, query.service_type_id)}
            if query.client_id is not None
            else {}
        )
        self._cells = 0
        self._ran = False

    def run(self) -> TopNResult:
        """The exact top N, best first, priced; only once.

        Connectivity, ETA and the age of a stale position are the caller's to fill."""
        if self._ran:
            raise InvalidQueryError("a search runs once")
        self._ran = True
        self._pin()
        k = 0
        while True:
            self._read_ring(k)
            k += 1
            unseen_km = self.geometry.min_distance_km(k)
            if self._topn.settled_below(unseen_km, self._bound(unseen_km)):  # or beyond radius
                return self._result(k)

    def _bound(self, unseen_km: float) -> float:
        """The best score of a non-partner at least ``unseen_km`` away: under a perfect
        record, and under the network's best base (the score's own operations, in its
        order: monotone, so exact)."""
        scorer = self._scorer
        ceiling = scorer.bound(unseen_km, PARTNERS_CEILING)
        w = scorer.weights
        network = (self._view.best_base() + w[0] * scorer.distance_value(unseen_km)) + w[6] * 0.0
        return min(ceiling, network)

    def _fresh(self, provider_id: int) -> LiveFix | None:
        fix = self._live.positions.get(provider_id)
        return fix if fix is not None and fix[2] >= self.min_received_ms else None

    def _pin(self) -> None:
        """The partners, wherever they are (their base counts the partnership).

        A partner whose latitude alone puts it beyond the radius is skipped unmeasured:
        the great-circle distance is at least ``R × |Δlatitude|``, so a client with
        partners all over the country pays for the nearby ones only."""
        busy, q = self._live.busy, self.query
        band = math.degrees(q.radius_km / EARTH_RADIUS_KM) * LATITUDE_BAND_MARGIN
        for pid, entry in self._partners.items():
            fix = self._fresh(pid)
            lat, lng = (fix[0], fix[1]) if fix else (entry.lat, entry.lng)
            if abs(lat - q.lat) <= band:
                base = self._view.base(entry, partner=True)
                self._offer(entry, base, lat, lng, fix, pid in busy, 0.0)

    def _read_ring(self, k: int) -> None:
        at_least = self.geometry.min_distance_km(k)
        reach = self._scorer.weights[0] * self._scorer.distance_value(at_least)
        ring = self.geometry.ring(k)
        for cell in ring:
            self._read_live(cell, reach, at_least)
            self._read_based(cell, reach, at_least)
        self._cells += len(ring)

    def _read_live(self, cell: str, reach: float, at_least: float) -> None:
        """The fresh positions in ``cell`` of providers that could still enter."""
        members = self._live.in_cell(cell)
        if not members:
            return
        least, partners, busy = self.min_received_ms, self._partners, self._live.busy
        eligible, could_enter = self._view.eligible, self._topn.could_enter
        for pid, fix in members.items():
            if fix[2] < least or pid in partners:
                continue
            found = eligible(pid)
            if found is not None and could_enter(found[1] + reach):
                self._offer(found[0], found[1], fix[0], fix[1], fix, pid in busy, at_least)

    def _read_based(self, cell: str, reach: float, at_least: float) -> None:
        """The providers based in ``cell``, best first, with no fresh position (they
        count where their live position is), while they could still enter."""
        least = self.min_received_ms
        positions = self._live.positions
        bases, entries = self._view.unstreamed(cell, positions, least)
        partners, busy, position = self._partners, self._live.busy, positions.get
        could_enter = self._topn.could_enter
        for base, entry in zip(bases, entries, strict=True):
            # Bases come best first and the bar only rises: none after can enter.
            if not could_enter(base + reach):
                return
            pid = entry.provider_id
            fix = position(pid)  # a position may have come since the view was kept
            if (fix is not None and fix[2] >= least) or pid in partners:
                continue  # counted where it is, or pinned
            self._offer(entry, base, entry.lat, entry.lng, None, pid in busy, at_least)

    # -- scoring --------------------------------------------------------------------

    def _offer(
        self,
        entry: ProviderEntry,
        base: float,
        lat: float,
        lng: float,
        fix: LiveFix | None,
        busy: bool,
        at_least_km: float,
    ) -> None:
        """Score a non-partner from its cached base (the Scorer's sum, same order);
        nothing for a provider whose own working radius does not reach the origin."""
        q = self.query
        d = haversine_km(q.lat, q.lng, lat, lng)
        if not entry.reaches(d):
            return
        if self._scorer.constant_price_value is None:
            self._offer_full(entry, lat, lng, d, fix, busy, at_least_km)
            return
        w, topn = self._scorer.weights, self._topn
        score = (base + w[0] * self._scorer.distance_value(d)) + w[6] * (1.0 if busy else 0.0)
        if topn.could_enter(score):
            topn.offer(
                score, d, entry.provider_id, _Found(entry, lat, lng, d, fix, busy), at_least_km
            )
        else:
            topn.pass_over(entry.provider_id, d, at_least_km)

    def _offer_full(
        self,
        entry: ProviderEntry,
        lat: float,
        lng: float,
        d: float,
        fix: LiveFix | None,
        busy: bool,
        at_least_km: float,
    ) -> None:
        found = _Found(entry, lat, lng, d, fix, busy)
        score = self._scorer.total(self._facts(found, priced=True))
        self._topn.offer(score, d, entry.provider_id, found, at_least_km)

    def _facts(self, found: _Found, *, priced: bool) -> CandidateFacts:
        e, q = found.entry, self.query
        price = None
        if priced:
            row = e.services[q.service_type_id]
            road = self._model.road_km
            price = price_of_job(
                row, road(found.distance_km), road(q.trip_km), night_or_holiday=q.night_or_holiday
            )
        fix = found.live
        return CandidateFacts(
            provider_id=e.provider_id,
            distance_km=found.distance_km,
            on_time_rate=e.on_time_rate,
            acceptance_rate=e.acceptance_rate,
            preference=e.preference,
            partner=e.provider_id in self._partners,
            busy=found.busy,
            price=price,
            lat=found.lat,
            lng=found.lng,
            position_source=PositionSource.LIVE if fix else PositionSource.BASE,
            position_age_s=max(0, self.now_ms - fix[2]) / 1000 if fix else None,
            city=e.city,
            phone=e.phone,
            name=e.name,
        )

    def _result(self, rings: int) -> TopNResult:
        breakdown = self._scorer.breakdown
        ranked = []
        for found in self._topn.items():
            facts = self._facts(found, priced=True)
            ranked.append(RankedCandidate(facts, breakdown(facts)))
        topn = self._topn
        return TopNResult(tuple(ranked), rings, self._cells, topn.seen, topn.eligible)
