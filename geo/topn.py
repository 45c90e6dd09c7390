"""The exact top-N candidate search, expanding H3 rings with an upper bound (pure).

Scoring every provider in a 20 km radius is slow when thousands are inside it. But a
provider's score can only fall with distance, and every other factor is bounded (see
:mod:`geo.ranking`). So the search reads providers ring by ring of H3 cells around the
job's origin and stops as soon as the N-th best score so far beats the best score any
provider further out could reach: ``Scorer.bound(min distance of the next ring,
ceiling of the other factors)``. Nobody it did not read could have entered the top N:
the result is the same as scoring everyone (:func:`brute_force_top_n`).

Layers, from the inside out:

* :class:`TopN`: a sans-I/O accumulator. Feed it facts in any order; ask it whether
  the providers not yet fed, all at least some distance away, could still enter.
* :class:`RingGeometry`: a true lower bound on the distance from the origin to any
  point of H3 ring k (see :data:`EDGE_SAFETY`).
* :class:`RingSearch`: the sans-I/O driver. It hands out batches of cells; the
  caller's source answers with the facts of the providers whose counted position
  lies in those cells; it says when to stop.
* :func:`top_n`: the same loop for a synchronous source (tests, in-memory indexes).

An async source drives :class:`RingSearch` itself::

    search = RingSearch(lat, lng, weights=w, radius_km=20.0, n=20)
    while (batch := search.next_batch(max_rings=2)) is not None:
        search.feed(batch, await source.facts_in(batch.cells))
    result = search.result()

The source's contract: each provider at most once, in the cell (at
``batch.resolution``) of the position it counts for the search (live if fresh, else
its base), with ``distance_km`` measured from the origin to that same position by
:func:`geo.distance.haversine_km`; only active providers that serve the service type.
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import h3

from geo.distance import SpeedModel, haversine_km
from geo.errors import InvalidCandidateError, InvalidQueryError
from geo.ranking import (
    DEFAULT_OPTIONS,
    NO_CEILING,
    CandidateFacts,
    Ceiling,
    ScoreBreakdown,
    ScoreOptions,
    Scorer,
    Weights,
)

DEFAULT_RESOLUTION = 8
"""H3 resolution of the rings, that of providers' bases (``registry.cells``). Measured
(docs/geo.md): res 7 reads 55 % more providers, res 9 six times the cells."""

EDGE_SAFETY = 0.9
"""Share of the regular-hexagon distance that :class:`RingGeometry` claims.

