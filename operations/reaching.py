"""Who can take a job now: its ranked candidates at its origin, each with the
channels an offer can reach it by this moment (the Acionamento tab's list and its
dispatch buttons, and what automatic dispatch chooses from).

The candidate search's presence read and the dispatch buttons' channels come from
one read of the unit's :class:`~operations.service.Reach` (this node's own sockets
included); the providers' registered channels and contacts from the search's
catalogue, without a query. An offer checks them again against PostgreSQL
(:func:`operations.dispatch.offer_job`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from geo.topn import RankedCandidate
from operations import offering, service
from operations.candidates import CandidateRequest
from operations.models import Job, JobPlace
from operations.places import PlaceRole
from operations.service import UnitOfWork
from realtime.presence import Connectivity
from registry.enums import Channel
from registry.models import Provider


async def channels_now(
    uow: UnitOfWork,
    providers: Sequence[Provider | offering.ProviderContacts],
    *,
    live: Mapping[int, Collection[Channel]] | None = None,
) -> dict[int, list[Channel]]:
    """Per provider, the channels an offer can take this moment: its registered
    channels, ``app``/``web`` only while connected, ``link`` with a phone or an
    e-mail, ``verbal`` with a phone. ``live``: the live channels, when the caller
    has just read them (else they are read now)."""
    if live is None:
        live = {}
        if uow.reach is not None and providers:
            live = await uow.reach.live_channels([p.id for p in providers])
    return {p.id: offering.reachable_channels(p, live.get(p.id, ())) for p in providers}


class _ReachRead:
    """The candidate search's presence read through the unit's :class:`Reach`, kept:
    the connectivity of the list and the channels of its dispatch buttons come from
    one read (this node's own sockets included)."""

    def __init__(self, reach: service.Reach) -> None:
        self.reach = reach
        self.live: dict[int, set[Channel]] = {}

    async def connectivity(self, provider_ids: Sequence[int]) -> dict[int, Connectivity]:
        self.live = await self.reach.live_channels(provider_ids)
        return {pid: connectivity_of(channels) for pid, channels in self.live.items()}


def connectivity_of(live: Collection[Channel]) -> Connectivity:
    """How a provider with these live channels shows: its app first, then the portal."""
    if Channel.APP in live:
        return Connectivity.APP
    return Connectivity.WEB if Channel.WEB in live else Connectivity.OFFLINE


@dataclass(frozen=True, slots=True)
class JobCandidate:
    """A ranked candidate for a job and the channels that reach it now."""

    ranked: RankedCandidate
    channels_now: list[Channel]


async def find_for_job(
    uow: UnitOfWork,
    job: Job,
    *,
    radius_km: float,
    limit: int,
    places: Sequence[JobPlace] | None = None,
    client_weights: Mapping[str, float] | None = None,
) -> list[JobCandidate]:
    """The job's candidates at its origin (its service, its client's weights, its
    trip priced), best first, with the channels each can take now. Empty for a job
    without an origin or a service. ``places``: the job's, and ``client_weights``:
    its client's ranking weights (``{}`` for none), when the caller has read them.

    Raises:
        LiveUnavailableError, ClientWeightsError (candidate search).
    """
    if uow.candidates is None or job.service_type_id is None:
        return []
    session = uow.session
    if places is None:
        places = await offering.job_places(session, job.id)
    origin = offering.place_point(places, PlaceRole.ORIGIN)
    if origin is None:
        return []
    destination = offering.place_point(places, PlaceRole.DESTINATION)
    request = CandidateRequest(
        at=origin,
        service_type_id=job.service_type_id,
        client_id=job.client_id,
        radius_km=radius_km,
        limit=limit,
        trip_km=offering.trip_km(origin, destination),
        client_weights=client_weights,
    )
    seen = None if uow.reach is None else _ReachRead(uow.reach)
    result = await uow.candidates.find(session, request, presence=seen)
    ids = [c.facts.provider_id for c in result.candidates]
    contacts = [
        offering.ProviderContacts(e.provider_id, list(e.channels), e.phone, e.email, e.whatsapp)
        for e in await uow.candidates.entries(ids)
    ]
    channels = await channels_now(uow, contacts, live=None if seen is None else seen.live)
    return [JobCandidate(c, channels.get(c.facts.provider_id, [])) for c in result.candidates]
