"""Settings parsing: types, ranges, defaults, .env files and .env.example."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.errors import SettingsError
from server.settings import (
    PROJECT_ROOT,
    LogFormat,
    Settings,
    documented_settings,
    load_settings,
    read_dotenv,
)


def test_defaults_use_the_local_instances() -> None:
    settings = Settings.from_env({})
    assert settings.uses_local_postgres and settings.uses_local_redis
    assert settings.effective_database_url == (
        "postgresql+asyncpg://acionar@127.0.0.1:55432/acionar"
    )
    assert settings.effective_redis_url == "redis://127.0.0.1:56379/0"
    assert settings.port == 8000 and settings.host == "127.0.0.1"
    assert settings.log_format is LogFormat.TEXT


def test_local_ports_follow_their_settings() -> None:
    settings = Settings.from_env({"LOCAL_PG_PORT": "6000", "LOCAL_REDIS_PORT": "6001"})
    assert ":6000/" in settings.effective_database_url
    assert settings.effective_redis_url == "redis://127.0.0.1:6001/0"


def test_urls_given_are_used_as_they_are() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://u:p@db:5432/x",
            "REDIS_URL": "redis://cache:6379/2",
        }
    )
    assert not settings.uses_local_postgres and not settings.uses_local_redis
    assert settings.effective_database_url == "postgresql://u:p@db:5432/x"
    assert settings.effective_redis_url == "redis://cache:6379/2"


@pytest.mark.parametrize(
    ("env", "parsed"),
    [
        ({"PORT": " 9000 "}, ("port", 9000)),
        ({"READY_TIMEOUT_S": "0.5"}, ("ready_timeout_s", 0.5)),
        ({"LOG_FORMAT": "JSON"}, ("log_format", LogFormat.JSON)),
        ({"LOG_LEVEL": "debug"}, ("log_level", "debug")),
        ({"REDIS_PREFIX": "x:"}, ("redis_prefix", "x:")),
    ],
)
def test_values_are_parsed_by_type(env: dict[str, str], parsed: tuple[str, object]) -> None:
    name, value = parsed
    assert getattr(Settings.from_env(env), name) == value


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PORT": "eighty"}, "PORT='eighty': expected a whole number"),
        ({"PORT": "70000"}, "PORT must be at most 65535"),
        ({"PORT": "0"}, "PORT must be at least 1"),
        ({"READY_TIMEOUT_S": "soon"}, "expected a number"),
        ({"READY_TIMEOUT_S": "inf"}, "expected a finite number"),
        ({"READY_TIMEOUT_S": "0"}, "READY_TIMEOUT_S must be greater than 0"),
        ({"LOG_FORMAT": "xml"}, "expected text or json"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must start with postgresql"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL must start with redis://"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE must be at least 1"),
        ({"SLA_ARRIVAL_MINUTES": "20000"}, "SLA_ARRIVAL_MINUTES must be at most 10080"),
    ],
)
def test_bad_values_are_refused_with_their_name(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value)


def test_every_bad_value_is_listed_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PORT": "x", "DB_POOL_SIZE": "y", "LOG_FORMAT": "z"})
    assert len(caught.value.problems) == 3


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\n\nPORT=9100\nHOST='0.0.0.0'\nnot a setting line\n")
    assert read_dotenv(dotenv) == {"PORT": "9100", "HOST": "0.0.0.0"}
    assert read_dotenv(tmp_path / "missing") == {}
    merged = {**read_dotenv(dotenv), "PORT": "9200"}
    settings = Settings.from_env(merged)
    assert (settings.host, settings.port) == ("0.0.0.0", 9200)


def test_load_settings_reads_the_given_environment() -> None:
    assert load_settings({"PORT": "8123"}).port == 8123


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = read_dotenv(PROJECT_ROOT / ".env.example")
    documented = {name: default for name, default, _ in documented_settings()}
    assert example == documented
    assert all(doc for _, _, doc in documented_settings())


def test_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name, _, _ in documented_settings() if f"`{name}`" not in readme]
    assert missing == []


def test_the_sla_bound_is_the_one_operations_enforces() -> None:
    from operations.sla import MAX_SLA_MINUTES
    from server.settings import MAX_SLA_MINUTES as SETTINGS_MAX

    assert SETTINGS_MAX == MAX_SLA_MINUTES
