"""Carrying out a :class:`~clients.provider_app_sim.duty.Duty`'s actions on a vehicle:
the part the app (:mod:`.app`) and the portal page (:mod:`.portal`) share."""

from __future__ import annotations

import random
from typing import Any

from clients.provider_app_sim.duty import Action, DriveTo, Roam, Send
from clients.provider_app_sim.movement import Vehicle
from clients.provider_app_sim.profiles import traffic_factor
from clients.provider_app_sim.routes import street_route

SAO_PAULO_UTC_OFFSET_H = -3
"""Local time of the traffic model (Brazil has kept no daylight saving since 2019)."""


def local_hour(wall_ms: int) -> float:
    """The hour of the day in São Paulo, [0, 24), at UTC ``wall_ms``."""
    return (wall_ms / 3_600_000 + SAO_PAULO_UTC_OFFSET_H) % 24


def carry_out(
    actions: list[Action], vehicle: Vehicle, rng: random.Random, hour: float
) -> list[dict[str, Any]]:
    """Drive or free ``vehicle`` as the actions say (a street route at the hour's
    traffic); returns the messages to send, in order."""
    messages = []
    for action in actions:
        if isinstance(action, Send):
            messages.append(action.message)
        elif isinstance(action, DriveTo):
            route = street_route((vehicle.lat, vehicle.lng), action.point, rng)
            vehicle.follow(route, action.speed_factor * traffic_factor(hour))
        elif isinstance(action, Roam):
            vehicle.roam()
    return messages
