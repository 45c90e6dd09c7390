"""Simulated provider apps: realistic movement, buffering, reconnects; a load generator.

A pure websocket client of docs/protocol.md: nothing here imports the server's
packages (only the standard library, ``websockets``, ``orjson`` and, when present,
``uvloop``). Layers, from pure to I/O:

* :mod:`.movement`: a seeded model of a vehicle driving in a city (no clock);
* :mod:`.outbox`: the offline buffer, stop-and-wait batching, reconnect backoff
  (no clock, no socket);
* :mod:`.app`: :class:`SimulatedApp`, one app over a real websocket;
* :mod:`.fleet`: :class:`Fleet`, many apps in one event loop, with stats;
* ``python -m clients.provider_app_sim``: the command line (see :mod:`.__main__`).
"""

from clients.provider_app_sim.app import (
    AppConfig,
    AppState,
    Clock,
    LoadPlan,
    Pacer,
    SimulatedApp,
    SystemClock,
)
from clients.provider_app_sim.fleet import Fleet, build_fleet
from clients.provider_app_sim.movement import MovementConfig, Vehicle
from clients.provider_app_sim.outbox import Backoff, Fix, FixBuffer, Outbox, PosMessage
from clients.provider_app_sim.stats import Stats

__all__ = [
    "AppConfig",
    "AppState",
    "Backoff",
    "Clock",
    "Fix",
    "FixBuffer",
    "Fleet",
    "LoadPlan",
    "MovementConfig",
    "Outbox",
    "Pacer",
    "PosMessage",
    "SimulatedApp",
    "Stats",
    "SystemClock",
    "Vehicle",
    "build_fleet",
]
