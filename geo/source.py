"""Candidate search over the real data: PostgreSQL (the network) and the live index
(positions in Redis), feeding the exact ring search of :mod:`geo.topn`.

For each batch of H3 cells the source delivers every eligible provider (active,
serving the service type) exactly once, in the cell of its *counted* position: the
live one when fresh, else the base. Providers based in the batch's cells come from
PostgreSQL by ``base_h3``; providers whose live position lies in those cells come
from the live index, and their facts from PostgreSQL by id. The client's partners
are pinned first, so the rest can be bounded with ``partnership = 0``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.distance import PositionSource, StraightLineSpeedModel, haversine_km
from geo.ranking import (
    DEFAULT_OPTIONS,
    CandidateFacts,
    Ceiling,
    Connectivity,
    ScoreOptions,
    Weights,
    price_of_job,
)
from geo.topn import RingSearch, TopNResult, fill_eta
from registry.enums import ProviderStatus
from registry.models import Provider, ProviderPartnership, ProviderService

RESOLUTION = 8  # providers' base_h3 and the live index use the same resolution
RINGS_PER_BATCH = 3  # fewer round trips; the search stays exact whatever the batch


class LivePositionLike(Protocol):
    @property
    def lat(self) -> float: ...

    @property
    def lng(self) -> float: ...

    @property
    def received_ms(self) -> int: ...


class LiveIndex(Protocol):
    """What the search needs of the live store (realtime.store.LiveStore has it)."""

    async def providers_in_cells(self, cells: Sequence[str]) -> set[int]: ...

    async def positions(self, provider_ids: Sequence[int]) -> Mapping[int, LivePositionLike]: ...

    async def online(self, provider_ids: Sequence[int]) -> dict[int, bool]: ...


@dataclass(frozen=True, slots=True)
class CandidateQuery:
    lat: float
    lng: float
    service_type_id: int
    client_id: int | None
    radius_km: float
    n: int
    weights: Weights
    fresh_s: float = 120.0
    trip_km: float = 0.0  # origin → destination, for the price of tows
    night_or_holiday: bool = False


def _signed(cell: str) -> int:
    value = int(cell, 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def _facts_query(query: CandidateQuery) -> Select[Any]:
    partner = (
        exists().where(
            ProviderPartnership.provider_id == Provider.id,
            ProviderPartnership.client_id == query.client_id,
        )
        if query.client_id is not None
        else None
    )
    return (
        select(
            Provider.id,
            func.ST_Y(func.geometry(Provider.base_location)).label("lat"),
            func.ST_X(func.geometry(Provider.base_location)).label("lng"),
            Provider.on_time_rate,
            Provider.acceptance_rate,
            Provider.preference,
            Provider.city,
            Provider.phone,
            Provider.name,
            ProviderService.departure_fee,
            ProviderService.included_km,
            ProviderService.price_per_km,
            ProviderService.night_holiday_surcharge_pct,
            (partner if partner is not None else false()).label("partner"),
        )
        .join(ProviderService, ProviderService.provider_id == Provider.id)
        .where(
            Provider.status == ProviderStatus.ACTIVE,
            ProviderService.service_type_id == query.service_type_id,
        )
    )


class _Source:
    """One search's reads, with what it learnt along the way."""

    def __init__(self, session: AsyncSession, live: LiveIndex, query: CandidateQuery) -> None:
        self.session = session
        self.live = live
        self.query = query
        self.now_ms = int(time.time() * 1000)
        self.model = StraightLineSpeedModel()

    def _fresh(self, position: LivePositionLike | None) -> bool:
        return (
            position is not None and self.now_ms - position.received_ms < self.query.fresh_s * 1000
        )

    async def _rows(self, where: ColumnElement[bool]) -> list[Any]:
        return list((await self.session.execute(_facts_query(self.query).where(where))).all())

    def _facts(self, row: Any, position: LivePositionLike | None) -> CandidateFacts:
        live = self._fresh(position)
        lat, lng = (position.lat, position.lng) if live and position else (row.lat, row.lng)
        distance = haversine_km(self.query.lat, self.query.lng, lat, lng)
        price = price_of_job(
            row,
            self.model.road_km(distance),
            self.model.road_km(self.query.trip_km),
            night_or_holiday=self.query.night_or_holiday,
        )
        return CandidateFacts(
            provider_id=row.id,
            distance_km=distance,
            on_time_rate=float(row.on_time_rate) if row.on_time_rate is not None else None,
            acceptance_rate=float(row.acceptance_rate) if row.acceptance_rate is not None else None,
            preference=row.preference,
            partner=bool(row.partner),
            busy=False,
            price=price,
            lat=lat,
            lng=lng,
            position_source=PositionSource.LIVE if live else PositionSource.BASE,
            position_age_s=(self.now_ms - position.received_ms) / 1000 if position else None,
            city=row.city,
            phone=row.phone,
            name=row.name,
        )

    async def partners(self) -> list[CandidateFacts]:
        """The client's eligible partners, wherever they are (pinned before the rings)."""
        if self.query.client_id is None:
            return []
        partner_ids = select(ProviderPartnership.provider_id).where(
            ProviderPartnership.client_id == self.query.client_id
        )
        rows = await self._rows(Provider.id.in_(partner_ids))
        positions = await self.live.positions([row.id for row in rows])
        return [self._facts(row, positions.get(row.id)) for row in rows]

    async def cells(self, cells: Sequence[str]) -> list[CandidateFacts]:
        """Every eligible provider whose counted position lies in ``cells``."""
        based = await self._rows(Provider.base_h3.in_([_signed(c) for c in cells]))
        live_ids = await self.live.providers_in_cells(cells)
        positions = await self.live.positions(sorted({r.id for r in based} | live_ids))
        facts = [
            self._facts(row, positions.get(row.id))
            for row in based
            if not self._fresh(positions.get(row.id))
        ]
        moved_in = sorted(pid for pid in live_ids if self._fresh(positions.get(pid)))
        if moved_in:
            rows = await self._rows(Provider.id.in_(moved_in))
            facts += [self._facts(row, positions[row.id]) for row in rows]
        return facts


