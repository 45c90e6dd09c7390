"""The offline geocoder on real PostgreSQL: partner sites and beneficiaries found by
street, neighbourhood, city or CEP, accent- and case-insensitively."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from geo.addresses import (
    Address,
    AddressSource,
    GeocoderConfig,
    GeocoderKind,
    GeocoderQueryError,
    beneficiary_address,
    partner_site_address,
)
from geo.addresses.factory import make_geocoder
from geo.addresses.geocoder import FallbackGeocoder
from geo.addresses.offline import (
    DEFAULT_SOURCES,
    OfflineGeocoder,
    OfflineQuery,
    accent_pattern,
    address_columns_source,
    parse_offline_query,
)
from registry import models as m
from registry.enums import PersonKind
from registry.points import Point
from registry.validation import make_cnpj, make_cpf
from tests.conftest import unit

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Av. São João, 439 - Centro", OfflineQuery(("av", "sao", "joao", "centro"), None, "439")),
        ("01310-200", OfflineQuery(cep="01310200")),
        ("01310", OfflineQuery(cep="01310")),
        ("013102", OfflineQuery(cep="013102")),
        ("paulista 01310-200", OfflineQuery(("paulista",), "01310200")),
        ("R 7 de Setembro", OfflineQuery(("de", "setembro"), None, "7")),
        ("a b", OfflineQuery()),
        ("1 2 3 4 5 6 7 8 9", OfflineQuery(number="1")),
    ],
)
def test_query_parsing(text: str, expected: OfflineQuery) -> None:
    assert parse_offline_query(text) == expected


def _site(client_id: int, name: str, **fields: Any) -> m.PartnerSite:
    return m.PartnerSite(client_id=client_id, name=name, kind="oficina", **fields)


def _beneficiary(client_id: int, n: int, **fields: Any) -> m.Beneficiary:
    return m.Beneficiary(
        client_id=client_id,
        person_kind=PersonKind.PF,
        document=make_cpf(100_000_000 + n),
        name=f"Pessoa {n}",
        **fields,
    )


@pytest.fixture
async def known(db: Sessions) -> Sessions:
    async with db() as session, session.begin():
        client = m.Client(cnpj=make_cnpj(100), trade_name="Cliente", legal_name="Cliente SA")
        session.add(client)
        await session.flush()
        session.add_all(
            [
                _site(
                    client.id,
                    "Oficina Central",
                    street="Rua da Conceição",
                    number="100",
                    neighbourhood="Centro",
                    city="São Paulo",
                    state="SP",
                    cep="01001000",
                    location=Point(-23.5489, -46.6388).element(),
                ),
                _site(
                    client.id,
                    "Base Lisboa",
                    street="Rua Augusta",
                    number="1",
                    city="Lisboa",
                    location=Point(38.71, -9.14).element(),
                ),
                _beneficiary(
                    client.id,
                    1,
                    street="Avenida Paulista",
                    number="1578",
                    neighbourhood="Bela Vista",
                    city="São Paulo",
                    state="SP",
                    cep="01310200",
                    location=Point(-23.5613, -46.6560).element(),
                ),
                _beneficiary(
                    client.id,
                    2,
                    street="Avenida Paulista",
                    number="900",
                    neighbourhood="Bela Vista",
                    city="São Paulo",
                    state="SP",
                    cep="01310100",
                ),
                # the same address as beneficiary 1 (a couple): listed once
                _beneficiary(
                    client.id,
                    3,
                    street="Avenida Paulista",
                    number="1578",
                    neighbourhood="Bela Vista",
                    city="São Paulo",
                    state="SP",
                    cep="01310200",
                    location=Point(-23.5613, -46.6560).element(),
                ),
                _beneficiary(
                    client.id, 4, street="Rua Olinda", neighbourhood="Boa Viagem", city="Recife"
                ),
                _beneficiary(
                    client.id, 5, street="RUA DOS ANDRADAS", neighbourhood="SANTA EFIGÊNIA"
                ),
            ]
        )
    return db


async def _search(sessions: Sessions, text: str, limit: int = 10, **kw: Any) -> list[Address]:
    async with sessions() as session:
        return await OfflineGeocoder(session, **kw).search(text, limit)


async def test_accent_and_case_insensitive_street(known: Sessions) -> None:
    [site] = await _search(known, "CONCEICAO")
    assert site.source is AddressSource.PARTNER_SITE
    assert (site.street, site.number, site.cep, site.label) == (
        "Rua da Conceição",
        "100",
        "01001000",
        "Oficina Central",
    )
    assert site.point == Point(-23.5489, -46.6388)


def test_accent_pattern() -> None:
    assert accent_pattern("sao1") == "s[aáàâãäåAÁÀÂÃÄÅ][oóòôõöOÓÒÔÕÖ]1"
    assert accent_pattern("xz") == "xz"


async def test_upper_case_accented_rows_match(known: Sessions) -> None:
    [found] = await _search(known, "efigenia andradas")
    assert found.neighbourhood == "SANTA EFIGÊNIA"
    assert [a.street for a in await _search(known, "Efigênia")] == ["RUA DOS ANDRADAS"]


async def test_by_neighbourhood_city_and_partner_name(known: Sessions) -> None:
    assert [a.street for a in await _search(known, "boa viagem")] == ["Rua Olinda"]
    assert [a.street for a in await _search(known, "recife")] == ["Rua Olinda"]
    assert [a.label for a in await _search(known, "oficina centr")] == ["Oficina Central"]


async def test_number_ranks_first_and_duplicates_are_merged(known: Sessions) -> None:
    found = await _search(known, "av paulista 900 bela vista")
    assert [(a.source, a.number) for a in found] == [
        (AddressSource.BENEFICIARY, "900"),
        (AddressSource.BENEFICIARY, "1578"),
    ]
    assert found[1].point is not None and found[1].point.lat == -23.5613
    assert found[1].label is None  # a beneficiary's name is not shown


async def test_by_cep_whole_or_prefix(known: Sessions) -> None:
    assert [a.number for a in await _search(known, "01310-200")] == ["1578"]
    assert sorted(a.number or "" for a in await _search(known, "01310")) == ["1578", "900"]
    assert await _search(known, "99999-999") == []


async def test_limit_and_nothing_to_search(known: Sessions) -> None:
    assert len(await _search(known, "sao paulo", limit=1)) == 1
    assert await _search(known, "r") == []
    with pytest.raises(GeocoderQueryError):
        await _search(known, "x" * 500)


async def test_points_abroad_only_when_allowed(known: Sessions) -> None:
    assert await _search(known, "lisboa") == []
    [abroad] = await _search(known, "lisboa", allow_outside_brazil=True)
    assert abroad.label == "Base Lisboa"


async def test_sources_are_an_extension_point(known: Sessions) -> None:
    """Operations will add the jobs' origins and destinations the same way."""
    workshops = replace(
        address_columns_source(AddressSource.JOB, m.PartnerSite),
        where=(m.PartnerSite.kind == "oficina",),
    )
    found = await _search(known, "conceicao", sources=[workshops])
    assert [a.source for a in found] == [AddressSource.JOB]
    assert await _search(known, "paulista", sources=[workshops]) == []
    nothing = replace(workshops, where=(m.PartnerSite.kind == "base",))
    assert await _search(known, "conceicao", sources=[nothing]) == []
    assert [s.source for s in DEFAULT_SOURCES] == ["partner_site", "beneficiary"]


