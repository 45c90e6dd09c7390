"""TRUSTED_PROXIES and the HTTP_* bounds: parsed, checked, and handed to uvicorn and to
the connection guard (server/run.py)."""

from __future__ import annotations

import ipaddress

import pytest

from server.errors import SettingsError
from server.run import guard_limits
from server.settings import Settings


def test_no_proxy_is_trusted_by_default() -> None:
    assert Settings.from_env({}).trusted_proxy_networks == ()


def test_addresses_and_networks_are_read_as_networks() -> None:
    settings = Settings.from_env({"TRUSTED_PROXIES": " 10.0.0.1, 172.16.0.0/12 ,::1,"})
    assert settings.trusted_proxy_networks == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize("value", ["*", "proxy.internal", "10.0.0.0/33"])
def test_anything_but_addresses_and_networks_is_refused(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"TRUSTED_PROXIES": value})
    assert "TRUSTED_PROXIES must list IP addresses or networks" in str(caught.value)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"HTTP_HEADER_TIMEOUT_S": "0"}, "HTTP_HEADER_TIMEOUT_S must be greater than 0"),
        ({"HTTP_BODY_TIMEOUT_S": "-1"}, "HTTP_BODY_TIMEOUT_S must be greater than 0"),
        ({"HTTP_KEEP_ALIVE_S": "0"}, "HTTP_KEEP_ALIVE_S must be at least 1"),
        ({"HTTP_KEEP_ALIVE_S": "0.5"}, "expected a whole number"),
        (
            {"HTTP_MAX_CONNECTIONS_PER_ADDRESS": "0"},
            "HTTP_MAX_CONNECTIONS_PER_ADDRESS must be at least 1",
        ),
    ],
)
def test_the_http_bounds_are_finite_and_positive(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value)


def test_the_guard_gets_the_bounds_and_spares_the_trusted_proxies() -> None:
    settings = Settings.from_env(
        {
            "HTTP_HEADER_TIMEOUT_S": "3",
            "HTTP_BODY_TIMEOUT_S": "4",
            "HTTP_MAX_CONNECTIONS_PER_ADDRESS": "5",
            "TRUSTED_PROXIES": "192.0.2.10",
        }
    )
    limits = guard_limits(settings)
    assert (limits.header_timeout_s, limits.body_timeout_s, limits.max_per_address) == (3, 4, 5)
    assert limits.spared == (ipaddress.ip_network("192.0.2.10/32"),)