async def find_candidates(
    session: AsyncSession,
    live: LiveIndex,
    query: CandidateQuery,
    options: ScoreOptions = DEFAULT_OPTIONS,
) -> TopNResult:
    """The exact top ``query.n`` candidates, with ETA and connectivity filled in."""
    source = _Source(session, live, query)
    search = RingSearch(
        query.lat,
        query.lng,
        weights=query.weights,
        radius_km=query.radius_km,
        n=query.n,
        options=options,
        resolution=RESOLUTION,
        ceiling=Ceiling(partnership=0.0),
    )
    search.pin(await source.partners())
    while (batch := search.next_batch(RINGS_PER_BATCH)) is not None:
        search.feed(batch, await source.cells(batch.cells))
    result = search.result()
    return await _finish(result, live, source.model)


async def _finish(result: TopNResult, live: LiveIndex, model: StraightLineSpeedModel) -> TopNResult:
    """Connectivity and ETA, for the few providers shown only."""
    online = await live.online([c.facts.provider_id for c in result.candidates])
    shown = tuple(
        c.__class__(c.facts._replace(connectivity=_connectivity(c.facts, online)), c.breakdown)
        for c in fill_eta(result.candidates, model)
    )
    return TopNResult(shown, result.rings, result.cells, result.seen, result.eligible)


def _connectivity(facts: CandidateFacts, online: Mapping[int, bool]) -> Connectivity:
    if not online.get(facts.provider_id):
        return Connectivity.OFFLINE
    return (
        Connectivity.ONLINE if facts.position_source is PositionSource.LIVE else Connectivity.STALE
    )
