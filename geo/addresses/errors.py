"""Errors of the address sources (``geo.addresses``).

::

    GeoError (geo.errors)
    └── AddressError                 base of every address error; carries ``code``
        │                            (stable, for the API) and ``message`` (pt-BR,
        │                            fit to show to the operator)
        ├── InvalidAddressError      a field of an address is malformed (CEP, UF,
        │   │                        a text too long); carries ``field``
        │   ├── InvalidCoordinatesError  latitude or longitude missing one of the
        │   │                        pair, not a number, or out of range
        │   └── OutsideBrazilError   coordinates outside Brazil while
        │                            ADDRESSES_ALLOW_OUTSIDE_BRAZIL is false
        ├── MapsUrlError             a Google Maps link that yields no coordinates
        │   ├── NotMapsUrlError      not a Google Maps link at all (or too long)
        │   ├── ShortLinkError       maps.app.goo.gl / goo.gl/maps: resolving it needs
        │   │                        the internet; the operator must paste the full URL
        │   └── NoCoordinatesError   a Maps link naming a place but carrying no
        │                            coordinates (a search by name, a route whose ends
        │                            are names)
        ├── GeocoderQueryError       a geocoder search that cannot be run (too long)
        └── GeocoderUnavailableError the geocoding service did not answer, answered an
                                     error or something that is not its JSON

Every error but :class:`GeocoderUnavailableError` is also a ``ValueError``: they
mean "this input is wrong". The server answers them with 422 (503 for the
unavailable geocoder) and the ``message`` as it is.
"""

from __future__ import annotations

from typing import ClassVar

from geo.errors import GeoError


class AddressError(GeoError):
    """Base of every address error.

    Attributes:
        code: a stable identifier of the error kind (``snake_case``), for the API.
        message: what is wrong and what to do, in pt-BR, ready for the operator.
    """

    code: ClassVar[str] = "address_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAddressError(AddressError, ValueError):
    """A field of an address is malformed.

    Attributes:
        field: the offending field's name (``cep``, ``state``, ``lat``...).
    """

    code = "invalid_address"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidCoordinatesError(InvalidAddressError):
    """Coordinates missing half of the pair, not finite, or out of range."""

    code = "invalid_coordinates"


class OutsideBrazilError(InvalidAddressError):
    """Coordinates outside Brazil, refused unless ADDRESSES_ALLOW_OUTSIDE_BRAZIL."""

    code = "outside_brazil"

    def __init__(self, lat: float, lng: float) -> None:
        super().__init__(
            "lat",
            f"As coordenadas ({lat:.6f}, {lng:.6f}) ficam fora do Brasil. Confira o ponto "
            "(latitude e longitude podem estar trocadas).",
        )
        self.lat = lat
        self.lng = lng


class MapsUrlError(AddressError, ValueError):
    """A Google Maps link that yields no usable coordinates."""

    code = "maps_url_invalid"


class NotMapsUrlError(MapsUrlError):
    """Not a Google Maps link."""

    code = "maps_url_not_google"


class ShortLinkError(MapsUrlError):
    """A short Maps link (``maps.app.goo.gl``, ``goo.gl/maps``): it cannot be resolved
    without the internet."""

    code = "maps_url_short_link"


class NoCoordinatesError(MapsUrlError):
    """A Maps link that names a place (or a route) but carries no coordinates.

    Attributes:
        place_name: the place the link names, when it names one.
    """

    code = "maps_url_no_coordinates"

    def __init__(self, message: str, place_name: str | None = None) -> None:
        super().__init__(message)
        self.place_name = place_name


class GeocoderQueryError(AddressError, ValueError):
    """A geocoder search that cannot be run as asked."""

    code = "geocoder_query_invalid"


class GeocoderUnavailableError(AddressError):
    """The geocoding service did not answer in time, or answered something unusable."""

    code = "geocoder_unavailable"
