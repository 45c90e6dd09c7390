"""The address endpoints: search (the configured geocoder) and Google Maps links.

Until server/api/__init__.py registers ``addresses.OPERATIONS``, the ``app``
fixture below adds their routes to the app it builds; once registered, it uses the
app as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Route

from registry import models as m
from registry.points import Point
from server.api import addresses
from server.api.core import PREFIX, Api
from server.app import create_app
from server.settings import Settings
from tests.server.api.conftest import PASSWORD, Login, World, anonymous_client

SEARCH = f"{PREFIX}/addresses/search"
FROM_URL = f"{PREFIX}/addresses/from-maps-url"
PLACE_URL = (
    "https://www.google.com.br/maps/place/Av.+Paulista,+1578+-+Bela+Vista,+S%C3%A3o+Paulo+-+SP,"
    "+01310-200/@-23.5613,-46.6565,17z/data=!3m1!4b1!4m6!3m5!1s0x94ce59c8da0aa315:"
    "0xd59f9431f2c9776a!8m2!3d-23.5612843!4d-46.6559029!16s%2Fg%2F11c1p8m3q1?entry=ttu"
)


def _with_address_routes(application: Starlette) -> Starlette:
    registered = {r.path for r in application.router.routes if isinstance(r, Route)}
    if SEARCH not in registered:
        api = Api()
        api.add(*addresses.OPERATIONS)
        application.router.routes[:0] = api.routes()
    return application


@pytest.fixture
async def app(settings: Settings, redis: Any) -> AsyncIterator[Starlette]:
    application = _with_address_routes(create_app(settings))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def partner_site(db: async_sessionmaker[AsyncSession], world: World) -> None:
    async with db() as session, session.begin():
        session.add(
            m.PartnerSite(
                client_id=world.client_id,
                name="Oficina Central",
                kind="oficina",
                street="Rua da Conceição",
                number="100",
                neighbourhood="Centro",
                city="São Paulo",
                state="SP",
                cep="01001000",
                location=Point(-23.5489, -46.6388).element(),
            )
        )


async def test_search_finds_known_addresses(login: Login, partner_site: None) -> None:
    operator = await login("operacao")
    response = await operator.get(SEARCH, params={"q": "conceição centro", "limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["geocoder"] == "offline"
    assert body["addresses"] == [
        {
            "source": "partner_site",
            "street": "Rua da Conceição",
            "number": "100",
            "complement": None,
            "neighbourhood": "Centro",
            "city": "São Paulo",
            "state": "SP",
            "cep": "01001000",
            "reference": None,
            "lat": -23.5489,
            "lng": -46.6388,
            "label": "Oficina Central",
            # The one address schema (a job's origin too): the point, and one line.
            "point": {"lat": -23.5489, "lng": -46.6388},
            "one_line": "Rua da Conceição, 100 - Centro - São Paulo/SP",
        }
    ]
    nothing = await operator.get(SEARCH, params={"q": "r"})
    assert nothing.json()["addresses"] == []


async def test_search_input_is_bounded(login: Login, world: World) -> None:
    operator = await login("operacao")
    assert (await operator.get(SEARCH, params={"q": "x" * 201})).status_code == 422
    assert (await operator.get(SEARCH, params={"q": "rua", "limit": 21})).status_code == 422
    missing = await operator.get(SEARCH)
    assert missing.json()["error"]["fields"] == [
        {"field": "query.q", "message": "Campo obrigatório"}
    ]


async def test_a_place_link_gives_its_pin_and_fields(login: Login, world: World) -> None:
    operator = await login("operacao")
    response = await operator.post(FROM_URL, json={"url": PLACE_URL})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] is False and body["from_viewport"] is False
    assert body["destination"] is None
    origin = body["origin"]
    assert (origin["lat"], origin["lng"]) == (-23.5612843, -46.6559029)
    assert (origin["street"], origin["number"], origin["state"], origin["cep"]) == (
        "Av. Paulista",
        "1578",
        "SP",
        "01310200",
    )
    assert origin["source"] == "maps_url"


async def test_a_route_link_gives_origin_and_destination(login: Login, world: World) -> None:
    operator = await login("operacao")
    url = "https://www.google.com/maps/dir/-23.5612843,-46.6559029/-23.5505,-46.6342/"
    body = (await operator.post(FROM_URL, json={"url": url})).json()
    assert body["route"] is True
    assert (body["origin"]["lat"], body["destination"]["lat"]) == (-23.5612843, -23.5505)


@pytest.mark.parametrize(
    ("url", "code", "fragment"),
    [
        ("https://maps.app.goo.gl/9zQ1Xk2mZq3", "maps_url_short_link", "endereço completo"),
        ("https://www.google.com/maps/place/MASP", "maps_url_no_coordinates", '"MASP"'),
        ("https://example.com/x", "maps_url_not_google", "não é um link do Google Maps"),
        ("https://www.google.com/maps/@38.72,-9.14,15z", "outside_brazil", "fora do Brasil"),
    ],
)
async def test_bad_links_are_422_with_the_reason(
    login: Login, world: World, url: str, code: str, fragment: str
) -> None:
    operator = await login("operacao")
    response = await operator.post(FROM_URL, json={"url": url})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]
    assert error["fields"] == [{"field": "url", "message": error["message"]}]


async def test_links_abroad_pass_when_the_setting_allows(
    settings: Settings, redis: Any, world: World
) -> None:
    allowing = dataclasses.replace(settings, addresses_allow_outside_brazil=True)
    application = _with_address_routes(create_app(allowing))
    lifespan = application.router.lifespan_context(application)
    async with lifespan, anonymous_client(application) as client:
        login = await client.post(
            f"{PREFIX}/auth/login", json={"login": "operacao", "password": PASSWORD}
        )
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        url = "https://www.google.com/maps/@38.72,-9.14,15z"
        body = (await client.post(FROM_URL, json={"url": url})).json()
    assert (body["origin"]["lat"], body["origin"]["lng"]) == (38.72, -9.14)


async def test_only_dispatchers_may_call(login: Login, anon: Any, world: World) -> None:
    portal = await login("cliente")
    assert (await portal.get(SEARCH, params={"q": "rua"})).status_code == 403
    assert (await portal.post(FROM_URL, json={"url": PLACE_URL})).status_code == 403
    assert (await anon.get(SEARCH, params={"q": "rua"})).status_code == 401
