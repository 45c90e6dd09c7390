"""Candidate search on the real data: the catalogue loaded from PostgreSQL, kept
current, and the live store (positions and busy flags in Redis) read once a batch.

* :func:`load_catalogue` / :func:`load_entries`: the providers' static facts.
* :class:`CatalogueKeeper`: one catalogue per process, loaded on first use, with the
  providers invalidated by registry writes (on this node at commit, on the others
  through the bus) reread before the next search, and a full reload every
  ``reload_s`` as a safety net.
* :func:`find_candidates`: runs :class:`~geo.search.CatalogueSearch` on the node's
  live mirror, then fills connectivity (one Redis round trip), ETA and position age
  for the final list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, Protocol

import h3
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.catalogue import Catalogue, ProviderEntry
from geo.distance import StraightLineSpeedModel
from geo.errors import InvalidQueryError
from geo.ranking import CandidateFacts, PriceTableRow, ScoreOptions, Weights
from geo.search import CatalogueSearch, LiveView, SearchQuery
from geo.topn import DEFAULT_RESOLUTION, RankedCandidate, TopNResult, fill_eta
from realtime.presence import Connectivity
from realtime.tasks import owned_task
from registry.enums import ProviderStatus
from registry.models import Provider, ProviderPartnership, ProviderService

log = logging.getLogger("acionar.geo")

RESOLUTION = DEFAULT_RESOLUTION  # of the catalogue's cells and of the live view's
MAX_DIRTY = 2_000
"""Invalidated providers reread one by one before a search; beyond, a full reload."""
LOAD_CHUNK = 5_000
"""Provider ids per query when rereading invalidated providers."""


class Presence(Protocol):
    """How providers can be reached (realtime.store.LiveStore has it)."""

    async def connectivity(self, provider_ids: Sequence[int]) -> Mapping[int, Connectivity]: ...


# -- loading --------------------------------------------------------------------------


def _providers() -> Select[*tuple[Any, ...]]:
    return select(
        Provider.id,
        func.ST_Y(func.geometry(Provider.base_location)).label("lat"),
        func.ST_X(func.geometry(Provider.base_location)).label("lng"),
        Provider.status,
        Provider.on_time_rate,
        Provider.acceptance_rate,
        Provider.preference,
        Provider.city,
        Provider.phone,
        Provider.name,
        Provider.working_radius_km,
        Provider.channels,
        Provider.email,
        Provider.whatsapp,
    )


def _services() -> Select[*tuple[Any, ...]]:
    return select(
        ProviderService.provider_id,
        ProviderService.service_type_id,
        ProviderService.departure_fee,
        ProviderService.included_km,
        ProviderService.price_per_km,
        ProviderService.night_holiday_surcharge_pct,
    )


def _partnerships() -> Select[*tuple[Any, ...]]:
    return select(ProviderPartnership.provider_id, ProviderPartnership.client_id)


def _rate(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _entries(
    providers: Iterable[Any], services: Iterable[Any], partnerships: Iterable[Any]
) -> list[ProviderEntry]:
    prices: dict[int, dict[int, PriceTableRow]] = {}
    for s in services:
        prices.setdefault(s.provider_id, {})[s.service_type_id] = PriceTableRow(
            s.departure_fee, s.included_km, s.price_per_km, s.night_holiday_surcharge_pct
        )
    partners: dict[int, set[int]] = {}
    for provider_id, client_id in partnerships:
        partners.setdefault(provider_id, set()).add(client_id)
    return [
        ProviderEntry(
            provider_id=p.id,
            lat=p.lat,
            lng=p.lng,
            cell=h3.latlng_to_cell(p.lat, p.lng, RESOLUTION),
            active=p.status == ProviderStatus.ACTIVE,
            on_time_rate=_rate(p.on_time_rate),
            acceptance_rate=_rate(p.acceptance_rate),
            preference=p.preference,
            services=prices.get(p.id, {}),
            partners=frozenset(partners.get(p.id, ())),
            city=p.city,
            phone=p.phone,
            name=p.name,
            working_radius_km=p.working_radius_km,
            channels=tuple(p.channels),
            email=p.email,
            whatsapp=p.whatsapp,
        )
        for p in providers
    ]


async def load_catalogue(session: AsyncSession) -> Catalogue:
    """Every provider's static facts, read from PostgreSQL."""
    providers = (await session.execute(_providers())).all()
    services = (await session.execute(_services())).all()
    partnerships = (await session.execute(_partnerships())).all()
    return Catalogue(_entries(providers, services, partnerships))


async def load_entries(session: AsyncSession, provider_ids: Sequence[int]) -> list[ProviderEntry]:
    """The static facts of these providers (the deleted ones are absent)."""
    found: list[ProviderEntry] = []
    for i in range(0, len(provider_ids), LOAD_CHUNK):
        ids = provider_ids[i : i + LOAD_CHUNK]
        providers = (await session.execute(_providers().where(Provider.id.in_(ids)))).all()
        services = await session.execute(_services().where(ProviderService.provider_id.in_(ids)))
        partnerships = await session.execute(
            _partnerships().where(ProviderPartnership.provider_id.in_(ids))
        )
        found += _entries(providers, services.all(), partnerships.all())
    return found


