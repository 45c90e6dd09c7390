"""``acionar serve --demo`` (``make run``): which companions run, per the settings."""

from __future__ import annotations

import dataclasses

from server.companions import companions
from server.settings import Settings


def test_the_demo_runs_the_simulator_and_the_calls_unless_turned_off(settings: Settings) -> None:
    both = companions(settings, "http://127.0.0.1:8000")
    assert [c.name for c in both] == ["providers", "calls"]
    providers, calls = both
    assert "clients.provider_app_sim.providers" in providers.argv and "--mint" in providers.argv
    assert providers.argv[providers.argv.index("--count") + 1] == str(settings.demo_sim_providers)
    assert "clients.city_scenario" in calls.argv and "--quiet" in calls.argv
    assert calls.argv[calls.argv.index("--rate") + 1] == str(settings.demo_calls_per_min)
    quiet = dataclasses.replace(settings, demo_calls=False)
    assert [c.name for c in companions(quiet, "http://x")] == ["providers"]
    still = dataclasses.replace(settings, demo_simulator=False, demo_calls=False)
    assert companions(still, "http://x") == []