In a regular hexagonal grid of edge ``e``, every point of ring k+1 is at least
``e × (1.5 k + 0.5)`` from the origin cell's centre. H3 cells are slightly
distorted: sampling the whole globe at resolutions 7 to 9 (pentagons and icosahedron
edges included, rings up to 150) the true distance never fell below 0.97 of that
figure taken with the origin cell's shortest edge. 0.9 keeps a margin for what the
sampling missed and for sources measuring on the ellipsoid (up to 0.6 % apart)."""

MAX_RESOLUTION = 15


@dataclass(frozen=True, slots=True)
class RankedCandidate:
    """A candidate of the final list with its score breakdown."""

    facts: CandidateFacts
    breakdown: ScoreBreakdown

    @property
    def score(self) -> float:
        return self.breakdown.total


def rank_key(candidate: RankedCandidate) -> tuple[float, float, int]:
    """The ranking order: score descending, then distance, then provider id."""
    return (-candidate.score, candidate.facts.distance_km, candidate.facts.provider_id)


class TopN:
    """Keeps the N best candidates fed so far (sans-I/O).

    Candidates beyond ``radius_km`` are dropped; exactly on it they count. Raises
    :class:`~geo.errors.InvalidCandidateError` when a provider is fed twice or its
    facts are out of range, :class:`~geo.errors.InvalidQueryError` on a bad argument.

    :meth:`add` scores facts; :meth:`offer` takes a score computed elsewhere (by the
    same :class:`~geo.ranking.Scorer`, in the same order) with any item to keep.
    """

    __slots__ = ("_heap", "_ids", "_scorer", "eligible", "n")

    def __init__(
        self,
        weights: Weights,
        radius_km: float,
        n: int,
        options: ScoreOptions = DEFAULT_OPTIONS,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidQueryError(f"n must be an integer >= 1, not {n!r}")
        self.n = n
        self._scorer = Scorer(weights, radius_km, options)
        # Min-heap of the best n as (score, -distance, -id, item): its root is the
        # N-th best. Ids are unique, so items are never compared.
        self._heap: list[tuple[float, float, int, Any]] = []
        self._ids: set[int] = set()
        self.eligible = 0

    @property
    def scorer(self) -> Scorer:
        return self._scorer

    @property
    def seen(self) -> int:
        """How many providers were fed, within the radius or not."""
        return len(self._ids)

    def add(self, facts: Iterable[CandidateFacts], *, at_least_km: float = 0.0) -> None:
        """Feed candidates, in any order.

        ``at_least_km`` is the distance the source promised these providers are not
        closer than (the bound that earlier stop decisions relied on); a provider
        closer than that is refused, for its place in the search was wrong.
        """
        total, radius = self._scorer.total, self._scorer.radius_km
        for f in facts:
            self._check(f.provider_id, f.distance_km, at_least_km)
            if f.distance_km <= radius:
                self._push(total(f), f.distance_km, f.provider_id, f)

    def offer(
        self, score: float, distance_km: float, provider_id: int, item: Any, at_least_km: float
    ) -> None:
        """Feed one candidate already scored; ``item`` comes back from :meth:`items`."""
        self._check(provider_id, distance_km, at_least_km)
        if distance_km <= self._scorer.radius_km:
            self._push(score, distance_km, provider_id, item)

    def pass_over(self, provider_id: int, distance_km: float, at_least_km: float) -> None:
        """Feed one candidate that cannot enter (:meth:`could_enter` said so of its
        score): checked and counted as :meth:`offer` would, nothing kept."""
        self._check(provider_id, distance_km, at_least_km)
        if distance_km <= self._scorer.radius_km:
            self.eligible += 1

    def _check(self, provider_id: int, distance_km: float, at_least_km: float) -> None:
        if provider_id in self._ids:
            raise InvalidCandidateError("provider fed twice", provider_id)
        self._ids.add(provider_id)
        if not distance_km >= at_least_km:  # also refuses NaN
            raise InvalidCandidateError(
                f"distance_km {distance_km} is not a number >= {at_least_km}, the "
                "least its cells allow: counted in a cell its position is not in?",
                provider_id,
            )

    def _push(self, score: float, distance_km: float, provider_id: int, item: Any) -> None:
        self.eligible += 1
        heap = self._heap
        entry = (score, -distance_km, -provider_id, item)
        if len(heap) < self.n:
            heapq.heappush(heap, entry)
        elif entry[:3] > heap[0][:3]:
            heapq.heapreplace(heap, entry)

    def could_enter(self, score_bound: float) -> bool:
        """Whether a candidate scoring at most ``score_bound`` could still enter (a
        tie with the N-th best could, if it were closer)."""
        heap = self._heap
        return len(heap) < self.n or score_bound >= heap[0][0]

    @property
    def threshold(self) -> float | None:
        """The N-th best score so far (None until N are eligible): a provider whose
        score is surely below it cannot enter, so a source may skip building it."""
        return self._heap[0][0] if len(self._heap) == self.n else None

    def settled(self, unseen_min_distance_km: float, ceiling: Ceiling = NO_CEILING) -> bool:
        """Whether no provider not yet fed can enter the top N, given that all of them
        are at least ``unseen_min_distance_km`` away and under ``ceiling``."""
        if unseen_min_distance_km > self._scorer.radius_km:
            return True
        return self.settled_below(
            unseen_min_distance_km, self._scorer.bound(unseen_min_distance_km, ceiling)
        )

    def settled_below(self, unseen_min_distance_km: float, bound: float) -> bool:
        """Whether no provider not yet fed can enter, given that all of them are at
        least ``unseen_min_distance_km`` away and score at most ``bound``."""
        if unseen_min_distance_km > self._scorer.radius_km:
            return True
        if len(self._heap) < self.n:
            return False
        worst_score, neg_distance, _, _ = self._heap[0]
        # An unseen provider scores <= bound and lies >= unseen_min_distance_km away:
        # on a tied score it loses only if it is strictly further.
        return worst_score > bound or (
            worst_score == bound and -neg_distance < unseen_min_distance_km
        )

    def items(self) -> list[Any]:
        """The items of the best N so far, best first."""
        return [e[3] for e in sorted(self._heap, key=lambda e: (-e[0], -e[1], -e[2]))]

    def ranked(self) -> tuple[RankedCandidate, ...]:
        """The best N so far (fewer if fewer were eligible), best first; only when
        every item is a :class:`~geo.ranking.CandidateFacts` (fed by :meth:`add`)."""
        breakdown = self._scorer.breakdown
        return tuple(RankedCandidate(f, breakdown(f)) for f in self.items())


class RingGeometry:
    """Lower bounds on the distance from a point to H3 rings around its cell.

    Every point of a cell at grid distance k >= 1 from the origin cell is at least
    ``EDGE_SAFETY × e × (1.5 k - 1) - offset`` km away, where ``e`` is the origin
    cell's shortest edge and ``offset`` the point's distance to the cell's centre.
    """

    __slots__ = ("_offset", "_step", "origin", "resolution")

    def __init__(self, lat: float, lng: float, resolution: int = DEFAULT_RESOLUTION) -> None:
        _check_point(lat, lng)
        if isinstance(resolution, bool) or resolution not in range(MAX_RESOLUTION + 1):
            raise InvalidQueryError(f"resolution must be 0..15, not {resolution!r}")
        self.resolution = resolution
        self.origin: str = h3.latlng_to_cell(lat, lng, resolution)
        edges = h3.origin_to_directed_edges(self.origin)
        edge_km: float = min(h3.edge_length(e, "km") for e in edges)
        self._step = EDGE_SAFETY * edge_km
        self._offset = haversine_km(lat, lng, *h3.cell_to_latlng(self.origin))

    def min_distance_km(self, k: int) -> float:
        """A distance no point of ring ``k`` is closer than (0 for the origin cell)."""
        if k <= 0:
            return 0.0
        return max(0.0, self._step * (1.5 * k - 1.0) - self._offset)

    def ring(self, k: int) -> list[str]:
        """The cells of ring ``k`` (the origin cell for k = 0)."""
        return [self.origin] if k == 0 else list(h3.grid_ring(self.origin, k))


def _check_point(lat: float, lng: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidQueryError(f"not a WGS 84 point: ({lat}, {lng})")


@dataclass(frozen=True, slots=True)
class RingBatch:
    """Rings ``first_ring..last_ring`` (inclusive) and their cells, H3 hex strings at
    ``resolution``."""

    first_ring: int
    last_ring: int
    resolution: int
    cells: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TopNResult:
    """The exact top N and what it took: rings and cells handed to the source,
    providers fed (``seen``) and of those within the radius (``eligible``)."""

    candidates: tuple[RankedCandidate, ...]
    rings: int
    cells: int
    seen: int
    eligible: int


class SearchState(enum.Enum):
    """Where a :class:`RingSearch` stands; calls out of turn raise."""

    READY = "ready"  # next_batch() may be called
    AWAITING_FACTS = "awaiting_facts"  # a batch is out; feed() it
    DONE = "done"  # result() is exact


class RingSearch:
    """Exact top-N search by expanding H3 rings (sans-I/O); see the module docstring.

    ``ceiling`` bounds the factors of every provider (default: all at 1). Raises
    :class:`~geo.errors.InvalidQueryError` on bad arguments or calls out of order.
    """

    def __init__(
        self,
        lat: float,
        lng: float,
        *,
        weights: Weights,
        radius_km: float,
        n: int,
        options: ScoreOptions = DEFAULT_OPTIONS,
        resolution: int = DEFAULT_RESOLUTION,
        ceiling: Ceiling = NO_CEILING,
    ) -> None:
        self.geometry = RingGeometry(lat, lng, resolution)
        self._topn = TopN(weights, radius_km, n, options)
        self._radius_km = radius_km
        self._ceiling = ceiling
        self._next_ring = 0
        self._cells = 0
        self._pending: RingBatch | None = None
        self._pinned: set[int] = set()
        self.state = SearchState.READY

    def pin(self, facts: Iterable[CandidateFacts]) -> None:
        """Feed providers ahead of the rings, wherever they are.

        For the providers that ``ceiling`` does not hold for, so that it can be
        tight for the others: e.g. pin the client's partners within the radius and
        pass ``Ceiling(partnership=0.0)``. Batches may deliver them again; they are
        skipped. Only before the first batch.
        """
        if self.state is not SearchState.READY or self._next_ring != 0:
            raise InvalidQueryError("pin() only before the first batch")
        facts = list(facts)
        self._topn.add(facts)
        self._pinned.update(f.provider_id for f in facts)

    def next_batch(self, max_rings: int = 1) -> RingBatch | None:
        """The next rings to read (at most ``max_rings``, none wholly beyond the
        radius), or None when the result is final."""
        if self.state is SearchState.DONE:
            return None
        if self.state is SearchState.AWAITING_FACTS:
            raise InvalidQueryError("feed() the previous batch before asking for another")
        if isinstance(max_rings, bool) or not isinstance(max_rings, int) or max_rings < 1:
            raise InvalidQueryError(f"max_rings must be an integer >= 1, not {max_rings!r}")
        first = self._next_ring
        last = first
        while last - first + 1 < max_rings and self._reachable(last + 1):
            last += 1
        cells = tuple(c for k in range(first, last + 1) for c in self.geometry.ring(k))
        self._pending = RingBatch(first, last, self.geometry.resolution, cells)
        self.state = SearchState.AWAITING_FACTS
        return self._pending

    @property
    def threshold(self) -> float | None:
        """See :attr:`TopN.threshold`."""
        return self._topn.threshold

    def _reachable(self, k: int) -> bool:
        return self.geometry.min_distance_km(k) <= self._radius_km

    def feed(
        self,
        batch: RingBatch,
        facts: Iterable[CandidateFacts],
        *,
        ceiling_beyond: Ceiling | None = None,
    ) -> None:
        """The facts of the providers in ``batch``'s cells.

        ``ceiling_beyond`` may tighten the ceiling for the providers in rings after
        this batch (it must hold for all of them).
        """
        if self.state is not SearchState.AWAITING_FACTS or batch is not self._pending:
            raise InvalidQueryError("feed() takes the batch next_batch() returned last")
        if self._pinned:
            facts = [f for f in facts if f.provider_id not in self._pinned]
        self._topn.add(facts, at_least_km=self.geometry.min_distance_km(batch.first_ring))
        self._cells += len(batch.cells)
        self._next_ring = batch.last_ring + 1
        self._pending = None
        ceiling = self._ceiling if ceiling_beyond is None else _lower(self._ceiling, ceiling_beyond)
        unseen_km = self.geometry.min_distance_km(self._next_ring)
        settled = self._topn.settled(unseen_km, ceiling)
        self.state = SearchState.DONE if settled else SearchState.READY

    def result(self) -> TopNResult:
        """The exact top N, best first; only once the search is done."""
        if self.state is not SearchState.DONE:
            raise InvalidQueryError("the search is not done yet")
        topn = self._topn
        return TopNResult(topn.ranked(), self._next_ring, self._cells, topn.seen, topn.eligible)


def _lower(a: Ceiling, b: Ceiling) -> Ceiling:
    return Ceiling(
        min(a.on_time_rate, b.on_time_rate),
        min(a.acceptance_rate, b.acceptance_rate),
        min(a.preference, b.preference),
        min(a.partnership, b.partnership),
        min(a.price, b.price),
    )


CellSource = Callable[[Sequence[str]], Iterable[CandidateFacts]]
"""A synchronous source: the facts of the providers counted in the given cells."""


def top_n(
    lat: float,
    lng: float,
    source: CellSource,
    *,
    weights: Weights,
    radius_km: float,
    n: int,
    options: ScoreOptions = DEFAULT_OPTIONS,
    resolution: int = DEFAULT_RESOLUTION,
    ceiling: Ceiling = NO_CEILING,
    rings_per_batch: int = 1,
    pinned: Iterable[CandidateFacts] = (),
) -> TopNResult:
    """The exact top ``n`` providers within ``radius_km`` of (lat, lng), reading a
    synchronous ``source`` ring by ring after the ``pinned`` providers; see
    :class:`RingSearch`."""
    search = RingSearch(
        lat,
        lng,
        weights=weights,
        radius_km=radius_km,
        n=n,
        options=options,
        resolution=resolution,
        ceiling=ceiling,
    )
    search.pin(pinned)
    while (batch := search.next_batch(rings_per_batch)) is not None:
        search.feed(batch, source(batch.cells))
    return search.result()


def brute_force_top_n(
    all_facts: Iterable[CandidateFacts],
    weights: Weights,
    radius_km: float,
    n: int,
    options: ScoreOptions = DEFAULT_OPTIONS,
) -> tuple[RankedCandidate, ...]:
    """The reference: score everyone within ``radius_km``, sort, keep ``n``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidQueryError(f"n must be an integer >= 1, not {n!r}")
    scorer = Scorer(weights, radius_km, options)
    ranked = [
        RankedCandidate(f, scorer.breakdown(f)) for f in all_facts if f.distance_km <= radius_km
    ]
    return tuple(sorted(ranked, key=rank_key)[:n])


def fill_eta(
    candidates: Iterable[RankedCandidate], model: SpeedModel, *, at: datetime | None = None
) -> tuple[RankedCandidate, ...]:
    """The candidates with ``facts.eta_minutes`` estimated by ``model``."""
    return tuple(
        replace(
            c, facts=c.facts._replace(eta_minutes=model.eta_minutes(c.facts.distance_km, at=at))
        )
        for c in candidates
    )
