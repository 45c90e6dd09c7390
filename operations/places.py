"""A job's origin and destination: where the operator says they come from, and
the :class:`geo.addresses.Place` each request resolves to.

An origin or destination comes from exactly one source (:class:`PlaceRequest`): a
Google Maps link (its pin; of a route, its start for an origin and its end for a
destination; with the address its place name spells out, as
``POST /addresses/from-maps-url`` gives it, under what the operator typed beside
it), one of the incident client's partner sites, the incident beneficiary's
registered address, or a point with the address fields (typed in, or an address
search's suggestion). Whatever the source, the point must lie in
Brazil unless the deployment allows otherwise.

Errors name the request's field the way the API takes it (``origin.maps_url``,
``partner_site_id``...), so the operator's screen can point at it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses import (
    Address,
    AddressError,
    AddressSource,
    Place,
    address_from_place_name,
    beneficiary_address,
    check_territory,
    parse_maps_url,
    partner_site_address,
)
from operations.errors import InvalidInputError
from operations.models import Incident
from registry.models import Beneficiary, PartnerSite

ADDRESS_FIELDS = ("street", "number", "complement", "neighbourhood", "city", "state", "cep")
"""What a Maps link's place name may spell out (its reference is the operator's)."""
STREET_FIELDS = frozenset({"street", "number", "cep"})
"""A link's fields that hold only for its own street."""

SOURCES = "coordenadas, link do Google Maps, estabelecimento parceiro ou endereço do beneficiário"
ONE_SOURCE = f"Informe uma só fonte para o endereço: {SOURCES}"
NO_SOURCE = f"Informe de onde vem o endereço: {SOURCES}"


def source_problem(given: int) -> str | None:
    """What is wrong with ``given`` sources of one place (None: exactly one)."""
    if given == 1:
        return None
    return NO_SOURCE if given == 0 else ONE_SOURCE


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
    Maps link's point and address, and preferred to the link's), its ``source``
    and, for the point source, the point.
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
        if problem := source_problem(sum(sources)):
            raise InvalidInputError("source", problem)


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
        place = Place.of(request.given)
    try:
        check_territory(place.at, allow_outside_brazil=allow_outside_brazil)
    except AddressError as exc:
        raise InvalidInputError(role.value, exc.message) from exc
    return place


def _from_maps_url(request: PlaceRequest, role: PlaceRole) -> Place:
    assert request.maps_url is not None
    try:
        link = parse_maps_url(request.maps_url, allow_outside_brazil=True)  # checked later
    except AddressError as exc:
        raise InvalidInputError(f"{role.value}.maps_url", exc.message) from exc
    ends = [(link.destination, link.destination_name), (link.origin, link.origin_name)]
    if role is PlaceRole.ORIGIN:
        ends.reverse()
    point, name = next((p, n) for p, n in ends if p is not None)
    return Place.of(
        request.given,
        point=point,
        source=AddressSource.MAPS_URL,
        **_under_typed(request.given, address_from_place_name(name, point)),
    )


def _under_typed(typed: Address, from_link: Address) -> dict[str, str | None]:
    """The address fields: what the operator typed, the link's where they typed
    nothing; once they typed a street, the link's street, number and CEP (which
    describe its own street) are not used."""
    own_street = typed.street is not None
    fields = {}
    for name in ADDRESS_FIELDS:
        linked = None if own_street and name in STREET_FIELDS else getattr(from_link, name)
        fields[name] = getattr(typed, name) or linked
    return fields


async def _from_partner_site(
    session: AsyncSession, request: PlaceRequest, incident: Incident
) -> Place:
    site = await session.get(PartnerSite, request.partner_site_id)
    if site is None or site.client_id != incident.client_id:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro não é deste cliente.")
    address = partner_site_address(site)
    if address.point is None:
        raise InvalidInputError("partner_site_id", "Estabelecimento parceiro sem coordenadas.")
    return Place.of(address, reference=request.given.reference or site.name)


async def _from_beneficiary(
    session: AsyncSession, request: PlaceRequest, incident: Incident
) -> Place:
    who = None
    if incident.beneficiary_id is not None:
        who = await session.get(Beneficiary, incident.beneficiary_id)
    address = None if who is None else beneficiary_address(who)
    if address is None or address.point is None:
        raise InvalidInputError("beneficiary", "O beneficiário não tem endereço com coordenadas.")
    return Place.of(address, reference=request.given.reference)
