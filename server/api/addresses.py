"""Address sources for jobs (issue 5, "Endereço"): search and Google Maps links.

* ``GET /api/v1/addresses/search?q=&limit=``: addresses by street, neighbourhood,
  city or CEP from the geocoder the GEOCODER setting selects (offline: the addresses
  Acionar knows; nominatim: OpenStreetMap, falling back to offline when it is down).
* ``POST /api/v1/addresses/from-maps-url`` ``{"url": ...}``: the point of a Google
  Maps link, or a route's origin and destination; 422 with a pt-BR message when the
  link yields no coordinates (a short link, a place name only, not a Maps link...).

Both for operators who dispatch (``operations.dispatch``). See docs/addresses.md.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from geo.addresses import (
    AddressError,
    AddressSource,
    GeocoderConfig,
    GeocoderKind,
    GeocoderQueryError,
    address_from_place_name,
    parse_maps_url,
)
from geo.addresses.factory import make_geocoder
from geo.addresses.geocoder import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS
from geo.addresses.maps_url import MAX_URL_CHARS
from geo.addresses.offline import DEFAULT_SOURCES, SqlAddressSource, address_columns_source
from operations.models import Job, JobPlace
from operations.views import AddressOut, address_out
from registry.permissions import Permission
from registry.points import Point
from registry.schemas.common import InModel
from server.api.core import BodyKind, Ctx, Operation
from server.settings import Settings

P = Permission

JOB_PLACES_DAYS = 365
"""Earlier jobs' places the offline geocoder searches: those of the last year."""

_RECENT_JOBS = select(Job.id).where(Job.created_at > func.now() - timedelta(days=JOB_PLACES_DAYS))

ADDRESS_SOURCES: tuple[SqlAddressSource, ...] = (
    *DEFAULT_SOURCES,
    dataclasses.replace(
        address_columns_source(AddressSource.JOB, JobPlace),
        where=(JobPlace.job_id.in_(_RECENT_JOBS),),
    ),
)
"""What the offline geocoder searches: partner sites, beneficiaries, then the
origins and destinations of the last year's jobs."""


class AddressSearchIn(InModel):
    q: Annotated[str, Field(max_length=MAX_QUERY_CHARS)]
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT


class AddressSearchOut(BaseModel):
    addresses: list[AddressOut]
    geocoder: str  # which geocoder answered: offline, nominatim


class MapsUrlIn(InModel):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)]


class MapsUrlOut(BaseModel):
    """A link's point (``origin``), or a route's ``origin`` and ``destination``
    (either may be null for a route whose end carries no coordinates)."""

    origin: AddressOut | None
    destination: AddressOut | None
    route: bool
    from_viewport: bool  # the point is the map's centre, not a pin: check it


def geocoder_config(settings: Settings) -> GeocoderConfig:
    """The geocoders' settings."""
    return GeocoderConfig(
        kind=GeocoderKind(settings.geocoder),
        allow_outside_brazil=settings.addresses_allow_outside_brazil,
        nominatim_url=settings.geocoder_nominatim_url,
        user_agent=settings.geocoder_user_agent,
        timeout_s=settings.geocoder_timeout_s,
        min_interval_s=settings.geocoder_min_interval_s,
    )


async def search_addresses(ctx: Ctx) -> AddressSearchOut:
    query: AddressSearchIn = ctx.query
    config = geocoder_config(ctx.resources.settings)
    geocoder = make_geocoder(config, ctx.session, ADDRESS_SOURCES)
    found = await geocoder.search(query.q, query.limit)
    return AddressSearchOut(addresses=[address_out(a) for a in found], geocoder=geocoder.name)


def _end(point: Point | None, name: str | None) -> AddressOut | None:
    if point is None:
        return None
    return address_out(address_from_place_name(name, point))


async def from_maps_url(ctx: Ctx) -> MapsUrlOut:
    body: MapsUrlIn = ctx.body
    allow = ctx.resources.settings.addresses_allow_outside_brazil
    link = parse_maps_url(body.url, allow_outside_brazil=allow)
    return MapsUrlOut(
        origin=_end(link.origin, link.origin_name),
        destination=_end(link.destination, link.destination_name),
        route=link.route,
        from_viewport=link.from_viewport,
    )


OPERATIONS = [
    Operation(
        "GET",
        "/addresses/search",
        search_addresses,
        "Find addresses by street, neighbourhood, city or CEP (the configured geocoder)",
        "addresses",
        permission=P.OPERATIONS_DISPATCH,
        query=AddressSearchIn,
        response=AddressSearchOut,
        blame={GeocoderQueryError: "query.q"},
    ),
    Operation(
        "POST",
        "/addresses/from-maps-url",
        from_maps_url,
        "The coordinates of a Google Maps link (a point, or a route's two ends)",
        "addresses",
        permission=P.OPERATIONS_DISPATCH,
        body=MapsUrlIn,
        body_kind=BodyKind.MODEL,
        response=MapsUrlOut,
        blame={AddressError: "url"},
    ),
]
