"""How a simulated provider answers offers: a seeded behaviour model, without I/O.

Every provider gets a :class:`Profile`, drawn once from its provider id and the
fleet's seed (:func:`profile_for`): the same provider behaves the same way in every
run with that seed, so the history Acionar accumulates about it (acceptance rate,
on-time rate, ETA accuracy: docs/dispatch.md, "Scorecard") converges to the
propensities of its profile, and ranking by those KPIs has something real to find.
When the registry already holds rates for the provider (a seeded demo, an earlier
run), :func:`profile_for` starts from them instead, so that the simulated behaviour
continues the history rather than contradicting it.

The model, per provider:

* **acceptance** ``accept_p``: the chance to accept an offer it answers, lowered by
  distance (a far job is refused more often: ``accept_p × exp(-km / 25)`` at the
  far end of the radius a dispatcher searches).
* **silence** ``ignore_p``: the chance to let the offer expire unanswered (phone
  in the pocket); an expiry counts as a refusal in the scorecard.
* **response delay**: log-normal, median ``response_median_s``, shape
  ``RESPONSE_SIGMA`` (most answer in seconds, a few take most of the timeout).
* **refusal reason**: one of the assistance's reasons, each provider with its own
  favourite (drawn with weight :data:`FAVOURITE_REASON_WEIGHT`).
* **ETA bid**: the road time it expects (straight line × :data:`DETOUR` at the
  traffic speed of the hour, :func:`traffic_factor`) times ``eta_margin``. A
  punctual provider pads its promise (margin above 1), an optimistic one promises
  less than it will take, and arrives late: the on-time rate follows the margin.
* **driving** ``speed_factor``: how its driving compares to the traffic.

Decisions take a :class:`random.Random` and return a :class:`Decision`; the app
schedules them (:mod:`.duty`). Times are seconds of simulated time: the app divides
them by its time scale.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import Enum

DETOUR = 1.35
"""Road distance over straight-line distance in a Brazilian city (the server's ETA
model uses the same kind of factor)."""

BASE_SPEED_KMH = 32.0
"""Mean urban speed of a tow truck off-peak, before the hour's traffic."""

RESPONSE_SIGMA = 0.6
"""Shape of the log-normal response delay (its median is the profile's)."""

FAVOURITE_REASON_WEIGHT = 4.0
"""A provider's favourite refusal reason is this many times likelier than another."""

DISTANCE_DECAY_KM = 25.0
"""Acceptance falls by a factor e every this many km to the origin."""

MAX_ETA_MIN = 1440
"""The protocol's largest ``eta_min``."""

_RUSH = ((7.0, 10.0), (17.0, 20.0))
"""Morning and evening rush hours (local time), when traffic is slowest."""


def traffic_factor(hour: float) -> float:
    """Speed multiplier for the local hour (0–24): 1.2 at night, 0.55 at rush hours,
    0.85 in the day, with a one-hour ramp at each end of a rush."""
    hour %= 24.0
    if hour < 5.0 or hour >= 22.0:
        return 1.2
    for start, end in _RUSH:
        if start <= hour < end:
            return 0.55
        if start - 1.0 <= hour < start:
            return 0.85 - 0.3 * (hour - (start - 1.0))
        if end <= hour < end + 1.0:
            return 0.55 + 0.3 * (hour - end)
    return 0.85


@dataclass(frozen=True, slots=True)
class ProfileKnobs:
    """Fleet-wide adjustments of the drawn profiles (command line options).

    Attributes:
        accept_bias: multiplies every ``accept_p`` (clipped to 1).
        ignore_bias: multiplies every ``ignore_p`` (0: everyone answers).
        response_scale: multiplies every median response delay.
    """

    accept_bias: float = 1.0
    ignore_bias: float = 1.0
    response_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("accept_bias", "ignore_bias", "response_scale"):
            if not 0.0 <= getattr(self, name) <= 100.0:
                raise ValueError(f"{name} must lie in [0, 100]")


