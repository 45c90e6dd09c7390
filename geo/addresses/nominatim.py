"""The Nominatim geocoder (OpenStreetMap): ``GET {url}/search?q=...&format=jsonv2``.

The request asks for Brazilian results only (``countrycodes=br``), in Portuguese,
with address details, and identifies Acionar by its User-Agent, as Nominatim's
usage policy requires. The public instance allows one request per second: a
:class:`RateLimiter` shared by the process spaces requests by
``GEOCODER_MIN_INTERVAL_S`` and refuses to queue longer than the timeout. Prefer
your own Nominatim instance for real traffic (``GEOCODER_NOMINATIM_URL``).

The HTTP call is one seam, :class:`HttpGet`; the default, :func:`default_get`, is
:mod:`geo.addresses.http` (asyncio streams, no runtime dependency), bounded by the
timeout and its MAX_RESPONSE_BYTES. Mapping a reply to addresses
(:func:`parse_reply`) is pure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson

from geo.addresses.address import MAX_LENGTHS, Address, AddressSource, checked_point
from geo.addresses.errors import AddressError, GeocoderUnavailableError
from geo.addresses.geocoder import GeocoderConfig, check_query, in_territory, unique
from geo.addresses.http import http_get

log = logging.getLogger("acionar.geo.nominatim")

MIN_QUERY_CHARS = 3
"""Shorter texts are not sent: they cost a request and match nothing useful."""
STREET_KEYS = ("road", "pedestrian", "footway", "cycleway", "path", "square", "highway")
NEIGHBOURHOOD_KEYS = ("suburb", "neighbourhood", "quarter", "city_district", "hamlet")
CITY_KEYS = ("city", "town", "village", "municipality")
UF_BY_STATE_NAME = {
    "acre": "AC",
    "alagoas": "AL",
    "amapá": "AP",
    "amazonas": "AM",
    "bahia": "BA",
    "ceará": "CE",
    "distrito federal": "DF",
    "espírito santo": "ES",
    "goiás": "GO",
    "maranhão": "MA",
    "mato grosso": "MT",
    "mato grosso do sul": "MS",
    "minas gerais": "MG",
    "pará": "PA",
    "paraíba": "PB",
    "paraná": "PR",
    "pernambuco": "PE",
    "piauí": "PI",
    "rio de janeiro": "RJ",
    "rio grande do norte": "RN",
    "rio grande do sul": "RS",
    "rondônia": "RO",
    "roraima": "RR",
    "santa catarina": "SC",
    "são paulo": "SP",
    "sergipe": "SE",
    "tocantins": "TO",
}


class HttpGet(Protocol):
    """GET ``url`` with ``headers``; the body of a 200 reply.

    Raises:
        GeocoderUnavailableError: no reply within ``timeout_s``, a status other
            than 200, a connection error, or an oversized body.
    """

    def __call__(
        self, url: str, headers: Mapping[str, str], timeout_s: float
    ) -> Awaitable[bytes]: ...


def _unavailable() -> GeocoderUnavailableError:
    return GeocoderUnavailableError(
        "A busca de endereços (Nominatim) não respondeu. Tente de novo, ou use o link do "
        "Google Maps, um estabelecimento parceiro ou o endereço do beneficiário."
    )


async def default_get(url: str, headers: Mapping[str, str], timeout_s: float) -> bytes:
    """The default :class:`HttpGet`: :func:`geo.addresses.http.http_get`."""
    return await http_get(url, headers, timeout_s, _unavailable())


class RateLimiter:
    """Spaces calls at least ``min_interval_s`` apart, in arrival order.

    A call that would wait longer than ``max_wait_s`` raises at once instead of
    queueing: the queue is bounded by time. Reserving a slot has no await, so
    concurrent callers on one event loop never get the same slot.
    """

    def __init__(
        self,
        min_interval_s: float,
        max_wait_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = min_interval_s
        self._max_wait = max_wait_s
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")

    async def wait(self) -> None:
        """Return when the caller may send its request.

        Raises:
            GeocoderUnavailableError: the wait would exceed ``max_wait_s``.
        """
        now = self._clock()
        slot = max(now, self._next)
        if slot - now > self._max_wait:
            raise GeocoderUnavailableError(
                "Muitas buscas de endereço ao mesmo tempo. Tente de novo em alguns segundos."
            )
        self._next = slot + self._interval
        if slot > now:
            await self._sleep(slot - now)


class NominatimGeocoder:
    """Searches a Nominatim server (``/search``) for Brazilian addresses."""

    name = "nominatim"

    def __init__(
        self,
        base_url: str,
        *,
        user_agent: str,
        timeout_s: float,
        limiter: RateLimiter,
        allow_outside_brazil: bool = False,
        get: HttpGet = default_get,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._timeout_s = timeout_s
        self._limiter = limiter
        self._allow_outside_brazil = allow_outside_brazil
        self._get = get

    @classmethod
    def from_config(cls, config: GeocoderConfig, get: HttpGet = default_get) -> NominatimGeocoder:
        """A geocoder with its own rate limiter, from the deployment's settings."""
        return cls(
            config.nominatim_url,
            user_agent=config.user_agent,
            timeout_s=config.timeout_s,
            limiter=RateLimiter(config.min_interval_s, max_wait_s=config.timeout_s),
            allow_outside_brazil=config.allow_outside_brazil,
            get=get,
        )

    def url_for(self, text: str, limit: int) -> str:
        """The request URL of a search."""
        query = {
            "q": text,
            "format": "jsonv2",
            "addressdetails": "1",
            "countrycodes": "br",
            "accept-language": "pt-BR",
            "limit": str(limit),
        }
        return f"{self._base_url}/search?{urlencode(query)}"

    async def search(self, text: str, limit: int) -> list[Address]:
        """Up to ``limit`` Brazilian addresses for ``text`` (see :class:`Geocoder`)."""
        cleaned = check_query(text, limit)
        if len(cleaned) < MIN_QUERY_CHARS:
            return []
        await self._limiter.wait()
        body = await self._get(self.url_for(cleaned, limit), self._headers, self._timeout_s)
        found = in_territory(parse_reply(body), self._allow_outside_brazil)
        return unique(found, limit)


