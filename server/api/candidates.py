"""``GET /api/v1/candidates``: the providers that can serve a job, best first.

Exact top N by weighted score among the active providers of the service type
within the radius (live position when fresh, base otherwise), each with distance,
ETA, connectivity, price of the job and the score's breakdown (docs/geo.md).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from geo.topn import RankedCandidate
from operations.candidates import CandidateFinder, CandidateRequest
from registry.permissions import Permission
from registry.points import Point
from registry.schemas.common import Id, InModel
from server.api.core import Ctx, Operation

P = Permission
MAX_RADIUS_KM = 200.0
MAX_CANDIDATES = 100


class CandidatesQuery(InModel):
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    service_type_id: Id
    client_id: Id | None = None
    radius_km: Annotated[float, Field(gt=0, le=MAX_RADIUS_KM)] = 20.0
    limit: Annotated[int, Field(ge=1, le=MAX_CANDIDATES)] = 20
    trip_km: Annotated[float, Field(ge=0, le=5000)] = 0.0


class FactorOut(BaseModel):
    name: str
    value: float
    weight: float
    contribution: float


class CandidateOut(BaseModel):
    provider_id: Id
    name: str | None
    city: str | None
    phone: str | None
    score: float
    distance_km: float
    eta_minutes: float | None
    lat: float | None
    lng: float | None
    position_source: str
    position_age_s: float | None
    connectivity: str
    price: Decimal | None
    on_time_rate: float | None
    acceptance_rate: float | None
    preference: int
    partner: bool
    busy: bool
    breakdown: list[FactorOut]


class CandidatesOut(BaseModel):
    candidates: list[CandidateOut]
    eligible: int  # providers in the radius the search had to look at
    seen: int
    rings: int


def candidate_out(candidate: RankedCandidate) -> CandidateOut:
    f = candidate.facts
    return CandidateOut(
        provider_id=f.provider_id,
        name=f.name,
        city=f.city,
        phone=f.phone,
        score=round(candidate.score, 6),
        distance_km=round(f.distance_km, 3),
        eta_minutes=round(f.eta_minutes, 1) if f.eta_minutes is not None else None,
        lat=f.lat,
        lng=f.lng,
        position_source=f.position_source.value,
        position_age_s=f.position_age_s,
        connectivity=f.connectivity.value,
        price=f.price,
        on_time_rate=f.on_time_rate,
        acceptance_rate=f.acceptance_rate,
        preference=f.preference,
        partner=f.partner,
        busy=f.busy,
        breakdown=[
            FactorOut(name=x.name, value=x.value, weight=x.weight, contribution=x.contribution)
            for x in candidate.breakdown.factors
        ],
    )


async def candidates(ctx: Ctx) -> CandidatesOut:
    q: CandidatesQuery = ctx.query
    finder: CandidateFinder = ctx.request.app.state.live.candidates
    request = CandidateRequest(
        at=Point(q.lat, q.lng),
        service_type_id=q.service_type_id,
        client_id=q.client_id,
        radius_km=q.radius_km,
        limit=q.limit,
        trip_km=q.trip_km,
    )
    result = await finder.find(ctx.session, request)
    return CandidatesOut(
        candidates=[candidate_out(c) for c in result.candidates],
        eligible=result.eligible,
        seen=result.seen,
        rings=result.rings,
    )


OPERATIONS = [
    Operation(
        "GET",
        "/candidates",
        candidates,
        "Providers that can serve a job at a point, ranked (exact top N)",
        "candidates",
        permission=P.OPERATIONS_DISPATCH,
        query=CandidatesQuery,
        response=CandidatesOut,
    ),
]