class CatalogueKeeper:
    """This process's catalogue, kept current; see the module docstring.

    :meth:`invalidate` is synchronous so that a commit hook can call it before the
    request that wrote answers: the next search on this node rereads those providers.
    A reload reads PostgreSQL without holding up searches, which use the previous
    catalogue meanwhile; invalidations that arrive during it are applied after it.
    Before a loaded catalogue is used, the cells of ``warm`` weight sets (the
    defaults) and of the views the previous catalogue had are sorted.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        reload_s: float,
        warm: Sequence[tuple[Weights, ScoreOptions]] = (),
    ) -> None:
        if not reload_s > 0:
            raise InvalidQueryError(f"reload_s must be > 0, not {reload_s}")
        self._sessions = sessions
        self._warm = tuple(warm)
        self.reload_s = reload_s
        self._catalogue: Catalogue | None = None
        self._dirty: set[int] = set()
        self._during_load: set[int] | None = None
        self._generation = 0  # bumped by invalidate_all(): a load begun before is stale
        self._lock = asyncio.Lock()
        self.loads = 0  # full loads so far (for tests and logs)

    def invalidate(self, provider_ids: Iterable[int]) -> None:
        """These providers changed in PostgreSQL (committed)."""
        ids = set(provider_ids)
        self._dirty |= ids
        if self._during_load is not None:
            self._during_load |= ids
        if len(self._dirty) > MAX_DIRTY:
            self.invalidate_all()

    def invalidate_all(self) -> None:
        """Anything may have changed: reload everything before the next search."""
        self._catalogue = None
        self._dirty.clear()
        self._generation += 1

    async def current(self) -> Catalogue:
        """The catalogue with every invalidation announced so far applied."""
        async with self._lock:
            catalogue = self._catalogue
            if catalogue is None:
                catalogue = await self._load()
            if self._dirty:
                ids = sorted(self._dirty)
                self._dirty.clear()  # what arrives from now on waits for the next search
                async with self._sessions() as session:
                    entries = await load_entries(session, ids)
                catalogue.replace(ids, entries)
            return catalogue

    async def _load(self) -> Catalogue:
        generation = self._generation
        previous = self._catalogue
        self._during_load = set()
        started = time.monotonic()
        try:
            async with self._sessions() as session:
                catalogue = await load_catalogue(session)
            await self._prepare(catalogue, previous)
            if generation == self._generation:
                self._catalogue = catalogue
                # Announced during the load: maybe read before the change, so reread.
                self._dirty = set(self._during_load)
        finally:
            self._during_load = None
        self.loads += 1
        log.info(
            "catalogue: %d providers loaded in %.2f s", len(catalogue), time.monotonic() - started
        )
        return catalogue

    async def _prepare(self, catalogue: Catalogue, previous: Catalogue | None) -> None:
        """Sort ahead the cells searches will read (docs/geo.md), yielding often."""
        if previous is not None:
            for _ in catalogue.adopt_views(previous):
                await asyncio.sleep(0)
        for weights, options in self._warm:
            for _ in catalogue.warm(weights, options):
                await asyncio.sleep(0)

    async def reload(self) -> None:
        """Reread everything; searches go on with the previous catalogue meanwhile."""
        await self._load()

    async def keep(self) -> None:
        """Reload every ``reload_s`` until cancelled (the safety net for missed news)."""
        while True:
            await asyncio.sleep(self.reload_s)
            try:
                await self.reload()
            except Exception:  # a database outage must not end the safety net
                log.exception("catalogue: periodic reload failed")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CatalogueKeeper]:
        """Run :meth:`keep` in a task owned by this block."""
        async with owned_task(self.keep(), "catalogue-keeper"):
            yield self


# -- searching ------------------------------------------------------------------------


async def find_candidates(
    catalogue: Catalogue,
    live: LiveView,
    presence: Presence,
    query: SearchQuery,
    *,
    fresh_s: float,
    now_ms: int | None = None,
) -> TopNResult:
    """The exact top ``query.n`` candidates, with ETA and connectivity filled in.

    ``live`` is read synchronously (one instant, no I/O: the node's mirror of the live
    store); ``presence`` once, for the final list."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    model = StraightLineSpeedModel()
    search = CatalogueSearch(
        catalogue,
        live,
        query,
        now_ms=now,
        fresh_ms=int(fresh_s * 1000),
        resolution=RESOLUTION,
        model=model,
    )
    result = search.run()
    ids = [c.facts.provider_id for c in result.candidates]
    online = await presence.connectivity(ids)
    shown = tuple(
        RankedCandidate(_shown(c.facts, online, live, now), c.breakdown)
        for c in fill_eta(result.candidates, model)
    )
    return replace(result, candidates=shown)


def _shown(
    facts: CandidateFacts, online: Mapping[int, Connectivity], live: LiveView, now_ms: int
) -> CandidateFacts:
    age = facts.position_age_s
    if age is None and (position := live.positions.get(facts.provider_id)) is not None:
        age = max(0, now_ms - position[2]) / 1000  # a stale position: how old
    reach = online.get(facts.provider_id, Connectivity.OFFLINE)
    return facts._replace(connectivity=reach, position_age_s=age)