def parse_reply(body: bytes) -> list[Address]:
    """Addresses from a ``format=jsonv2`` reply; items that cannot be used are skipped.

    Raises:
        GeocoderUnavailableError: the body is not a JSON list.
    """
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _unavailable() from exc
    if not isinstance(items, list):
        raise _unavailable()
    addresses = [address_from_nominatim(item) for item in items if isinstance(item, dict)]
    return [address for address in addresses if address is not None]


def address_from_nominatim(item: Mapping[str, Any]) -> Address | None:
    """One search result as an address; None when it is unusable (no coordinates,
    values out of range). A malformed postcode or state is dropped, not fatal."""
    details = item.get("address")
    parts: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
    try:
        lat, lng = float(item["lat"]), float(item["lon"])
    except (KeyError, TypeError, ValueError):
        return None
    fields = {
        "street": _first(parts, STREET_KEYS, MAX_LENGTHS["street"]),
        "number": _clip(parts.get("house_number"), MAX_LENGTHS["number"]),
        "neighbourhood": _first(parts, NEIGHBOURHOOD_KEYS, MAX_LENGTHS["neighbourhood"]),
        "city": _first(parts, CITY_KEYS, MAX_LENGTHS["city"]),
        "state": _uf(parts),
        "cep": _cep(parts.get("postcode")),
        "label": _clip(item.get("display_name"), MAX_LENGTHS["label"]),
    }
    try:
        return Address(AddressSource.NOMINATIM, point=checked_point(lat, lng), **fields)
    except AddressError:
        log.debug("nominatim result skipped: %r", item)
        return None


def _first(parts: Mapping[str, Any], keys: Sequence[str], limit: int) -> str | None:
    for key in keys:
        value = _clip(parts.get(key), limit)
        if value:
            return value
    return None


def _clip(value: Any, limit: int) -> str | None:
    """Text cut to ``limit`` characters (geocoders' names can be long); None if not text."""
    return value.strip()[:limit] if isinstance(value, str) else None


def _uf(parts: Mapping[str, Any]) -> str | None:
    code = parts.get("ISO3166-2-lvl4")
    if isinstance(code, str) and code.upper().startswith("BR-"):
        uf = code[3:].upper()
        return uf if uf in UF_BY_STATE_NAME.values() else None
    name = parts.get("state")
    return UF_BY_STATE_NAME.get(name.strip().lower()) if isinstance(name, str) else None


CEP_SEPARATORS = str.maketrans("", "", "-. ")


def _cep(value: Any) -> str | None:
    """Eight ASCII digits, with the usual separators ("01310-200"); else none (not
    "²" or "٣", which are digits in Unicode's eyes)."""
    if not isinstance(value, str) or len(value) > 10:
        return None
    digits = value.translate(CEP_SEPARATORS)
    return digits if len(digits) == 8 and digits.isascii() and digits.isdigit() else None
