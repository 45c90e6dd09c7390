"""The provider catalogue: the static facts candidate search needs, in memory (pure).

One per server process. It holds, for every provider, what changes only when the
registry is edited: base position and its H3 cell, status, services with their
price rows, rates, preference, partner clients, city, phone and name. Live positions
and the busy flag are not here: they come from the live store at each search.

Indexes: the active providers serving a service type, by the H3 cell of their base
(at :data:`~geo.topn.DEFAULT_RESOLUTION`), and the providers of each client's
partnerships. :meth:`Catalogue.replace` applies the registry's changes for some
providers (the async edge in :mod:`geo.source` reads them from PostgreSQL).

:class:`CellView` caches, for one service type and one weight set, each cell's
providers sorted by the best score they could reach before distance, so that the
search reads a cell's providers best first and stops at the first one that cannot
enter (docs/geo.md, "The catalogue").
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from geo.ranking import PriceTableRow, ScoreOptions, Scorer, Weights
from registry.enums import Channel

MAX_VIEWS = 16
"""(Service type, weight set) pairs whose sorted cells are cached at once (least
recently used dropped). Each costs up to ~40 bytes a provider of its service type
once every cell was sorted, and up to ~16 more for the cells searches read
(:meth:`CellView.unstreamed`)."""
WARM_SERVICE_TYPES = 8
"""Service types (the most served first) whose every cell :meth:`Catalogue.warm`
sorts ahead for a weight set; the others, and other weight sets, sort on first use."""
WARM_CHUNK = 200
"""Cells sorted between two yields while a catalogue is prepared (:meth:`Catalogue.warm`,
:meth:`Catalogue.adopt_views`): ~3 ms of work at most."""


class ProviderEntry(NamedTuple):
    """A provider's static facts, as candidate search needs them.

    ``cell`` is the H3 cell (hex) of the base at the catalogue's resolution;
    ``services`` maps a service type id to its price row; ``partners`` are the ids of
    the clients it is a partner of; ``working_radius_km`` is how far it goes for a
    job, measured as the search measures it, from where it counts (its fresh live
    position, else its base); None: as far as the search looks. ``channels``,
    ``email`` and ``whatsapp`` say how an offer can reach it (the candidate list's
    dispatch buttons).
    """

    provider_id: int
    lat: float
    lng: float
    cell: str
    active: bool
    on_time_rate: float | None
    acceptance_rate: float | None
    preference: int
    services: Mapping[int, PriceTableRow]
    partners: frozenset[int]
    city: str | None = None
    phone: str | None = None
    name: str | None = None
    working_radius_km: float | None = None
    channels: tuple[Channel, ...] = ()
    email: str | None = None
    whatsapp: str | None = None

    def reaches(self, distance_km: float) -> bool:
        """Whether a job ``distance_km`` away is within the provider's own working
        radius (always, without one)."""
        radius = self.working_radius_km
        return radius is None or distance_km <= radius


_ViewKey = tuple[int, tuple[float, ...], float, float, float]

_NEVER_MS = 2**62
"""Later than any received time: a cell with nobody left out is kept until its
providers change."""


class _Unstreamed(NamedTuple):
    """A cell's based providers without a fresh position, as of one search."""

    ranked: tuple[list[float], list[ProviderEntry]]
    positions: Mapping[int, tuple[float, float, int]]
    fresh_until_ms: int
    bases: list[float]
    entries: list[ProviderEntry]