async def test_rows_as_addresses(known: Sessions) -> None:
    async with known() as session:
        site = await session.get(m.PartnerSite, 1)
        person = await session.get(m.Beneficiary, 1)
        unlocated = await session.get(m.Beneficiary, 2)
    assert site is not None and person is not None and unlocated is not None
    address = partner_site_address(site)
    assert address.point is not None
    assert (address.label, address.point.lat, address.state) == ("Oficina Central", -23.5489, "SP")
    home = beneficiary_address(person)
    assert home.point is not None
    assert (home.source, home.number, home.point.lng) == (
        AddressSource.BENEFICIARY,
        "1578",
        -46.656,
    )
    assert beneficiary_address(unlocated).point is None
    fresh = m.PartnerSite(name="Nova", kind="base", location=Point(-10.0, -50.0).element())
    assert partner_site_address(fresh).point == Point(-10.0, -50.0)


async def test_factory_follows_the_setting(known: Sessions) -> None:
    async with known() as session:
        offline = make_geocoder(GeocoderConfig(), session)
        assert isinstance(offline, OfflineGeocoder)
        config = GeocoderConfig(
            kind=GeocoderKind.NOMINATIM, nominatim_url="http://127.0.0.1:9", timeout_s=unit(0.5)
        )
        nominatim = make_geocoder(config, session)
        assert isinstance(nominatim, FallbackGeocoder)
        # Nominatim is unreachable here: the known addresses answer
        found = await nominatim.search("conceicao", 5)
        assert [a.label for a in found] == ["Oficina Central"]
        assert nominatim.name == "offline"
