"""Which providers can serve a job, best first: candidate search as operations uses
it (the dispatch screen now, automatic dispatch next).

Exact top N by weighted score among the active providers of the service type
within the radius (live position when fresh, base otherwise), each with distance,
ETA, connectivity, price of the job and the score's breakdown (docs/geo.md). The
weights are the deployment's (settings ``RANKING_WEIGHT_*``) with the client's own
overrides; the search reads this node's provider catalogue and its mirror of the
live positions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.catalogue import ProviderEntry
from geo.errors import GeoError
from geo.ranking import ScoreOptions, Weights
from geo.search import SearchQuery
from geo.source import CatalogueKeeper, Presence, find_candidates
from geo.topn import TopNResult
from operations.errors import ClientWeightsError, LiveUnavailableError, NotFoundError
from realtime.mirror import MirrorFeed
from registry.models import Client
from registry.points import Point

MIRROR_READY_TIMEOUT_S = 5.0
"""How long a search waits for this node's first copy of the live store (start-up,
or Redis down since)."""


@dataclass(frozen=True, slots=True)
class CandidateRequest:
    """A search: where the job is, which service, for which client, how far, how many.

    Attributes:
        trip_km: the job's own distance (a tow's origin to destination), priced.
        client_weights: the client's ranking weights (``{}`` for none) when the
            caller has read them; else they are read with the search.
    """

    at: Point
    service_type_id: int
    client_id: int | None = None
    radius_km: float = 20.0
    limit: int = 20
    trip_km: float = 0.0
    client_weights: Mapping[str, float] | None = None


class CandidateFinder:
    """Candidate search over this node's catalogue and live mirror."""

    def __init__(
        self,
        catalogue: CatalogueKeeper,
        mirror: MirrorFeed,
        presence: Presence,
        *,
        weights: Weights,
        options: ScoreOptions,
        fresh_s: float,
    ) -> None:
        self.catalogue = catalogue
        self.mirror = mirror
        self.presence = presence
        self.weights = weights
        self.options = options
        self.fresh_s = fresh_s

    async def find(
        self, session: AsyncSession, request: CandidateRequest, *, presence: Presence | None = None
    ) -> TopNResult:
        """The exact top ``request.limit`` candidates; their connectivity from
        ``presence`` when given (the caller keeps what it read), else the store's.

        Raises:
            NotFoundError: no such client.
            ClientWeightsError: the client's weight overrides cannot be used.
            LiveUnavailableError: this node has no copy of the live positions yet.
        """
        query = SearchQuery(
            lat=request.at.lat,
            lng=request.at.lng,
            service_type_id=request.service_type_id,
            client_id=request.client_id,
            radius_km=request.radius_km,
            n=request.limit,
            weights=await self._weights(session, request),
            options=self.options,
            trip_km=request.trip_km,
        )
        catalogue = await self.catalogue.current()
        try:
            async with asyncio.timeout(MIRROR_READY_TIMEOUT_S):
                await self.mirror.wait_ready()
        except TimeoutError as exc:
            raise LiveUnavailableError() from exc
        return await find_candidates(
            catalogue, self.mirror.mirror, presence or self.presence, query, fresh_s=self.fresh_s
        )

    async def entries(self, provider_ids: Sequence[int]) -> list[ProviderEntry]:
        """These providers as this node's catalogue has them (those it has): their
        channels and contacts, without a query."""
        catalogue = await self.catalogue.current()
        return [e for pid in provider_ids if (e := catalogue.get(pid)) is not None]

    async def has_partners(self, client_id: int, service_type_id: int) -> bool:
        """Whether the client has a partner serving the service type in this node's
        catalogue (active, anywhere)."""
        return (await self.catalogue.current()).has_partner(client_id, service_type_id)

    async def _weights(self, session: AsyncSession, request: CandidateRequest) -> Weights:
        """The deployment's weights with the client's overrides applied."""
        overrides = request.client_weights
        if request.client_id is None:
            return self.weights
        if overrides is None:
            stmt = select(Client.ranking_weights).where(Client.id == request.client_id)
            row = (await session.execute(stmt)).first()
            if row is None:
                raise NotFoundError("Cliente")
            overrides = row.ranking_weights or {}
        try:
            return self.weights.with_overrides(overrides)
        except GeoError as exc:
            raise ClientWeightsError(str(exc)) from exc
