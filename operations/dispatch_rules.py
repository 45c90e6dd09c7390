"""Dispatch settings (pure): how offers are made and how automatic dispatch runs.

The deployment has one row of settings and each client may override any of them
(``dispatch_settings``; a NULL column inherits). :func:`effective` layers them over
:data:`DEFAULT_RULES`, so a missing row never leaves a rule undefined.

* ``auto_enabled``: automatic dispatch (acionamento automático) on or off.
* ``radius_steps_km``: the search widens step by step (e.g. 10 → 20 → 40 km) when
  a step finds nobody left to ask.
* ``offer_timeout_s``: how long a provider has to answer an offer (any channel
  but verbal, which is accepted at once).
* ``max_attempts``: offers automatic dispatch makes for one job before giving up
  (``attempts_exceeded``: the operator takes over).
* ``batch_size``: 1 is sequential (one provider at a time); K > 1 offers K at
  once, the first to accept wins.
* ``channels``: the channels automatic dispatch may use (``app`` only by default:
  connected apps answer in seconds; ``web`` and ``link`` too if the client wants).
* ``partners_first``: the client's partner providers are asked before others.
* ``schedule_lead_min``: a scheduled job starts dispatch this many minutes before
  its time.
* ``max_eta_min``: an accept with a longer ETA needs the operator's confirmation
  (automatic dispatch moves on instead); None: no maximum.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from operations.errors import InvalidInputError
from registry.enums import Channel

MIN_OFFER_TIMEOUT_S = 10
MAX_OFFER_TIMEOUT_S = 3600
MAX_ATTEMPTS = 100
MAX_BATCH_SIZE = 20
MAX_RADIUS_STEPS = 6
MAX_RADIUS_KM = 200
MAX_SCHEDULE_LEAD_MIN = 1440
MAX_ETA_MIN = 1440


@dataclass(frozen=True, slots=True)
class DispatchRules:
    """The dispatch settings in force for one client (see the module's docstring)."""

    auto_enabled: bool = False
    radius_steps_km: tuple[int, ...] = (10, 20, 40)
    offer_timeout_s: int = 60
    max_attempts: int = 5
    batch_size: int = 1
    channels: tuple[Channel, ...] = (Channel.APP,)
    partners_first: bool = True
    schedule_lead_min: int = 30
    max_eta_min: int | None = None

    def __post_init__(self) -> None:
        check_rules(self)


def _bounded(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InvalidInputError(name, f"{name} deve estar entre {low} e {high}.")


def check_rules(rules: DispatchRules) -> None:
    """Raises :class:`InvalidInputError` naming the first setting out of bounds."""
    _bounded("offer_timeout_s", rules.offer_timeout_s, MIN_OFFER_TIMEOUT_S, MAX_OFFER_TIMEOUT_S)
    _bounded("max_attempts", rules.max_attempts, 1, MAX_ATTEMPTS)
    _bounded("batch_size", rules.batch_size, 1, MAX_BATCH_SIZE)
    _bounded("schedule_lead_min", rules.schedule_lead_min, 0, MAX_SCHEDULE_LEAD_MIN)
    if rules.max_eta_min is not None:
        _bounded("max_eta_min", rules.max_eta_min, 1, MAX_ETA_MIN)
    steps = rules.radius_steps_km
    if not 1 <= len(steps) <= MAX_RADIUS_STEPS:
        raise InvalidInputError("radius_steps_km", f"Informe de 1 a {MAX_RADIUS_STEPS} raios.")
    for step in steps:
        _bounded("radius_steps_km", step, 1, MAX_RADIUS_KM)
    if list(steps) != sorted(set(steps)):
        raise InvalidInputError("radius_steps_km", "Os raios devem crescer a cada passo.")
    if not rules.channels:
        raise InvalidInputError("channels", "Informe ao menos um canal.")
    if Channel.VERBAL in rules.channels:
        raise InvalidInputError("channels", "O acionamento automático não telefona (verbal).")


DEFAULT_RULES = DispatchRules()

FIELDS = tuple(f.name for f in dataclasses.fields(DispatchRules))
"""The settings' names (the columns of ``dispatch_settings``)."""


def effective(*layers: Mapping[str, Any] | None) -> DispatchRules:
    """:data:`DEFAULT_RULES` with each layer's non-None values applied in order
    (the deployment's row, then the client's)."""
    values: dict[str, Any] = {}
    for layer in layers:
        if layer is None:
            continue
        for name in FIELDS:
            value = layer.get(name)
            if value is not None:
                values[name] = tuple(value) if isinstance(value, list) else value
    if "channels" in values:
        values["channels"] = tuple(Channel(c) for c in values["channels"])
    return dataclasses.replace(DEFAULT_RULES, **values)
