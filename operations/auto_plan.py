"""Automatic dispatch's next step (pure): given the run, the job's open offers and
the candidates found at the run's radius, what to do now.

The rules (:class:`~operations.dispatch_rules.DispatchRules`):

* wait while offers are out (until the earliest expires: the sweeper closes it and
  wakes the run);
* give up (``attempts_exceeded``) once ``max_attempts`` offers were made, or when
  the widest radius has nobody left to ask;
* otherwise offer the job to the best ``batch_size`` candidates not asked yet that
  are free and reachable now over an allowed channel (the client's partners first
  when ``partners_first``), each over its best channel (``app``, then ``web``,
  then ``link``: the fastest to answer first);
* nobody at this radius: widen to the next step at once.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from operations.dispatch_rules import DispatchRules
from registry.enums import Channel

CHANNEL_ORDER = (Channel.APP, Channel.WEB, Channel.LINK)
"""Channels automatic dispatch prefers, fastest answer first (never verbal)."""


class RunStatus(enum.StrEnum):
    ACTIVE = "active"  # steps are being taken
    DONE = "done"  # the job got a provider (or left the queue otherwise)
    GAVE_UP = "gave_up"  # attempts exceeded: the operator took over
    STOPPED = "stopped"  # the operator stopped it

    @property
    def label(self) -> str:
        return RUN_LABELS[self]


RUN_LABELS = {
    RunStatus.ACTIVE: "Acionamento automático em andamento",
    RunStatus.DONE: "Acionamento automático concluído",
    RunStatus.GAVE_UP: "Acionamento automático esgotou as tentativas",
    RunStatus.STOPPED: "Acionamento automático interrompido",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A provider found for the job, in ranking order."""

    provider_id: int
    partner: bool
    busy: bool
    channels_now: tuple[Channel, ...]


@dataclass(frozen=True, slots=True)
class RunState:
    attempts: int
    step: int
    asked: frozenset[int]


class StepKind(enum.StrEnum):
    WAIT = "wait"
    OFFER = "offer"
    WIDEN = "widen"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    offers: tuple[tuple[int, Channel], ...] = ()
    until: datetime | None = None
    reason: str = ""


def best_channel(candidate: Candidate, allowed: Sequence[Channel]) -> Channel | None:
    for channel in CHANNEL_ORDER:
        if channel in allowed and channel in candidate.channels_now:
            return channel
    return None


def plan_step(
    rules: DispatchRules,
    run: RunState,
    open_expiries: Sequence[datetime],
    candidates: Sequence[Candidate],
) -> Step:
    """The run's next step (see the module's docstring). ``candidates`` are those
    found at ``rules.radius_steps_km[run.step]``, best first."""
    if open_expiries:
        return Step(StepKind.WAIT, until=min(open_expiries))
    if run.attempts >= rules.max_attempts:
        return Step(StepKind.GIVE_UP, reason=f"{run.attempts} tentativas sem aceite")
    pool = [c for c in candidates if c.provider_id not in run.asked and not c.busy]
    if rules.partners_first:
        pool = [c for c in pool if c.partner] + [c for c in pool if not c.partner]
    room = min(rules.batch_size, rules.max_attempts - run.attempts)
    chosen: list[tuple[int, Channel]] = []
    for candidate in pool:
        channel = best_channel(candidate, rules.channels)
        if channel is not None:
            chosen.append((candidate.provider_id, channel))
        if len(chosen) == room:
            break
    if chosen:
        return Step(StepKind.OFFER, offers=tuple(chosen))
    if run.step + 1 < len(rules.radius_steps_km):
        return Step(StepKind.WIDEN)
    return Step(StepKind.GIVE_UP, reason="nenhum prestador disponível no maior raio")