@dataclass(frozen=True, slots=True)
class History:
    """What the registry says about a provider (``GET /api/v1/providers``), as
    fractions in [0, 1]; ``None`` where it has no figure yet."""

    acceptance_rate: float | None = None
    on_time_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """One provider's behaviour (see the module's docstring for the model)."""

    provider_id: int
    accept_p: float
    ignore_p: float
    response_median_s: float
    eta_margin: float
    speed_factor: float
    favourite_reason: int  # an index into the reasons offered to :func:`decide_offer`

    @property
    def on_time_p(self) -> float:
        """Rough chance to arrive by its promise: the margin against the spread of
        urban trip times (about ±25 %)."""
        return min(0.98, max(0.02, 0.5 + (self.eta_margin - 1.0) * 2.0))


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def profile_for(
    provider_id: int, seed: int, knobs: ProfileKnobs | None = None, history: History | None = None
) -> Profile:
    """The profile of ``provider_id`` in a fleet seeded ``seed``: the same arguments
    always give the same profile.

    Propensities are drawn from Beta distributions (most providers reliable, a tail
    that is not); a known ``history`` replaces the draw of the rate it gives.
    """
    knobs = knobs or ProfileKnobs()
    history = history or History()
    rng = random.Random(f"acionar-sim-profile:{seed}:{provider_id}")
    accept = rng.betavariate(6.0, 2.0)  # mean 0.75
    on_time = rng.betavariate(5.0, 2.0)  # mean 0.71
    ignore = rng.betavariate(1.0, 12.0)  # mean 0.08
    median = rng.lognormvariate(math.log(8.0), 0.5)  # seconds
    speed = rng.uniform(0.85, 1.15)
    favourite = rng.randrange(1_000_000)
    if history.acceptance_rate is not None:
        # An expiry counts as a refusal: split the history between both.
        accept = history.acceptance_rate / max(0.05, 1.0 - ignore)
    if history.on_time_rate is not None:
        on_time = history.on_time_rate
    return Profile(
        provider_id=provider_id,
        accept_p=_clip(accept * knobs.accept_bias, 0.0, 1.0),
        ignore_p=_clip(ignore * knobs.ignore_bias, 0.0, 1.0),
        response_median_s=max(0.1, median * knobs.response_scale),
        eta_margin=0.75 + _clip(on_time, 0.0, 1.0) * 0.5,
        speed_factor=speed,
        favourite_reason=favourite,
    )


class Answer(Enum):
    """What a provider does with an offer."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    IGNORE = "ignore"  # let it expire


@dataclass(frozen=True, slots=True)
class Decision:
    """A provider's answer to one offer, and after how many (simulated) seconds.

    ``eta_min`` is set for an accept, ``reason_id`` for a refusal.
    """

    answer: Answer
    delay_s: float
    eta_min: int | None = None
    reason_id: int | None = None


def drive_minutes(distance_km: float, hour: float, speed_factor: float = 1.0) -> float:
    """Expected minutes to drive ``distance_km`` (straight line) at ``hour``."""
    speed = BASE_SPEED_KMH * traffic_factor(hour) * speed_factor
    return distance_km * DETOUR / speed * 60.0


def eta_bid(profile: Profile, distance_km: float, hour: float) -> int:
    """The ETA the provider promises, whole minutes in [1, :data:`MAX_ETA_MIN`]:
    its expected drive time (at its own speed) times its margin, plus a minute to
    get going."""
    minutes = drive_minutes(distance_km, hour, profile.speed_factor) * profile.eta_margin + 1.0
    return int(_clip(math.ceil(minutes), 1, MAX_ETA_MIN))


def decide_offer(
    profile: Profile,
    distance_km: float,
    hour: float,
    reason_ids: tuple[int, ...],
    rng: random.Random,
) -> Decision:
    """Answer an offer for a job ``distance_km`` away, at local ``hour``.

    Without ``reason_ids`` a provider cannot refuse (the protocol needs a reason):
    it lets the offer expire instead.
    """
    delay = rng.lognormvariate(math.log(profile.response_median_s), RESPONSE_SIGMA)
    if rng.random() < profile.ignore_p:
        return Decision(Answer.IGNORE, delay)
    accept_p = profile.accept_p * math.exp(-max(0.0, distance_km) / DISTANCE_DECAY_KM)
    if rng.random() < accept_p:
        return Decision(Answer.ACCEPT, delay, eta_min=eta_bid(profile, distance_km, hour))
    if not reason_ids:
        return Decision(Answer.IGNORE, delay)
    return Decision(Answer.REFUSE, delay, reason_id=refusal_reason(profile, reason_ids, rng))


def refusal_reason(profile: Profile, reason_ids: tuple[int, ...], rng: random.Random) -> int:
    """One of ``reason_ids`` (not empty), the provider's favourite more often."""
    favourite = profile.favourite_reason % len(reason_ids)
    weights = [FAVOURITE_REASON_WEIGHT if i == favourite else 1.0 for i in range(len(reason_ids))]
    return rng.choices(reason_ids, weights)[0]


def work_minutes(rng: random.Random, towing: bool) -> float:
    """Minutes spent at the origin before leaving (hooking a car, changing a tyre,
    opening a lock): log-normal around 12 minutes for a tow, 20 for on-site work."""
    median = 12.0 if towing else 20.0
    return _clip(rng.lognormvariate(math.log(median), 0.4), 2.0, 90.0)
