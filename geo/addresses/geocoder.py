"""The ``Geocoder`` seam: find addresses from what the operator types.

Two implementations ship: :class:`geo.addresses.offline.OfflineGeocoder` (the
default: the addresses Acionar already knows, in PostgreSQL; works with no
internet) and :class:`geo.addresses.nominatim.NominatimGeocoder` (OpenStreetMap's
geocoder, at a configurable URL). :class:`StaticGeocoder` is the in-memory one for
tests. :class:`FallbackGeocoder` asks a second geocoder when the first one is
unavailable. The server picks one per request with
:func:`geo.addresses.factory.make_geocoder`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from geo.addresses.address import Address, address_in_territory, fold
from geo.addresses.errors import GeocoderQueryError, GeocoderUnavailableError

MAX_QUERY_CHARS = 200
"""Longest search text accepted by every geocoder."""
MAX_LIMIT = 20
"""Most addresses one search returns."""
DEFAULT_LIMIT = 10


class GeocoderKind(enum.StrEnum):
    """The GEOCODER setting's values."""

    OFFLINE = "offline"
    NOMINATIM = "nominatim"


class Geocoder(Protocol):
    """Finds addresses by street, neighbourhood, city or CEP."""

    name: str
    """What the API reports as the geocoder that answered."""

    async def search(self, text: str, limit: int) -> list[Address]:
        """Up to ``limit`` addresses matching ``text``, best first.

        Raises:
            GeocoderQueryError: ``text`` longer than MAX_QUERY_CHARS or ``limit``
                outside 1..MAX_LIMIT.
            GeocoderUnavailableError: the service behind it did not answer.
        """
        ...


def check_query(text: str, limit: int) -> str:
    """``text`` stripped, after checking the bounds every geocoder shares.

    Raises:
        GeocoderQueryError: text too long or limit out of range.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise GeocoderQueryError(f"A busca de endereço aceita até {MAX_QUERY_CHARS} caracteres.")
    if not 1 <= limit <= MAX_LIMIT:
        raise GeocoderQueryError(f"O limite deve estar entre 1 e {MAX_LIMIT}.")
    return text.strip()


def unique(addresses: Iterable[Address], limit: int) -> list[Address]:
    """The first ``limit`` addresses, each distinct address once (the first seen)."""
    seen: set[tuple[object, ...]] = set()
    kept: list[Address] = []
    for address in addresses:
        if address.key() in seen:
            continue
        seen.add(address.key())
        kept.append(address)
        if len(kept) == limit:
            break
    return kept


@dataclass(frozen=True, slots=True)
class GeocoderConfig:
    """The settings the geocoders need (built by the server from its settings)."""

    kind: GeocoderKind = GeocoderKind.OFFLINE
    allow_outside_brazil: bool = False
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    user_agent: str = "Acionar"
    timeout_s: float = 5.0
    min_interval_s: float = 1.0


class StaticGeocoder:
    """An in-memory geocoder over a fixed list (for tests): every folded word of the
    text must appear in the address's folded street, neighbourhood, city, CEP or
    label."""

    name = "static"

    def __init__(self, addresses: Sequence[Address]) -> None:
        self._addresses = list(addresses)

    async def search(self, text: str, limit: int) -> list[Address]:
        words = fold(check_query(text, limit)).split()
        if not words:
            return []
        matches = (a for a in self._addresses if all(w in _haystack(a) for w in words))
        return unique(matches, limit)


def _haystack(address: Address) -> str:
    parts = (address.street, address.neighbourhood, address.city, address.cep, address.label)
    return fold(" ".join(part for part in parts if part))


class FallbackGeocoder:
    """Asks ``primary``; when it is unavailable, answers from ``fallback``.

    ``name`` says which one answered the last search (the API reports it, so that
    the operator knows the results are the known addresses only).
    """

    def __init__(self, primary: Geocoder, fallback: Geocoder) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name

    async def search(self, text: str, limit: int) -> list[Address]:
        try:
            found = await self.primary.search(text, limit)
        except GeocoderUnavailableError:
            self.name = self.fallback.name
            return await self.fallback.search(text, limit)
        self.name = self.primary.name
        return found


def in_territory(addresses: Iterable[Address], allow_outside_brazil: bool) -> list[Address]:
    """The addresses whose coordinates (if any) the territory rule accepts."""
    return [
        a for a in addresses if address_in_territory(a, allow_outside_brazil=allow_outside_brazil)
    ]