class CellView:
    """One service type's providers per cell, best possible score first, under one
    weight set and scoring options.

    ``base(entry)`` is ``(record + w_partner × 0) + w_price × price`` with ``price``
    the value every provider gets (no reference) or 1 (its ceiling): a free
    non-partner's total is ``base + w_distance × distance`` exactly when the price is
    constant, and at most that otherwise.
    """

    __slots__ = (
        "_best",
        "_by_id",
        "_catalogue",
        "_cells",
        "_scorer",
        "_service_type_id",
        "_unstreamed",
        "price_ceiling",
    )

    def __init__(self, catalogue: Catalogue, service_type_id: int, scorer: Scorer) -> None:
        self._catalogue = catalogue
        self._service_type_id = service_type_id
        self._scorer = scorer
        constant = scorer.constant_price_value
        self.price_ceiling = 1.0 if constant is None else constant
        self._cells: dict[str, tuple[list[float], list[ProviderEntry]]] = {}
        self._by_id: dict[int, tuple[ProviderEntry, float] | None] = {}
        self._best: float | None = None
        self._unstreamed: dict[str, _Unstreamed] = {}

    @property
    def best_known(self) -> bool:
        """Whether :meth:`best_base` is ready (no cell left to sort for it)."""
        return self._best is not None

    def best_base(self) -> float:
        """At least the base of every provider in the view (``-inf`` with none): the
        best base, or more once a provider that held it changed (a loose bound is
        still a bound). The first call sorts every cell of the service type that is
        not sorted yet (:meth:`prepare` does it in steps)."""
        if self._best is None:
            for _ in self.prepare():
                pass
        assert self._best is not None
        return self._best

    def prepare(self) -> Iterator[None]:
        """Sort every cell of the service type and find :meth:`best_base`, yielding
        every :data:`WARM_CHUNK` cells."""
        best = -math.inf
        for i, cell in enumerate(self._catalogue.cells_of(self._service_type_id), start=1):
            bases = self.ranked(cell)[0]
            if bases and bases[0] > best:
                best = bases[0]
            if i % WARM_CHUNK == 0:
                yield
        self._best = best

    def base(self, entry: ProviderEntry, *, partner: bool = False) -> float:
        """The best score ``entry`` could reach before distance; see the class."""
        w = self._scorer.weights
        record = self._scorer.record_of(entry.on_time_rate, entry.acceptance_rate, entry.preference)
        return (record + w[4] * (1.0 if partner else 0.0)) + w[5] * self.price_ceiling

    def eligible(self, provider_id: int) -> tuple[ProviderEntry, float] | None:
        """The provider and its base (as a non-partner) if it is active and serves
        the view's service type, else None."""
        try:
            return self._by_id[provider_id]
        except KeyError:
            entry = self._catalogue.eligible(provider_id, self._service_type_id)
            found = None if entry is None else (entry, self.base(entry))
            self._by_id[provider_id] = found
            return found

    def ranked(self, cell: str) -> tuple[list[float], list[ProviderEntry]]:
        """The providers based in ``cell`` and their bases, best base first."""
        cached = self._cells.get(cell)
        if cached is None:
            entries = self._catalogue.based_in(self._service_type_id, cell)
            pairs = sorted(((self.base(e), e) for e in entries), key=lambda p: -p[0])
            cached = ([b for b, _ in pairs], [e for _, e in pairs])
            self._cells[cell] = cached
        return cached

    def unstreamed(
        self, cell: str, positions: Mapping[int, tuple[float, float, int]], least_ms: int
    ) -> tuple[list[float], list[ProviderEntry]]:
        """:meth:`ranked` without the providers whose position in ``positions`` was
        received at ``least_ms`` or later (they count where they are, not at their
        base), best base first.

        Kept per cell for later searches over the same ``positions`` (a live view's
        own mapping, whose received times never go back): it holds while every
        provider left out is still fresh, that is until ``least_ms`` passes the
        oldest of their received times. A cell whose trucks all stream elsewhere
        (a yard) is then not walked at each search."""
        ranked = self.ranked(cell)
        kept = self._unstreamed.get(cell)
        if (
            kept is not None
            and kept.ranked is ranked
            and kept.positions is positions
            and least_ms <= kept.fresh_until_ms
        ):
            return kept.bases, kept.entries
        bases: list[float] = []
        entries: list[ProviderEntry] = []
        oldest_left_out = _NEVER_MS
        for base, entry in zip(*ranked, strict=True):
            fix = positions.get(entry.provider_id)
            if fix is not None and fix[2] >= least_ms:
                oldest_left_out = min(oldest_left_out, fix[2])
            else:
                bases.append(base)
                entries.append(entry)
        self._unstreamed[cell] = _Unstreamed(ranked, positions, oldest_left_out, bases, entries)
        return bases, entries

    @property
    def scorer(self) -> Scorer:
        return self._scorer

    @property
    def service_type_id(self) -> int:
        return self._service_type_id

    def sorted_cells(self) -> list[str]:
        """The cells sorted so far (those searches have read)."""
        return list(self._cells)

    def forget(self, cells: Iterable[str], provider_ids: Iterable[int]) -> None:
        """These cells and providers changed in the catalogue: sort them again on
        use, and raise :meth:`best_base` to their new bases."""
        for cell in cells:
            self._cells.pop(cell, None)
            self._unstreamed.pop(cell, None)
        for pid in provider_ids:
            self._by_id.pop(pid, None)
            if self._best is not None:
                entry = self._catalogue.eligible(pid, self._service_type_id)
                if entry is not None:
                    self._best = max(self._best, self.base(entry))


