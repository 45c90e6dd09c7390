"""The Nominatim geocoder: reply mapping (pure), rate limit (fake clock), and the
real HTTP client against a fake Nominatim server started by the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from geo.addresses import (
    Address,
    AddressSource,
    GeocoderConfig,
    GeocoderKind,
    GeocoderQueryError,
    GeocoderUnavailableError,
    StaticGeocoder,
)
from geo.addresses.geocoder import MAX_LIMIT, MAX_QUERY_CHARS, FallbackGeocoder
from geo.addresses.http import MAX_RESPONSE_BYTES
from geo.addresses.nominatim import (
    NominatimGeocoder,
    RateLimiter,
    address_from_nominatim,
    parse_reply,
)
from registry.points import Point
from tests.conftest import unit

PAULISTA = {
    "place_id": 1,
    "lat": "-23.5612843",
    "lon": "-46.6559029",
    "display_name": "1578, Avenida Paulista, Bela Vista, São Paulo, Região Imediata de São "
    "Paulo, São Paulo, Região Sudeste, 01310-200, Brasil",
    "address": {
        "house_number": "1578",
        "road": "Avenida Paulista",
        "suburb": "Bela Vista",
        "city": "São Paulo",
        "state": "São Paulo",
        "ISO3166-2-lvl4": "BR-SP",
        "postcode": "01310-200",
        "country": "Brasil",
        "country_code": "br",
    },
}
VILLAGE = {
    "lat": "-9.6658",
    "lon": "-35.7353",
    "display_name": "Rua Sem Nome, Maceió",
    "address": {"road": "Rua Sem Nome", "town": "Maceió", "state": "Alagoas", "postcode": "57"},
}


def test_a_result_maps_to_address_fields() -> None:
    address = address_from_nominatim(PAULISTA)
    assert address == Address(
        AddressSource.NOMINATIM,
        street="Avenida Paulista",
        number="1578",
        neighbourhood="Bela Vista",
        city="São Paulo",
        state="SP",
        cep="01310200",
        point=Point(-23.5612843, -46.6559029),
        label=str(PAULISTA["display_name"]),
    )


def test_state_names_and_bad_postcodes() -> None:
    address = address_from_nominatim(VILLAGE)
    assert address is not None
    assert (address.city, address.state, address.cep) == ("Maceió", "AL", None)
    for odd in ("01310-20²", "0131020²0", "٠١٣١٠٢٠٠"):  # digits only in Unicode's eyes
        parts = {**PAULISTA["address"], "postcode": odd}  # type: ignore[dict-item]
        found = address_from_nominatim({**PAULISTA, "address": parts})
        assert found is not None and found.street == "Avenida Paulista" and found.cep is None


@pytest.mark.parametrize(
    "item",
    [
        {"display_name": "no coordinates"},
        {"lat": "x", "lon": "-46.6"},
        {"lat": "-123", "lon": "-46.6"},
        {"lat": "nan", "lon": "-46.6"},
    ],
)
def test_unusable_results_are_skipped(item: dict[str, Any]) -> None:
    assert address_from_nominatim(item) is None


def test_reply_parsing() -> None:
    body = orjson.dumps([PAULISTA, {"lat": "bad"}, "junk", VILLAGE])
    assert [a.city for a in parse_reply(body)] == ["São Paulo", "Maceió"]
    for bad in (b"not json", b'{"error": "x"}'):
        with pytest.raises(GeocoderUnavailableError):
            parse_reply(bad)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_rate_limiter_spaces_calls_and_bounds_the_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1.0, max_wait_s=2.5, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.wait()
    assert clock.slept == [1.0, 2.0]
    with pytest.raises(GeocoderUnavailableError) as caught:
        await limiter.wait()  # would wait 3 s: more than 2.5
    assert "Tente de novo" in caught.value.message
    clock.now += 10
    await limiter.wait()
    assert clock.slept == [1.0, 2.0]


# --- against a fake Nominatim over HTTP ---------------------------------------------


POLL_S = 0.02  # how often the fake server checks for shutdown


@dataclass
class FakeNominatim:
    url: str
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)
    status: int = 200
    body: bytes = orjson.dumps([PAULISTA])
    delay_s: float = 0.0


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    state = FakeNominatim("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append((parts.path, parse_qs(parts.query), dict(self.headers)))
            time.sleep(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (the timeout test) is no error here

    server = Server(("127.0.0.1", 0), Handler)
    server.block_on_close = True  # server_close() waits for slow handlers
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(unit(5))


def _geocoder(fake: FakeNominatim, timeout_s: float = 5.0) -> NominatimGeocoder:
    config = GeocoderConfig(
        kind=GeocoderKind.NOMINATIM,
        nominatim_url=fake.url,
        user_agent="Acionar-test/1 (ops@example.com)",
        timeout_s=timeout_s,
        min_interval_s=0.0,
    )
    return NominatimGeocoder.from_config(config)


async def test_search_sends_a_polite_brazilian_query(nominatim: FakeNominatim) -> None:
    found = await _geocoder(nominatim).search("  Avenida Paulista 1578 ", 5)
    assert [(a.street, a.number, a.state) for a in found] == [("Avenida Paulista", "1578", "SP")]
    [(path, query, headers)] = nominatim.requests
    assert path == "/search"
    assert query["q"] == ["Avenida Paulista 1578"]
    assert query["countrycodes"] == ["br"]
    assert query["format"] == ["jsonv2"]
    assert query["addressdetails"] == ["1"]
    assert query["limit"] == ["5"]
    assert headers["User-Agent"] == "Acionar-test/1 (ops@example.com)"


async def test_results_outside_brazil_and_duplicates_are_dropped(
    nominatim: FakeNominatim,
) -> None:
    lisbon = {**PAULISTA, "lat": "38.72", "lon": "-9.14"}
    nominatim.body = orjson.dumps([lisbon, PAULISTA, PAULISTA])
    found = await _geocoder(nominatim).search("paulista", 5)
    assert [a.point.lat for a in found if a.point] == [-23.5612843]


async def test_short_text_sends_nothing(nominatim: FakeNominatim) -> None:
    assert await _geocoder(nominatim).search(" sp ", 5) == []
    assert nominatim.requests == []


@pytest.mark.parametrize(("text", "limit"), [("x" * (MAX_QUERY_CHARS + 1), 5), ("rua", 0)])
async def test_bounds_are_checked(nominatim: FakeNominatim, text: str, limit: int) -> None:
    with pytest.raises(GeocoderQueryError):
        await _geocoder(nominatim).search(text, limit)
    with pytest.raises(GeocoderQueryError):
        await _geocoder(nominatim).search("rua", MAX_LIMIT + 1)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"oops"), (200, b"<html>"), (200, b"[" + b" " * MAX_RESPONSE_BYTES + b"]")],
)
async def test_failures_are_unavailable(nominatim: FakeNominatim, status: int, body: bytes) -> None:
    nominatim.status, nominatim.body = status, body
    with pytest.raises(GeocoderUnavailableError) as caught:
        await _geocoder(nominatim).search("paulista", 5)
    assert "não respondeu" in caught.value.message


async def test_a_slow_server_times_out(nominatim: FakeNominatim) -> None:
    nominatim.delay_s = unit(1.5)
    started = time.monotonic()
    with pytest.raises(GeocoderUnavailableError):
        await _geocoder(nominatim, timeout_s=unit(0.2)).search("paulista", 5)
    assert time.monotonic() - started < unit(1.4)


async def test_an_unreachable_server_is_unavailable() -> None:
    geocoder = _geocoder(FakeNominatim("http://127.0.0.1:9/"), timeout_s=unit(1))
    with pytest.raises(GeocoderUnavailableError):
        await geocoder.search("paulista", 5)


async def test_fallback_answers_while_nominatim_is_down(nominatim: FakeNominatim) -> None:
    known = Address(AddressSource.PARTNER_SITE, street="Avenida Paulista", city="São Paulo")
    fallback = FallbackGeocoder(_geocoder(nominatim), StaticGeocoder([known]))
    assert [a.source for a in await fallback.search("paulista", 5)] == ["nominatim"]
    assert fallback.name == "nominatim"
    nominatim.status = 503
    assert await fallback.search("paulista", 5) == [known]
    assert fallback.name == "static"


async def test_static_geocoder_matches_folded_words() -> None:
    addresses = [
        Address(AddressSource.MANUAL, street="Rua Conceição", city="São Paulo", cep="01001000"),
        Address(AddressSource.MANUAL, street="Rua Augusta", city="São Paulo"),
    ]
    geocoder = StaticGeocoder(addresses)
    assert await geocoder.search("CONCEICAO sao", 5) == addresses[:1]
    assert await geocoder.search("01001", 5) == addresses[:1]
    assert await geocoder.search("  ", 5) == []
