"""Simulated provider apps: realistic movement, buffering, reconnects; a load generator.

A pure client of docs/protocol.md: nothing here imports the server's packages (only
the standard library, ``websockets``, ``orjson``, ``httpx`` for the public HTTP API
in answering mode, ``starlette`` and ``uvicorn`` for the simulated SMS network and,
when present, ``uvloop``). Layers, from pure to I/O:

* :mod:`.movement`: a seeded model of a vehicle driving in a city (no clock);
* :mod:`.outbox`: the offline buffer, stop-and-wait batching, reconnect backoff
  (no clock, no socket);
* :mod:`.profiles`, :mod:`.routes`, :mod:`.duty`: answering mode's behaviour model,
  street-like routes and the offer/job state machine (no clock, no socket);
* :mod:`.app`: :class:`SimulatedApp`, one app over a real websocket;
* :mod:`.fleet`: :class:`Fleet`, many apps in one event loop, with stats;
* ``python -m clients.provider_app_sim``: the command line (see :mod:`.__main__`);
  ``python -m clients.provider_app_sim.providers`` (``acionar sim providers``):
  a fleet in answering mode, with device tokens minted through the HTTP API
  (:mod:`.providers`, :mod:`.api`), providers answering on the web portal
  (:mod:`.portal`), and phones answering offers by signed link (:mod:`.phone`).
"""

from clients.provider_app_sim.app import (
    Answering,
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
    "Answering",
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
