"""Coordinates out of a Google Maps link (pure, no network).

:func:`parse_maps_url` reads every common shape of link an operator copies from the
browser or receives from a caller (docs/addresses.md lists them with examples):

* a place: ``/maps/place/<name>/@lat,lng,17z/data=...!3dLAT!4dLNG...``: the
  ``!3d!4d`` pair of the data block is the place's pin and wins over the ``@``
  viewport; without it, the viewport's centre is taken (flagged ``from_viewport``);
* a point: ``/maps/@lat,lng,15z`` (also ``,500m``, Street View's ``,3a,75y,90t``,
  ``/data=...``), ``/maps/place/lat,lng``, ``/maps/search/lat,+lng``, ``?q=lat,lng``,
  ``?q=loc:lat,lng``, ``?query=`` (``/maps/search/?api=1``), ``?ll=``, ``?center=``
  (``/maps/@?api=1``), ``?viewpoint=``, embed links' ``pb=...!2dLNG!3dLAT``,
  degrees-minutes-seconds place names (``23°33'40.7"S 46°39'23.4"W``);
* a route: ``/maps/dir/<origin>/<destination>/`` with coordinates or with place
  names whose pins the data block carries (``!1dLNG!2dLAT``, in order), an empty
  origin (the caller's own location), ``/maps/dir/?api=1&origin=..&destination=..``
  and the old ``?saddr=..&daddr=..``;
* any Google host (``www.google.com``, ``google.com.br``, ``maps.google.com``...),
  with or without ``https://``, URL-encoded commas and blanks (``%2C``, ``+``,
  ``%20``), and ``geo:lat,lng`` URIs (``geo:0,0?q=lat,lng(label)`` too).

Short links (``maps.app.goo.gl``, ``goo.gl/maps``, ``share.google``) redirect on
Google's servers: they need the internet, so they raise :class:`ShortLinkError`
asking for the full URL. Links naming a place without coordinates raise
:class:`NoCoordinatesError` with the place's name; other links raise
:class:`NotMapsUrlError`; coordinates out of range raise
:class:`InvalidCoordinatesError`, outside Brazil :class:`OutsideBrazilError` (unless
allowed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from geo.addresses.address import check_territory, checked_point
from geo.addresses.errors import (
    MapsUrlError,
    NoCoordinatesError,
    NotMapsUrlError,
    ShortLinkError,
)
from registry.points import Point

MAX_URL_CHARS = 4096
"""Longest link accepted (Google's longest route links stay well under it)."""
MAX_PLACE_NAME_CHARS = 200
"""Place names read from a link are cut to this many characters."""

SHORT_LINK_HOSTS = frozenset({"maps.app.goo.gl", "goo.gl", "app.goo.gl", "g.co", "share.google"})
_GOOGLE_HOST = re.compile(r"(?:www\.|maps\.)?google\.(?:com|[a-z]{2}|com?\.[a-z]{2})")
_NUMBER = r"[+-]?\d{1,3}(?:\.\d+)?"
_DECIMAL_PAIR = re.compile(rf"({_NUMBER})\s*(?:,\s*|\s+)({_NUMBER})")
_DMS_PART = r"(\d{1,3})\s*°\s*(?:(\d{1,2}(?:\.\d+)?)\s*['′]\s*)?(?:(\d{1,2}(?:\.\d+)?)\s*[\"″]\s*)?"
_DMS_PAIR = re.compile(rf"{_DMS_PART}([NS])\s*,?\s*{_DMS_PART}([EWLO])", re.IGNORECASE)
_LABEL = re.compile(r"\s*\([^)]*\)\s*$")
_VIEWPORT = re.compile(rf"@({_NUMBER}),\s*({_NUMBER})(?:,.*)?")
_PIN = re.compile(rf"!3d({_NUMBER})!4d({_NUMBER})")
_WAYPOINT_PIN = re.compile(rf"!1d({_NUMBER})!2d({_NUMBER})")
_EMBED_CENTRE = re.compile(rf"!2d({_NUMBER})!3d({_NUMBER})")
_URL_IN_TEXT = re.compile(r"(?:https?://|geo:)\S+", re.IGNORECASE)
_SCHEMELESS = re.compile(
    r"(?<![\w.-])(?:(?:www\.|maps\.)?google\.[a-z.]+/|(?:maps\.app\.|app\.)?goo\.gl/"
    r"|share\.google/)",
    re.IGNORECASE,
)
_POINT_PARAMS = ("q", "query", "viewpoint")  # a pin: the place asked for
_VIEWPORT_PARAMS = ("ll", "center", "sll")  # the map's centre
_STOP_SEGMENT = re.compile(r"@|data=|am=")  # where a /dir/ path's waypoints end


@dataclass(frozen=True, slots=True)
class MapsLink:
    """What a Maps link points at.

    For a place or point, ``origin`` is that point and ``destination`` is None. For
    a route (``route`` True), ``origin`` and ``destination`` are its ends, either
    None when the link does not carry its coordinates (but never both).

    Attributes:
        from_viewport: the point is the map's centre (``@``, ``ll=``, ``center=``),
            not a pin: worth a look on the map before dispatching.
        origin_name / destination_name: the place names the link carries, if any.
    """

    origin: Point | None
    destination: Point | None = None
    route: bool = False
    from_viewport: bool = False
    origin_name: str | None = None
    destination_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Stop:
    point: Point | None
    name: str | None


@dataclass(frozen=True, slots=True)
class _Url:
    """The pieces of a Google Maps URL, decoded."""

    segments: tuple[str, ...]  # path segments, percent- and plus-decoded
    params: Mapping[str, str]  # first value of each query parameter, decoded
    raw: str  # the whole URL percent-decoded, for the data blocks


def parse_maps_url(text: str, *, allow_outside_brazil: bool = False) -> MapsLink:
    """The coordinates (one point, or a route's ends) in a Google Maps link.

    Args:
        text: the link as pasted; blanks or a message around it are ignored (the
            link ends at the first blank).
        allow_outside_brazil: accept points outside Brazil.

    Returns:
        The link's point, or its route's origin and destination.

    Raises:
        NotMapsUrlError: not a Google Maps link, or longer than MAX_URL_CHARS.
        ShortLinkError: a short link, which cannot be resolved offline.
        NoCoordinatesError: a Maps link with a place name but no coordinates.
        InvalidCoordinatesError: coordinates out of range.
        OutsideBrazilError: a point outside Brazil, unless allowed.
    """
    link = _link(_extract(text))
    for point in (link.origin, link.destination):
        if point is not None:
            check_territory(point, allow_outside_brazil=allow_outside_brazil)
    return link


def parse_coordinates(text: str) -> Point | None:
    """``"-23.56, -46.65"``, ``"loc:-23.56,-46.65"``, ``"-23.56,-46.65(Oficina)"``
    or ``23°33'40.7"S 46°39'23.4"W`` as coordinates; None for anything else.

    Raises:
        InvalidCoordinatesError: shaped like coordinates but out of range.
    """
    bare = _LABEL.sub("", text.strip()).removeprefix("loc:").strip()
    decimal = _DECIMAL_PAIR.fullmatch(bare)
    if decimal:
        return checked_point(float(decimal[1]), float(decimal[2]))
    dms = _DMS_PAIR.fullmatch(bare)
    if dms:
        groups = dms.groups()
        return checked_point(_degrees(groups[0:4]), _degrees(groups[4:8]))
    return None


def _degrees(parts: Sequence[str | None]) -> float:
    degrees, minutes, seconds, hemisphere = parts
    value = float(degrees or 0) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return -value if (hemisphere or "").upper() in "SWO" else value


# --- recognising the link ------------------------------------------------------------


def _extract(text: str) -> str:
    """The first link in ``text`` (alone, or inside a message), up to a blank."""
    stripped = text.strip()
    if not stripped:
        raise NotMapsUrlError("Cole o link do Google Maps.")
    if len(stripped) > MAX_URL_CHARS:
        raise NotMapsUrlError(
            f"O link tem mais de {MAX_URL_CHARS} caracteres: cole só o endereço da página "
            "do Google Maps."
        )
    found = _URL_IN_TEXT.search(stripped) or _SCHEMELESS.search(stripped)
    if found is None:
        raise _not_maps()
    return stripped[found.start() :].split()[0]  # links never hold a raw blank


def _not_maps() -> NotMapsUrlError:
    return NotMapsUrlError(
        "Este não é um link do Google Maps. Abra o local no Google Maps e cole o endereço "
        "completo da barra do navegador (começa com https://www.google.com/maps/)."
    )


def _short_link() -> ShortLinkError:
    return ShortLinkError(
        "Links curtos do Google Maps (maps.app.goo.gl, goo.gl/maps) só abrem com acesso à "
        "internet. Abra o link no navegador, espere o mapa carregar e cole aqui o endereço "
        "completo da barra do navegador (começa com https://www.google.com/maps/)."
    )


def _link(url: str) -> MapsLink:
    if url[:4].lower() == "geo:":
        return _geo_uri(url)
    if "://" not in url:
        url = "https://" + url
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. a malformed [IPv6] host
        raise _not_maps() from exc
    host = (parts.hostname or "").lower()
    if host in SHORT_LINK_HOSTS:
        raise _short_link()
    if not _GOOGLE_HOST.fullmatch(host):
        raise _not_maps()
    segments = tuple(unquote_plus(s) for s in parts.path.split("/"))
    if not host.startswith("maps.") and (len(segments) < 2 or segments[1] != "maps"):
        raise _not_maps()
    params = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return _read(_Url(segments, params, unquote(url)))


def _read(url: _Url) -> MapsLink:
    if "dir" in url.segments or "saddr" in url.params or "daddr" in url.params:
        return _route(url)
    return _place(url)


# --- one place ----------------------------------------------------------------------


def _place(url: _Url) -> MapsLink:
    """A place: the pin, else an explicit point, else the viewport's centre."""
    name = _place_name(url)
    pin = _PIN.search(url.raw)
    if pin:
        return MapsLink(checked_point(float(pin[1]), float(pin[2])), origin_name=name)
    asked = next(_explicit_points(url), None)
    if asked is not None:
        return MapsLink(asked, origin_name=name)
    centre = _viewport(url)
    if centre is not None:
        return MapsLink(centre, from_viewport=True, origin_name=name)
    raise _no_coordinates(name)


def _explicit_points(url: _Url) -> Iterator[Point]:
    """Points the link asks for by value: ``q=``, ``query=``, ``/place/lat,lng``."""
    for key in _POINT_PARAMS:
        point = parse_coordinates(url.params.get(key, ""))
        if point is not None:
            yield point
    for segment in _after(url.segments, ("place", "search")):
        point = parse_coordinates(segment)
        if point is not None:
            yield point


def _viewport(url: _Url) -> Point | None:
    """The map's centre: ``ll=``, ``center=``, an embed's ``pb=``, ``/@lat,lng``."""
    for key in _VIEWPORT_PARAMS:
        point = parse_coordinates(url.params.get(key, ""))
        if point is not None:
            return point
    embed = _EMBED_CENTRE.search(url.params.get("pb", ""))
    if embed:
        return checked_point(float(embed[2]), float(embed[1]))
    for segment in url.segments:
        match = _VIEWPORT.fullmatch(segment)
        if match:
            return checked_point(float(match[1]), float(match[2]))
    return None


def _place_name(url: _Url) -> str | None:
    """The place's name: the ``/place/<name>`` or ``/search/<name>`` segment, or a
    ``q=`` that is not coordinates."""
    candidates = [*_after(url.segments, ("place", "search"))]
    candidates += [url.params.get(key, "") for key in _POINT_PARAMS]
    for candidate in candidates:
        name = _name(candidate)
        if name is not None:
            return name
    return None


def _after(segments: Sequence[str], markers: Sequence[str]) -> Iterator[str]:
    """The segment right after each marker segment (``place``, ``search``...)."""
    for index, segment in enumerate(segments[:-1]):
        following = segments[index + 1]
        if segment in markers and following and not _STOP_SEGMENT.match(following):
            yield following


def _name(text: str) -> str | None:
    """``text`` as a place name: None when blank or when it is coordinates."""
    cleaned = " ".join(text.split())
    if not cleaned or parse_coordinates(cleaned) is not None:
        return None
    return cleaned[:MAX_PLACE_NAME_CHARS]


def _no_coordinates(name: str | None) -> NoCoordinatesError:
    how = (
        "No Google Maps, clique no local até aparecer o alfinete vermelho e copie o endereço "
        "da barra do navegador, ou clique com o botão direito no ponto e copie as coordenadas."
    )
    if name is None:
        return NoCoordinatesError(f"O link do Google Maps não traz coordenadas. {how}")
    return NoCoordinatesError(
        f'O link aponta para "{name}", mas não traz as coordenadas do local. {how}', name
    )


# --- routes -------------------------------------------------------------------------


def _route(url: _Url) -> MapsLink:
    stops = _api_stops(url) or _path_stops(url)
    origin = stops[0] if stops else _Stop(None, None)
    destination = stops[-1] if len(stops) > 1 else _Stop(None, None)
    if origin.point is None and destination.point is None:
        names = [stop.name for stop in (origin, destination) if stop.name]
        raise NoCoordinatesError(
            "A rota do link não traz as coordenadas da origem nem do destino. Abra cada "
            "ponto no Google Maps e cole o link do local (com o alfinete vermelho).",
            names[0] if names else None,
        )
    return MapsLink(
        origin.point,
        destination.point,
        route=True,
        origin_name=origin.name,
        destination_name=destination.name,
    )


def _api_stops(url: _Url) -> list[_Stop]:
    """``origin=``/``destination=`` (``api=1``) or ``saddr=``/``daddr=``."""
    for start, end in (("origin", "destination"), ("saddr", "daddr")):
        if start in url.params or end in url.params:
            return [_stop(url.params.get(start, "")), _stop(url.params.get(end, ""))]
    return []


def _path_stops(url: _Url) -> list[_Stop]:
    """``/dir/<stop>/<stop>/...``: coordinates as typed, or the data block's pins
    (``!1dLNG!2dLAT``, one per named stop, in order); an empty stop (the caller's
    own location) has neither."""
    segments = list(url.segments)
    start = segments.index("dir") + 1
    waypoints: list[str] = []
    for segment in segments[start:]:
        if _STOP_SEGMENT.match(segment):
            break
        waypoints.append(segment)
    if waypoints and not waypoints[-1]:
        waypoints.pop()  # the trailing slash
    pins = iter(_WAYPOINT_PIN.findall(url.raw))
    stops = []
    for waypoint in waypoints:
        stop = _stop(waypoint)
        if stop.point is None and stop.name is not None:
            pin = next(pins, None)
            if pin is not None:
                stop = _Stop(checked_point(float(pin[1]), float(pin[0])), stop.name)
        stops.append(stop)
    return stops


def _stop(text: str) -> _Stop:
    return _Stop(parse_coordinates(text), _name(text))


# --- geo: URIs ----------------------------------------------------------------------


def _geo_uri(uri: str) -> MapsLink:
    """``geo:lat,lng[,alt][;u=..][?z=..]``; ``geo:0,0?q=lat,lng(label)`` gives the q."""
    body, _, query = uri[4:].partition("?")
    params = {key: values[0] for key, values in parse_qs(query).items()}
    asked = params.get("q", "")
    point = parse_coordinates(asked)
    if point is not None:
        return MapsLink(point, origin_name=_label_of(asked))
    path = unquote(body).split(";")[0]
    coordinates = ",".join(path.split(",")[:2])
    point = parse_coordinates(coordinates)
    if point is None:
        raise MapsUrlError("O link geo: não traz coordenadas válidas.")
    if point.lat == 0 and point.lng == 0 and asked:
        raise _no_coordinates(_name(asked))
    return MapsLink(point)


def _label_of(text: str) -> str | None:
    label = re.search(r"\(([^)]*)\)\s*$", text)
    return _name(label[1]) if label else None
