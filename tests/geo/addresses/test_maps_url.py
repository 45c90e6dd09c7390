"""Google Maps links: every common shape, bad links, and round trips (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.addresses import (
    AddressError,
    InvalidCoordinatesError,
    MapsUrlError,
    NoCoordinatesError,
    NotMapsUrlError,
    OutsideBrazilError,
    ShortLinkError,
    in_brazil,
    parse_coordinates,
    parse_maps_url,
)
from geo.addresses.maps_url import MAX_URL_CHARS
from registry.points import Point

PAULISTA = Point(-23.5612843, -46.6559029)
SE = Point(-23.5505, -46.6342)
VIEW = Point(-23.5613, -46.6565)
RIO = Point(-22.9068, -43.1729)
RECIFE = Point(-8.0476, -34.877)


@dataclass(frozen=True)
class Case:
    url: str
    origin: Point | None
    destination: Point | None = None
    route: bool = False
    from_viewport: bool = False
    origin_name: str | None = None
    destination_name: str | None = None


GOOD: dict[str, Case] = {
    "viewport with zoom": Case(
        "https://www.google.com/maps/@-23.5613,-46.6565,15z", VIEW, from_viewport=True
    ),
    "viewport, fractional zoom and entry": Case(
        "https://www.google.com/maps/@-23.5613,-46.6565,17.5z?entry=ttu", VIEW, from_viewport=True
    ),
    "satellite viewport in metres with data": Case(
        "https://www.google.com/maps/@-23.5613,-46.6565,500m/data=!3m1!1e3",
        VIEW,
        from_viewport=True,
    ),
    "street view": Case(
        "https://www.google.com/maps/@-23.5613,-46.6565,3a,75y,90t/data=!3m6!1e1!3m4"
        "!1sAF1QipN!2e0!7i16384!8i8192",
        VIEW,
        from_viewport=True,
    ),
    "place with pin winning over the viewport": Case(
        "https://www.google.com.br/maps/place/Av.+Paulista,+1578+-+Bela+Vista,+S%C3%A3o+Paulo"
        "+-+SP,+01310-200/@-23.5613,-46.6565,17z/data=!3m1!4b1!4m6!3m5!1s0x94ce59c8da0aa315:"
        "0xd59f9431f2c9776a!8m2!3d-23.5612843!4d-46.6559029!16s%2Fg%2F11c1p8m3q1?entry=ttu",
        PAULISTA,
        origin_name="Av. Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200",
    ),
    "place without data: the viewport": Case(
        "https://www.google.com/maps/place/MASP/@-23.5613,-46.6565,17z",
        VIEW,
        from_viewport=True,
        origin_name="MASP",
    ),
    "place data without viewport": Case(
        "https://www.google.com/maps/place/Pra%C3%A7a+da+S%C3%A9/data=!4m2!3m1"
        "!1s0x94ce59:0x1e5f!3d-23.5505!4d-46.6342",
        SE,
        origin_name="Praça da Sé",
    ),
    "place given as coordinates": Case("https://www.google.com/maps/place/-23.5505,-46.6342", SE),
    "place in degrees, minutes, seconds": Case(
        "https://www.google.com/maps/place/23%C2%B033'01.8%22S+46%C2%B038'03.1%22W"
        "/@-23.5613,-46.6565,17z",
        Point(-23.5505, -46.6341944),
    ),
    "search path with a blank after the comma": Case(
        "https://www.google.com/maps/search/-23.5505,+-46.6342?entry=tts", SE
    ),
    "maps.google.com q": Case("https://maps.google.com/?q=-23.5505,-46.6342", SE),
    "q with an encoded comma and zoom": Case(
        "https://maps.google.com/maps?q=-23.5505%2C-46.6342&z=16", SE
    ),
    "q with an encoded blank": Case("https://www.google.com/maps?q=-23.5505,%20-46.6342", SE),
    "q=loc:": Case("https://www.google.com/maps?q=loc:-23.5505,-46.6342", SE),
    "q with a label": Case(
        "https://maps.google.com/maps?q=-23.5505,-46.6342+(Oficina+Central)", SE
    ),
    "ll": Case("https://maps.google.com/maps?ll=-22.9068,-43.1729&z=14", RIO, from_viewport=True),
    "center (api=1 map)": Case(
        "https://www.google.com/maps/@?api=1&map_action=map&center=-22.9068,-43.1729&zoom=12",
        RIO,
        from_viewport=True,
    ),
    "search api=1 query": Case(
        "https://www.google.com/maps/search/?api=1&query=-8.0476,-34.877", RECIFE
    ),
    "old http maps.google.com.br": Case(
        "http://maps.google.com.br/maps?q=-8.0476,-34.877&hl=pt-BR", RECIFE
    ),
    "no scheme": Case("google.com/maps/@-22.9068,-43.1729,14z", RIO, from_viewport=True),
    "positive coordinates (Roraima)": Case(
        "https://www.google.com/maps/@2.8235,-60.6758,13z",
        Point(2.8235, -60.6758),
        from_viewport=True,
    ),
    "explicit plus signs": Case(
        "https://www.google.com/maps?q=%2B2.8235,-60.6758", Point(2.8235, -60.6758)
    ),
    "link inside a message": Case(
        "Segue o local: https://www.google.com/maps?q=-8.0476,-34.877 obrigado", RECIFE
    ),
    "link followed by a message": Case(
        "https://maps.google.com/?q=-8.0476,-34.877 é aqui o guincho", RECIFE
    ),
    "viewpoint (api=1 Street View)": Case(
        "https://www.google.com/maps/@?api=1&map_action=pano&viewpoint=-22.9068,-43.1729", RIO
    ),
    "embed": Case(
        "https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d3657.19!2d-46.6342!3d-23.5505"
        "!2m3!1f0!2f0!3f0!3m2!1i1024!2i768!4f13.1",
        SE,
        from_viewport=True,
    ),
    "route with coordinates": Case(
        "https://www.google.com/maps/dir/-23.5612843,-46.6559029/-23.5505,-46.6342/",
        PAULISTA,
        SE,
        route=True,
    ),
    "route with coordinates and viewport": Case(
        "https://www.google.com/maps/dir/-23.5612843,-46.6559029/-23.5505,-46.6342"
        "/@-23.55,-46.64,14z/data=!3m1!4b1",
        PAULISTA,
        SE,
        route=True,
    ),
    "route between named places (pins in the data block)": Case(
        "https://www.google.com/maps/dir/Av.+Paulista,+1578+-+Bela+Vista,+S%C3%A3o+Paulo+-+SP"
        "/Pra%C3%A7a+da+S%C3%A9+-+S%C3%A9,+S%C3%A3o+Paulo+-+SP/@-23.5584,-46.6495,15z"
        "/data=!3m1!4b1!4m13!4m12!1m5!1m1!1s0x94ce59c8da0aa315:0xd59f9431f2c9776a!2m2"
        "!1d-46.6559029!2d-23.5612843!1m5!1m1!1s0x94ce59a9:0x1e5f2b4b!2m2!1d-46.6342"
        "!2d-23.5505!3e0",
        PAULISTA,
        SE,
        route=True,
        origin_name="Av. Paulista, 1578 - Bela Vista, São Paulo - SP",
        destination_name="Praça da Sé - Sé, São Paulo - SP",
    ),
    "route from the caller's location": Case(
        "https://www.google.com/maps/dir//-23.5505,-46.6342/@-23.55,-46.64,14z",
        None,
        SE,
        route=True,
    ),
    "route api=1": Case(
        "https://www.google.com/maps/dir/?api=1&origin=-23.5612843,-46.6559029"
        "&destination=-23.5505%2C-46.6342&travelmode=driving",
        PAULISTA,
        SE,
        route=True,
    ),
    "route api=1 destination only": Case(
        "https://www.google.com/maps/dir/?api=1&destination=-23.5505,-46.6342",
        None,
        SE,
        route=True,
    ),
    "old saddr/daddr": Case(
        "https://maps.google.com/maps?saddr=-23.5612843,-46.6559029&daddr=-23.5505,-46.6342",
        PAULISTA,
        SE,
        route=True,
    ),
    "geo URI": Case("geo:-23.5505,-46.6342", SE),
    "geo URI with altitude and uncertainty": Case("geo:-23.5505,-46.6342,760;u=35", SE),
    "geo URI with q and label": Case(
        "geo:0,0?q=-23.5505,-46.6342(Oficina)", SE, origin_name="Oficina"
    ),
}


@pytest.mark.parametrize("shape", sorted(GOOD))
def test_real_world_shapes(shape: str) -> None:
    case = GOOD[shape]
    link = parse_maps_url(case.url)
    assert (link.origin, link.destination) == (case.origin, case.destination)
    assert (link.route, link.from_viewport) == (case.route, case.from_viewport)
    if case.origin_name is not None:
        assert link.origin_name == case.origin_name
    if case.destination_name is not None:
        assert link.destination_name == case.destination_name


def test_at_least_fifteen_shapes_are_covered() -> None:
    assert len(GOOD) >= 15


BAD: dict[str, tuple[str, type[AddressError], str]] = {
    "maps.app.goo.gl": ("https://maps.app.goo.gl/9zQ1Xk2mZq3", ShortLinkError, "endereço completo"),
    "goo.gl/maps": ("https://goo.gl/maps/AbCdEf123", ShortLinkError, "barra do navegador"),
    "short link without scheme": ("maps.app.goo.gl/9zQ1Xk2mZq3", ShortLinkError, "internet"),
    "share.google": ("https://share.google/aBcD1234", ShortLinkError, "Links curtos"),
    "openstreetmap": (
        "https://www.openstreetmap.org/#map=15/-23.5505/-46.6342",
        NotMapsUrlError,
        "não é um link do Google Maps",
    ),
    "google search": (
        "https://www.google.com/search?q=-23.5505,-46.6342",
        NotMapsUrlError,
        "não é um link do Google Maps",
    ),
    "lookalike host": (
        "https://google.com.evil.example/maps/@-23.5,-46.6,15z",
        NotMapsUrlError,
        "não é um link",
    ),
    "lookalike host without scheme": (
        "notgoogle.com/maps/@-23.5,-46.6,15z",
        NotMapsUrlError,
        "não é um link",
    ),
    "malformed host": ("https://[::1/maps/@-23.5,-46.6,15z", NotMapsUrlError, "não é um link"),
    "plain text": ("Rua Augusta, 1500", NotMapsUrlError, "não é um link"),
    "empty": ("   ", NotMapsUrlError, "Cole o link"),
    "too long": (
        "https://www.google.com/maps/@-23.5,-46.6,15z?x=" + "a" * MAX_URL_CHARS,
        NotMapsUrlError,
        f"{MAX_URL_CHARS} caracteres",
    ),
    "place name only": (
        "https://www.google.com/maps/place/Oficina+do+Z%C3%A9",
        NoCoordinatesError,
        '"Oficina do Zé"',
    ),
    "search by name": (
        "https://www.google.com/maps/search/?api=1&query=Rua+Augusta+1500",
        NoCoordinatesError,
        '"Rua Augusta 1500"',
    ),
    "q by name": ("https://maps.google.com/?q=MASP", NoCoordinatesError, '"MASP"'),
    "bare maps": ("https://www.google.com/maps", NoCoordinatesError, "não traz coordenadas"),
    "route between names without data": (
        "https://www.google.com/maps/dir/MASP/Pra%C3%A7a+da+S%C3%A9/",
        NoCoordinatesError,
        "origem nem do destino",
    ),
    "latitude out of range": (
        "https://www.google.com/maps/@-123.5,-46.6,15z",
        InvalidCoordinatesError,
        "Latitude inválida",
    ),
    "longitude out of range": (
        "https://maps.google.com/?q=-23.5,-246.6",
        InvalidCoordinatesError,
        "Longitude inválida",
    ),
    "Buenos Aires": (
        "https://www.google.com/maps/@-34.6037,-58.3816,15z",
        OutsideBrazilError,
        "fora do Brasil",
    ),
    "swapped coordinates": (
        "https://maps.google.com/?q=-46.6342,-23.5505",
        OutsideBrazilError,
        "trocadas",
    ),
    "route ending in Lisbon": (
        "https://www.google.com/maps/dir/-23.5505,-46.6342/38.7223,-9.1393/",
        OutsideBrazilError,
        "fora do Brasil",
    ),
    "geo URI without coordinates": ("geo:abc", MapsUrlError, "geo:"),
}


@pytest.mark.parametrize("shape", sorted(BAD))
def test_bad_links_get_a_clear_message(shape: str) -> None:
    url, error, fragment = BAD[shape]
    with pytest.raises(error) as caught:
        parse_maps_url(url)
    assert fragment in caught.value.message
    assert caught.value.code.startswith(("maps_url", "invalid_", "outside_"))


def test_no_coordinates_error_carries_the_place_name() -> None:
    with pytest.raises(NoCoordinatesError) as caught:
        parse_maps_url("https://www.google.com/maps/place/MASP")
    assert caught.value.place_name == "MASP"


def test_points_abroad_pass_when_allowed() -> None:
    link = parse_maps_url(
        "https://www.google.com/maps/@38.7223,-9.1393,15z", allow_outside_brazil=True
    )
    assert link.origin == Point(38.7223, -9.1393)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-23.5505,-46.6342", SE),
        (" -23.5505 , -46.6342 ", SE),
        ("-23.5505 -46.6342", SE),
        ("loc:-23.5505,-46.6342", SE),
        ("-23.5505,-46.6342 (Oficina)", SE),
        ("23°33'01.8\"S 46°38'03.1\"W", Point(-23.5505, -46.6341944)),
        ("23° 33' 1.8\" S, 46° 38' 3.1\" O", Point(-23.5505, -46.6341944)),
        ("MASP", None),
        ("Rua 25 de Março, 1000", None),
        ("", None),
    ],
)
def test_parse_coordinates(text: str, expected: Point | None) -> None:
    assert parse_coordinates(text) == expected


# --- properties ----------------------------------------------------------------------

PLACE_SHAPES = [
    "https://www.google.com/maps/@{lat},{lng},15z",
    "https://www.google.com/maps/@{lat},{lng},17.5z/data=!3m1!1e3",
    "https://maps.google.com/?q={lat},{lng}",
    "https://www.google.com.br/maps?q={lat}%2C{lng}&z=16",
    "https://www.google.com/maps?q=loc:{lat},+{lng}",
    "https://maps.google.com/maps?ll={lat},{lng}&z=14",
    "https://www.google.com/maps/@?api=1&map_action=map&center={lat},{lng}",
    "https://www.google.com/maps/search/?api=1&query={lat},{lng}",
    "https://www.google.com/maps/place/{lat},{lng}",
    "https://www.google.com/maps/place/Lugar/@-10,-50,17z/data=!4m5!3m4!8m2!3d{lat}!4d{lng}",
    "geo:{lat},{lng}",
    "google.com/maps/search/{lat},%20{lng}",
]
ROUTE_SHAPES = [
    "https://www.google.com/maps/dir/{lat},{lng}/{lat2},{lng2}/",
    "https://www.google.com/maps/dir/?api=1&origin={lat},{lng}&destination={lat2},{lng2}",
    "https://maps.google.com/maps?saddr={lat}%2C{lng}&daddr={lat2}%2C{lng2}",
    "https://www.google.com/maps/dir/A/B/@-10,-50,5z/data=!4m2!1d{lng}!2d{lat}!1d{lng2}!2d{lat2}",
]


def _decimal(low: float, high: float) -> st.SearchStrategy[str]:
    """A coordinate as typed in links: 0 to 7 decimals."""
    return st.builds(
        lambda value, places: f"{value:.{places}f}",
        st.floats(min_value=low, max_value=high),
        st.integers(0, 7),
    )


brazil_points = st.tuples(_decimal(-33.7, 5.2), _decimal(-73.9, -34.8)).filter(
    lambda p: in_brazil(Point(float(p[0]), float(p[1])))
)
world_points = st.tuples(_decimal(-90, 90), _decimal(-180, 180))


@given(brazil_points, st.sampled_from(PLACE_SHAPES))
def test_place_shapes_round_trip(point: tuple[str, str], shape: str) -> None:
    lat, lng = point
    link = parse_maps_url(shape.format(lat=lat, lng=lng))
    assert link.origin == Point(float(lat), float(lng))
    assert link.destination is None and not link.route


@given(world_points, world_points, st.sampled_from(ROUTE_SHAPES))
def test_route_shapes_round_trip(start: tuple[str, str], end: tuple[str, str], shape: str) -> None:
    url = shape.format(lat=start[0], lng=start[1], lat2=end[0], lng2=end[1])
    link = parse_maps_url(url, allow_outside_brazil=True)
    assert link.origin == Point(float(start[0]), float(start[1]))
    assert link.destination == Point(float(end[0]), float(end[1]))
    assert link.route


@given(world_points)
def test_territory_decides_outside_points(point: tuple[str, str]) -> None:
    coordinates = Point(float(point[0]), float(point[1]))
    url = f"https://maps.google.com/?q={point[0]},{point[1]}"
    if in_brazil(coordinates):
        assert parse_maps_url(url).origin == coordinates
    else:
        with pytest.raises(OutsideBrazilError):
            parse_maps_url(url)


@given(st.text(max_size=300) | st.builds("https://www.google.com/maps/{}".format, st.text()))
def test_any_text_parses_or_raises_an_address_error(text: str) -> None:
    try:
        link = parse_maps_url(text, allow_outside_brazil=True)
    except AddressError as exc:
        assert exc.message
    else:
        assert link.origin is not None or link.destination is not None
