"""The job state machine (pure): which status may follow which, and the timeline
entry each transition leaves behind.

::

    scheduled ─► open ─► dispatching ─► assigned ─► en_route ─► on_site ─► in_transit
                  │  ▲        │  ▲          │  ▲        │            │          │
                  │  └────────┘  │          │  └────────┘            ▼          ▼
                  │     attempts_exceeded ◄─┘ (re-dispatch)       completed ◄───┘
                  │                                                   │
                  └─► assigned (verbal)                               ▼
                                                                    closed
    any status before completed ─► cancelled (with a CancellationReason)

* ``open``: registered, no provider yet (the dispatch panel's queue).
* ``dispatching``: offers are out (by hand or auto-dispatch).
* ``attempts_exceeded``: auto-dispatch gave up; back to the operator, who may
  dispatch again, assign by phone or cancel.
* ``assigned`` → ``en_route`` → ``on_site`` (→ ``in_transit`` for tows and taxis) →
  ``completed``. A provider that gives up after accepting sends the job back to
  ``dispatching`` (or ``open``); ``assigned`` → ``on_site`` is allowed because
  providers often report arrival without ever reporting departure.
* ``completed`` and ``cancelled`` are final for operations: nothing goes back to an
  active status. ``completed`` → ``closed`` is closing's step (billing), and
  ``closed`` is final.
* Jobs of kind ``inquiry`` and ``theft`` need no provider: ``open`` → ``completed``
  or ``cancelled`` only.

:func:`transition` checks a move and returns the :class:`TimelineEntry` to store; it
raises :class:`~operations.errors.IllegalTransitionError` for a move not in the
table and :class:`~operations.errors.CancellationReasonRequiredError` for a
cancellation without a reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from operations.errors import (
    CancellationReasonRequiredError,
    IllegalTransitionError,
    InvalidTimelineError,
)
from registry.enums import Channel


class JobKind(enum.StrEnum):
    """Tipo de atendimento."""

    ASSISTANCE = "assistance"  # Assistência: a provider goes out
    INQUIRY = "inquiry"  # Dúvidas: the operator answers, no provider
    THEFT = "theft"  # Roubo e Furto: registered and followed, no provider

    @property
    def needs_provider(self) -> bool:
        return self is JobKind.ASSISTANCE


class JobStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    DISPATCHING = "dispatching"
    ATTEMPTS_EXCEEDED = "attempts_exceeded"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    IN_TRANSIT = "in_transit"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The pt-BR name shown to operators."""
        return STATUS_LABELS[self]


STATUS_LABELS = {
    JobStatus.SCHEDULED: "Agendado",
    JobStatus.OPEN: "Aberto",
    JobStatus.DISPATCHING: "Em acionamento",
    JobStatus.ATTEMPTS_EXCEEDED: "Tentativas esgotadas",
    JobStatus.ASSIGNED: "Prestador designado",
    JobStatus.EN_ROUTE: "A caminho",
    JobStatus.ON_SITE: "No local",
    JobStatus.IN_TRANSIT: "Em trânsito",
    JobStatus.COMPLETED: "Concluído",
    JobStatus.CLOSED: "Fechado",
    JobStatus.CANCELLED: "Cancelado",
}


class ActorKind(enum.StrEnum):
    """Who moved a job (a timeline line's ``actor``): an operator (at the console,
    or recording what a provider said on the phone), the provider itself (its app,
    the web portal, a signed link), or the system (timers, auto-dispatch, geofence).

    How the provider was reached or answered is the line's ``channel``
    (:class:`registry.enums.Channel`: ``app``, ``web``, ``verbal``, ``link``), a
    different question with its own enum.
    """

    OPERATOR = "operator"
    PROVIDER = "provider"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class JobActor:
    """Who acts on a job, and over which dispatch channel: what a timeline line
    records besides the move itself. Build one with :meth:`operator`,
    :meth:`provider` or :meth:`system`."""

    kind: ActorKind
    user_id: int | None = None
    provider_id: int | None = None
    channel: Channel | None = None

    @classmethod
    def operator(cls, user_id: int | None, channel: Channel | None = None) -> JobActor:
        """An operator at the console (``channel``: how the provider told them, e.g.
        ``verbal`` for a phone call)."""
        return cls(ActorKind.OPERATOR, user_id=user_id, channel=channel)

    @classmethod
    def provider(cls, provider_id: int, channel: Channel) -> JobActor:
        """The provider itself, over its app, the web portal or a signed link."""
        return cls(ActorKind.PROVIDER, provider_id=provider_id, channel=channel)

    @classmethod
    def system(cls) -> JobActor:
        """Acionar itself: timers, auto-dispatch, geofence."""
        return cls(ActorKind.SYSTEM)


