"""Address sources for jobs' origins and destinations (issue 5, "Endereço").

An operator fills a job's address from one of four sources; this package provides
the value they all produce and the two that need more than a lookup by id:

* :mod:`geo.addresses.address`: :class:`Address` (street, number, complement,
  neighbourhood, city, UF, CEP, reference point, point, source, label), the one
  address model; :class:`Place`, an address with its point (a job's origin or
  destination); the territory rule (:func:`check_territory`: points outside Brazil
  are refused unless ADDRESSES_ALLOW_OUTSIDE_BRAZIL), pure. Points are
  :class:`registry.points.Point`, the one point type;
* :mod:`geo.addresses.brazil`: the coarse Brazil polygon, pure;
* :mod:`geo.addresses.maps_url`: :func:`parse_maps_url`, coordinates (or a
  route's ends) out of every common Google Maps link shape, pure;
* :mod:`geo.addresses.place_names`: address fields out of the formatted address
  Google names places with, pure;
* :mod:`geo.addresses.geocoder`: the :class:`Geocoder` seam (search by street,
  neighbourhood, city or CEP), an in-memory one and a fallback combinator;
* :mod:`geo.addresses.offline`: the default geocoder, over the addresses Acionar
  already knows (partner sites, beneficiaries; jobs to come), in PostgreSQL;
* :mod:`geo.addresses.nominatim`: the Nominatim geocoder (HTTP, rate-limited);
* :mod:`geo.addresses.factory`: the geocoder the GEOCODER setting selects;
* :mod:`geo.addresses.records`: a partner site's or a beneficiary's own address;
* :mod:`geo.addresses.errors`: the package's exception tree, pt-BR messages.

A partner site's or a beneficiary's own address (sources c and d of the article)
is the registry row's fields: :func:`partner_site_address` and
:func:`beneficiary_address` turn such a row into an :class:`Address`. The link
shapes, the geocoders and the settings: docs/addresses.md.
"""

from __future__ import annotations

from geo.addresses.address import (
    Address,
    AddressSource,
    Place,
    check_territory,
    checked_point,
    in_brazil,
)
from geo.addresses.errors import (
    AddressError,
    GeocoderQueryError,
    GeocoderUnavailableError,
    InvalidAddressError,
    InvalidCoordinatesError,
    MapsUrlError,
    NoCoordinatesError,
    NotMapsUrlError,
    OutsideBrazilError,
    ShortLinkError,
)
from geo.addresses.geocoder import Geocoder, GeocoderConfig, GeocoderKind, StaticGeocoder
from geo.addresses.maps_url import MapsLink, parse_coordinates, parse_maps_url
from geo.addresses.place_names import address_from_place_name
from geo.addresses.records import address_of, beneficiary_address, partner_site_address

__all__ = [
    "Address",
    "AddressError",
    "AddressSource",
    "Geocoder",
    "GeocoderConfig",
    "GeocoderKind",
    "GeocoderQueryError",
    "GeocoderUnavailableError",
    "InvalidAddressError",
    "InvalidCoordinatesError",
    "MapsLink",
    "MapsUrlError",
    "NoCoordinatesError",
    "NotMapsUrlError",
    "OutsideBrazilError",
    "Place",
    "ShortLinkError",
    "StaticGeocoder",
    "address_from_place_name",
    "address_of",
    "beneficiary_address",
    "check_territory",
    "checked_point",
    "in_brazil",
    "parse_coordinates",
    "parse_maps_url",
    "partner_site_address",
]
