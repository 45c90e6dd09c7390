"""A job's origin and destination: where the operator says they come from, and
the :class:`geo.addresses.Place` each request resolves to.

An origin or destination comes from exactly one source (:class:`PlaceRequest`): a
Google Maps link (its pin; of a route, its start for an origin and its end for a
destination), one of the incident client's partner sites, the incident
beneficiary's registered address, or a point with the address fields (typed in,
or an address search's suggestion). Whatever the source, the point must lie in
Brazil unless the deployment allows otherwise.

Errors name the request's field the way the API takes it (``origin.maps_url``,
``partner_site_id``...), so the operator's screen can point at it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses import (
    Address,
    AddressError,
    AddressSource,
    Place,
    check_territory,
    parse_maps_url,
)
from operations.errors import InvalidInputError
from operations.models import Incident
from registry.models import Beneficiary, PartnerSite
from registry.points import Point, point_from_wkb


class PlaceRole(enum.StrEnum):
    ORIGIN = "origin"
    DESTINATION = "destination"

    @property
    def label(self) -> str:
        return "Origem" if self is PlaceRole.ORIGIN else "Destino"


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """Where a job's place comes from: exactly one of ``maps_url``,
    ``partner_site_id``, ``beneficiary`` or ``given.point``.

    ``given`` holds the address fields the operator typed or picked (kept beside a
    Maps link's point), its ``source`` and, for the point source, the point.
    """

    given: Address
    maps_url: str | None = None
    partner_site_id: int | None = None
    beneficiary: bool = False

    def __post_init__(self) -> None:
        sources = (
            self.maps_url is not None,
            self.partner_site_id is not None,
            self.beneficiary,
            self.given.point is not None,
        )
        if sum(sources) != 1:
            raise InvalidInputError(
                "source",
                "Informe uma só fonte para o endereço: coordenadas, link do Google Maps, "
                "estabelecimento parceiro ou endereço do beneficiário",
            )


async def resolve_place(
    session: AsyncSession,
    request: PlaceRequest,
    role: PlaceRole,
    incident: Incident,
    *,
    allow_outside_brazil: bool,
) -> Place:
    """The place ``request`` names, checked to lie where jobs may be.

    Raises:
        InvalidInputError: the source yields no usable point (a bad Maps link, a
            partner site of another client or without coordinates, a beneficiary
            without an address), or the point is outside Brazil when that is not
            allowed.
    """
    if request.maps_url is not None:
        place = _from_maps_url(request, role)
    elif request.partner_site_id is not None:
        place = await _from_partner_site(session, request, incident)
    elif request.beneficiary:
        place = await _from_beneficiary(session, request, incident)
    else:
        place = _as_place(request.given, request.given.point)
    try:
        check_territory(place.at, allow_outside_brazil=allow_outside_brazil)
    except AddressError as exc:
        raise InvalidInputError(role.value, exc.message) from exc
    return place


def _as_place(address: Address, point: Point | None, **changes: object) -> Place:
    fields = {f.name: getattr(address, f.name) for f in dataclasses.fields(address)}
    return Place(**{**fields, **changes, "point": point})


def _from_maps_url(request: PlaceRequest, role: PlaceRole) -> Place:
    assert request.maps_url is not None
    try:
        link = parse_maps_url(request.maps_url, allow_outside_brazil=True)  # checked later
    except AddressError as exc:
        raise InvalidInputError(f"{role.value}.maps_url", exc.message) from exc
    ends = (link.destination, link.origin)
    if role is PlaceRole.ORIGIN:
        ends = (link.origin, link.destination)
    point = next(p for p in ends if p is not None)
    return _as_place(request.given, point, source=AddressSource.MAPS_URL)


async def _from_partner_site(
    session: AsyncSession, request: PlaceRequest, incident: Incident
) -> Place:
    site = await session.get(PartnerSite, request.partner_site_id)
    if site is None or site.client_id != incident.client_id:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro não é deste cliente.")
    if site.location is None:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro sem coordenadas.")
    return Place(
        AddressSource.PARTNER_SITE,
        street=site.street,
        number=site.number,
        complement=site.complement,
        neighbourhood=site.neighbourhood,
        city=site.city,
        state=site.state,
        cep=site.cep,
        reference=request.given.reference or site.name,
        point=point_from_wkb(site.location.data),
    )


async def _from_beneficiary(
    session: AsyncSession, request: PlaceRequest, incident: Incident
) -> Place:
    who = None
    if incident.beneficiary_id is not None:
        who = await session.get(Beneficiary, incident.beneficiary_id)
    if who is None or who.location is None:
        raise InvalidInputError("beneficiary", "O beneficiário não tem endereço com coordenadas.")
    return Place(
        AddressSource.BENEFICIARY,
        street=who.street,
        number=who.number,
        complement=who.complement,
        neighbourhood=who.neighbourhood,
        city=who.city,
        state=who.state,
        cep=who.cep,
        reference=request.given.reference,
        point=point_from_wkb(who.location.data),
    )
