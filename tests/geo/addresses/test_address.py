"""The address value, the territory rule and the Brazil polygon (pure)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.addresses import (
    Address,
    AddressSource,
    InvalidAddressError,
    InvalidCoordinatesError,
    OutsideBrazilError,
    Place,
    address_from_place_name,
    check_territory,
)
from geo.addresses.address import checked_point, fold
from geo.addresses.brazil import BRAZIL_POLYGON, in_brazil, point_in_polygon
from geo.errors import GeoError
from registry.points import Point

IN_BRAZIL = {
    "São Paulo": (-23.5505, -46.6333),
    "Manaus": (-3.1190, -60.0217),
    "Fernando de Noronha": (-3.8547, -32.4246),
    "Atol das Rocas": (-3.8600, -33.8000),
    "São Pedro e São Paulo": (0.9170, -29.3460),
    "Trindade": (-20.5100, -29.3200),
    "Martim Vaz": (-20.4700, -28.8500),
    "Brasília": (-15.7939, -47.8828),
    "Belém": (-1.4558, -48.5044),
    "Porto Alegre": (-30.0346, -51.2177),
    "Ponta do Seixas": (-7.1550, -34.7930),
    "Chuí": (-33.6866, -53.4594),
    "Jaguarão": (-32.5660, -53.3760),
    "Aceguá": (-31.8670, -54.1610),
    "Santana do Livramento": (-30.8900, -55.5320),
    "Quaraí": (-30.3880, -56.4510),
    "Barra do Quaraí": (-30.2100, -57.5500),
    "Uruguaiana": (-29.7550, -57.0880),
    "São Borja": (-28.6600, -56.0040),
    "Porto Xavier": (-27.9080, -55.1370),
    "Dionísio Cerqueira": (-26.2550, -53.6400),
    "Foz do Iguaçu": (-25.5478, -54.5882),
    "Guaíra": (-24.0800, -54.2560),
    "Ponta Porã": (-22.5360, -55.7250),
    "Porto Murtinho": (-21.6990, -57.8820),
    "Corumbá": (-19.0080, -57.6510),
    "Cáceres": (-16.0710, -57.6790),
    "Vila Bela": (-15.0080, -59.9510),
    "Costa Marques": (-12.4450, -64.2270),
    "Guajará-Mirim": (-10.7830, -65.3390),
    "Plácido de Castro": (-10.3350, -67.1850),
    "Brasiléia": (-11.0160, -68.7480),
    "Assis Brasil": (-10.9410, -69.5730),
    "Santa Rosa do Purus": (-9.4460, -70.4900),
    "Marechal Thaumaturgo": (-8.9400, -72.7900),
    "Mâncio Lima": (-7.6140, -72.8960),
    "westernmost point": (-7.5400, -73.9900),
    "Tabatinga": (-4.2520, -69.9380),
    "São Gabriel da Cachoeira": (-0.1300, -67.0890),
    "Cucuí": (1.2000, -66.8500),
    "Pico da Neblina": (0.8000, -66.0000),
    "Pacaraima": (4.4800, -61.1500),
    "Monte Caburaí": (5.2700, -60.2100),
    "Bonfim": (3.3600, -59.8300),
    "Oiapoque": (3.8400, -51.8300),
}
OUTSIDE_BRAZIL = {
    "Buenos Aires": (-34.6037, -58.3816),
    "Montevideo": (-34.9011, -56.1645),
    "Lisbon": (38.7223, -9.1393),
    "Asunción": (-25.2637, -57.5759),
    "Salto": (-31.3833, -57.9667),
    "Santa Cruz de la Sierra": (-17.7833, -63.1821),
    "La Paz": (-16.4897, -68.1193),
    "Lima": (-12.0464, -77.0428),
    "Iquitos": (-3.7437, -73.2516),
    "Bogotá": (4.7110, -74.0721),
    "Caracas": (10.4806, -66.9036),
    "Georgetown": (6.8013, -58.1551),
    "Paramaribo": (5.8520, -55.2038),
    "Cayenne": (4.9224, -52.3135),
    "Ascension Island": (-7.9467, -14.3559),
    "Null Island": (0.0, 0.0),
    "São Paulo, swapped": (-46.6333, -23.5505),
    "São Paulo, minus sign dropped": (23.5505, -46.6333),
}


@pytest.mark.parametrize("place", sorted(IN_BRAZIL))
def test_places_in_brazil_are_inside(place: str) -> None:
    assert in_brazil(*IN_BRAZIL[place])


@pytest.mark.parametrize("place", sorted(OUTSIDE_BRAZIL))
def test_places_abroad_are_outside(place: str) -> None:
    assert not in_brazil(*OUTSIDE_BRAZIL[place])


def test_point_in_polygon_on_a_square() -> None:
    square = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)]
    assert point_in_polygon(0.5, 0.5, square)
    assert not point_in_polygon(1.5, 0.5, square)
    assert not point_in_polygon(0.5, -0.1, square)


def test_polygon_vertices_are_valid_coordinates() -> None:
    assert len(BRAZIL_POLYGON) >= 20
    for lat, lng in BRAZIL_POLYGON:
        Point(lat, lng)


def test_address_normalises_its_fields() -> None:
    address = Address(
        AddressSource.MANUAL,
        street="  Avenida   Nove de Julho ",
        number=" 150",
        complement="",
        neighbourhood="Bela Vista",
        city="São Paulo",
        state="sp",
        cep="01313-000",
        reference=" em frente ao metrô ",
        point=Point(-23.55, -46.64),
    )
    assert address.street == "Avenida Nove de Julho"
    assert address.number == "150"
    assert address.complement is None
    assert address.state == "SP"
    assert address.cep == "01313000"
    assert address.reference == "em frente ao metrô"
    assert address.point == Point(-23.55, -46.64)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"state": "XX"}, "state", "UF inválida"),
        ({"cep": "1234"}, "cep", "CEP inválido"),
        ({"street": "x" * 161}, "street", "O logradouro aceita até 160"),
    ],
)
def test_address_refuses_malformed_fields(
    fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidAddressError) as caught:
        Address(AddressSource.MANUAL, **fields)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert message in caught.value.message
    assert isinstance(caught.value, GeoError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("lat", "lng", "field", "message"),
    [
        (91.0, 0.0, "lat", "Latitude inválida"),
        (0.0, -181.0, "lng", "Longitude inválida"),
        (math.nan, 0.0, "lat", "Latitude inválida"),
    ],
)
def test_points_read_from_a_source_are_checked(
    lat: float, lng: float, field: str, message: str
) -> None:
    with pytest.raises(InvalidCoordinatesError) as caught:
        checked_point(lat, lng)
    assert (caught.value.field, caught.value.code) == (field, "invalid_coordinates")
    assert message in caught.value.message


def test_a_place_is_an_address_with_its_point() -> None:
    with pytest.raises(InvalidCoordinatesError) as caught:
        Place(AddressSource.MANUAL, street="Rua X")
    assert "latitude e longitude" in caught.value.message
    place = Place(AddressSource.MAPS_URL, point=Point(-23.5, -46.6))
    assert isinstance(place, Address)
    assert place.at == Point(-23.5, -46.6)
    assert place.one_line() == "-23.500000, -46.600000"
    named = Place(
        AddressSource.MANUAL,
        street="Rua X",
        number="10",
        city="Santos",
        state="SP",
        point=Point(-23.9, -46.3),
    )
    assert named.one_line() == "Rua X, 10 - Santos/SP"


def test_coordinates_are_rounded_to_seven_decimals() -> None:
    assert Point(-23.123456789, -46.987654321) == Point(-23.1234568, -46.9876543)


def test_territory_rule() -> None:
    lisbon = Point(*OUTSIDE_BRAZIL["Lisbon"])
    with pytest.raises(OutsideBrazilError) as caught:
        check_territory(lisbon, allow_outside_brazil=False)
    assert "fora do Brasil" in caught.value.message
    assert caught.value.code == "outside_brazil"
    assert check_territory(lisbon, allow_outside_brazil=True) == lisbon
    manaus = Point(*IN_BRAZIL["Manaus"])
    assert check_territory(manaus, allow_outside_brazil=False) == manaus


@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)
def test_coordinates_in_range_are_accepted(lat: float, lng: float) -> None:
    point = Point(lat, lng)
    assert abs(point.lat - lat) <= 1e-7 and abs(point.lng - lng) <= 1e-7


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not -90 <= v <= 90))
def test_latitudes_out_of_range_are_refused(lat: float) -> None:
    with pytest.raises(InvalidCoordinatesError):
        checked_point(lat, 0.0)


def test_fold_strips_case_accents_and_punctuation() -> None:
    assert fold(" Av. São  João-Nº 5 ") == "av sao joao no 5"
    assert fold("CONCEIÇÃO") == "conceicao"


def test_google_formatted_address_is_split_into_fields() -> None:
    point = Point(-23.5612843, -46.6559029)
    name = "Av. Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200"
    address = address_from_place_name(name, point)
    assert (address.street, address.number, address.neighbourhood) == (
        "Av. Paulista",
        "1578",
        "Bela Vista",
    )
    assert (address.city, address.state, address.cep) == ("São Paulo", "SP", "01310200")
    assert (address.point, address.label) == (point, name)
    square = address_from_place_name("Praça da Sé - Sé, São Paulo - SP, 01001-000", point)
    assert (square.street, square.number, square.neighbourhood) == ("Praça da Sé", None, "Sé")


@pytest.mark.parametrize("name", ["MASP", "Oficina do Zé", "Rua X - Centro, Cidade - ZZ", None])
def test_other_place_names_are_kept_as_the_label(name: str | None) -> None:
    address = address_from_place_name(name, Point(-23.5, -46.6))
    assert address.street is None and address.state is None
    assert address.label == name