class Catalogue:
    """Every provider's static facts, indexed for candidate search; see the module."""

    def __init__(self, entries: Iterable[ProviderEntry] = ()) -> None:
        self._entries: dict[int, ProviderEntry] = {}
        self._cells: dict[tuple[int, str], list[ProviderEntry]] = {}
        self._partners: dict[int, set[int]] = {}
        self._views: OrderedDict[_ViewKey, CellView] = OrderedDict()
        self.version = 0
        entries = list(entries)
        self.replace([e.provider_id for e in entries], entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, provider_id: int) -> ProviderEntry | None:
        return self._entries.get(provider_id)

    def eligible(self, provider_id: int, service_type_id: int) -> ProviderEntry | None:
        """The provider if it is active and serves the service type, else None."""
        entry = self._entries.get(provider_id)
        if entry is None or not entry.active or service_type_id not in entry.services:
            return None
        return entry

    def cells_of(self, service_type_id: int) -> list[str]:
        """The cells where active providers of the service type are based."""
        return [cell for st, cell in self._cells if st == service_type_id]

    def based_in(self, service_type_id: int, cell: str) -> Sequence[ProviderEntry]:
        """The active providers serving the service type whose base is in ``cell``."""
        return self._cells.get((service_type_id, cell), ())

    def partners(self, client_id: int, service_type_id: int) -> list[ProviderEntry]:
        """The client's partners that are active and serve the service type."""
        return sorted(
            self._partners_serving(client_id, service_type_id), key=lambda e: e.provider_id
        )

    def has_partner(self, client_id: int, service_type_id: int) -> bool:
        """Whether any of the client's partners is active and serves the service type."""
        return next(self._partners_serving(client_id, service_type_id), None) is not None

    def _partners_serving(self, client_id: int, service_type_id: int) -> Iterator[ProviderEntry]:
        found = (self.eligible(pid, service_type_id) for pid in self._partners.get(client_id, ()))
        return (e for e in found if e is not None)

    def replace(self, provider_ids: Iterable[int], entries: Iterable[ProviderEntry]) -> None:
        """The current state of ``provider_ids``: those in ``entries`` are (re)placed,
        the others are gone (deleted)."""
        fresh = {e.provider_id: e for e in entries}
        touched: set[tuple[int, str]] = set()
        ids = set(provider_ids) | set(fresh)
        for pid in ids:
            old = self._entries.pop(pid, None)
            if old is not None:
                touched |= self._unindex(old)
            new = fresh.get(pid)
            if new is not None:
                self._entries[pid] = new
                touched |= self._index(new)
        self.version += 1
        for key, view in self._views.items():
            view.forget((cell for st, cell in touched if st == key[0]), ids)

    def _keys(self, entry: ProviderEntry) -> set[tuple[int, str]]:
        return {(st, entry.cell) for st in entry.services} if entry.active else set()

    def _index(self, entry: ProviderEntry) -> set[tuple[int, str]]:
        keys = self._keys(entry)
        for key in keys:
            self._cells.setdefault(key, []).append(entry)
        for client_id in entry.partners:
            self._partners.setdefault(client_id, set()).add(entry.provider_id)
        return keys

    def _unindex(self, entry: ProviderEntry) -> set[tuple[int, str]]:
        keys = self._keys(entry)
        for key in keys:
            # A new list, not an edit: a search iterating the old one is unaffected.
            kept = [e for e in self._cells[key] if e.provider_id != entry.provider_id]
            if kept:
                self._cells[key] = kept
            else:
                del self._cells[key]
        for client_id in entry.partners:
            ids = self._partners[client_id]
            ids.discard(entry.provider_id)
            if not ids:
                del self._partners[client_id]
        return keys

    def adopt_views(self, previous: Catalogue) -> Iterator[None]:
        """Recreate ``previous``'s cached views here, with the cells they had sorted
        sorted again, yielding every :data:`WARM_CHUNK` cells (an async caller lets
        searches run in between). After a reload, searches then find the cells of
        the areas they use sorted, as before it."""
        for view in list(previous._views.values()):
            mine = self.view(view.service_type_id, view.scorer)
            for i, cell in enumerate(view.sorted_cells(), start=1):
                mine.ranked(cell)
                if i % WARM_CHUNK == 0:
                    yield
            if view.best_known:  # the cells sorted just now cost nothing again
                yield from mine.prepare()

    def service_types(self) -> list[int]:
        """The service types of the active providers, the most served first."""
        counts: Counter[int] = Counter()
        for (service_type_id, _), entries in self._cells.items():
            counts[service_type_id] += len(entries)
        return [service_type_id for service_type_id, _ in counts.most_common()]

    def warm(self, weights: Weights, options: ScoreOptions) -> Iterator[None]:
        """Sort every cell for this weight set and the :data:`WARM_SERVICE_TYPES` most
        served service types, yielding every :data:`WARM_CHUNK` cells: the first search
        in an area then finds its cells sorted (~1.3 µs a provider)."""
        scorer = Scorer(weights, 1.0, options)  # the radius does not enter a base
        for service_type_id in self.service_types()[:WARM_SERVICE_TYPES]:
            yield from self.view(service_type_id, scorer).prepare()

    def view(self, service_type_id: int, scorer: Scorer) -> CellView:
        """The cached :class:`CellView` for this service type and scorer's weights."""
        o = scorer.options
        constant = scorer.constant_price_value
        key: _ViewKey = (
            service_type_id,
            scorer.weights,
            o.on_time_prior,
            o.acceptance_prior,
            -1.0 if constant is None else constant,
        )
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = CellView(self, service_type_id, scorer)
            while len(self._views) > MAX_VIEWS:
                self._views.popitem(last=False)
        self._views.move_to_end(key)
        return view