S = JobStatus

FINAL = frozenset({S.CLOSED, S.CANCELLED})
"""No transition leaves these."""

DONE = frozenset({S.COMPLETED, S.CLOSED, S.CANCELLED})
"""Operations is over: no provider work, no cancellation."""

WITH_PROVIDER = frozenset({S.ASSIGNED, S.EN_ROUTE, S.ON_SITE, S.IN_TRANSIT})
"""A provider is committed to the job (the provider is busy)."""

AWAITING_PROVIDER = frozenset({S.OPEN, S.DISPATCHING, S.ATTEMPTS_EXCEEDED})
"""The dispatch panel's statuses."""

_CANCELLABLE = frozenset(S) - DONE

_ASSISTANCE: dict[JobStatus, frozenset[JobStatus]] = {
    S.SCHEDULED: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.DISPATCHING, S.ASSIGNED}),
    S.DISPATCHING: frozenset({S.ASSIGNED, S.ATTEMPTS_EXCEEDED, S.OPEN}),
    S.ATTEMPTS_EXCEEDED: frozenset({S.DISPATCHING, S.ASSIGNED, S.OPEN}),
    S.ASSIGNED: frozenset({S.EN_ROUTE, S.ON_SITE, S.DISPATCHING, S.OPEN}),
    S.EN_ROUTE: frozenset({S.ON_SITE, S.DISPATCHING, S.OPEN}),
    S.ON_SITE: frozenset({S.IN_TRANSIT, S.COMPLETED}),
    S.IN_TRANSIT: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

_NO_PROVIDER: dict[JobStatus, frozenset[JobStatus]] = {
    S.SCHEDULED: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}


def _table(kind: JobKind) -> dict[JobStatus, frozenset[JobStatus]]:
    return _ASSISTANCE if kind.needs_provider else _NO_PROVIDER


def statuses(kind: JobKind) -> frozenset[JobStatus]:
    """Every status a job of ``kind`` can be in."""
    return frozenset(_table(kind))


def next_statuses(kind: JobKind, current: JobStatus) -> frozenset[JobStatus]:
    """Every status a job of ``kind`` in ``current`` may move to."""
    allowed = _table(kind).get(current, frozenset())
    return allowed | {S.CANCELLED} if current in _CANCELLABLE else allowed


def can_move(kind: JobKind, current: JobStatus, target: JobStatus) -> bool:
    return target in next_statuses(kind, current)


def initial_status(*, scheduled: bool) -> JobStatus:
    """A new job's status: ``scheduled`` when it has an ``agendamento``."""
    return S.SCHEDULED if scheduled else S.OPEN


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a job's timeline: who moved it (``actor``), over which dispatch
    channel if any, when, from and to what.

    ``from_status`` is None for the job's creation. ``actor_user_id`` is the
    operator (None for the system and for providers: then ``provider_id`` says who).
    """

    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    actor: ActorKind
    channel: Channel | None = None
    actor_user_id: int | None = None
    provider_id: int | None = None
    cancellation_reason_id: int | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidTimelineError("timeline times must be timezone-aware")


def creation(status: JobStatus, at: datetime, actor: JobActor) -> TimelineEntry:
    """The first timeline entry of a new job."""
    if status not in (S.OPEN, S.SCHEDULED):
        raise IllegalTransitionError(None, status)
    return TimelineEntry(None, status, at, actor.kind, actor.channel, actor.user_id)


def transition(
    kind: JobKind,
    current: JobStatus,
    target: JobStatus,
    *,
    at: datetime,
    actor: JobActor,
    provider_id: int | None = None,
    cancellation_reason_id: int | None = None,
    note: str | None = None,
) -> TimelineEntry:
    """The timeline entry of moving a ``kind`` job from ``current`` to ``target``.

    ``provider_id`` is the job's provider after the move (the one assigned, for
    ``assigned``).

    Raises :class:`IllegalTransitionError` when the move is not allowed, and
    :class:`CancellationReasonRequiredError` when ``target`` is ``cancelled`` and no
    reason is given.
    """
    if not can_move(kind, current, target):
        raise IllegalTransitionError(current, target)
    if target is S.CANCELLED and cancellation_reason_id is None:
        raise CancellationReasonRequiredError()
    return TimelineEntry(
        current,
        target,
        at,
        actor.kind,
        actor.channel,
        actor.user_id,
        provider_id,
        cancellation_reason_id if target is S.CANCELLED else None,
        note,
    )


def had_provider(history: list[TimelineEntry] | tuple[TimelineEntry, ...]) -> bool:
    """Whether a provider was ever committed to the job (for usage counting of
    cancelled jobs: the provider travelled)."""
    return any(entry.to_status in WITH_PROVIDER for entry in history)
