"""The offer state machine (pure): one provider asked to take one job over one
channel, and how its answer is judged.

::

    pending ──► delivered ──► accepted ──► withdrawn (the job went back to dispatch)
       │            │
       │            ├──► refused   (with a RefusalReason)
       │            ├──► expired   (its time ran out: counts as a refusal)
       │            └──► withdrawn (another provider won, the job was cancelled or
       │                            assigned otherwise, the operator took it back)
       ├──► accepted (verbal: the operator records the phone call; a link opened
       │              before its delivery was recorded)
       ├──► refused, expired, withdrawn
       └──► failed    (the channel could not deliver it)

* ``pending``: created; on its way (an app socket, an SMS or e-mail, the portal).
* ``delivered``: the provider's device or gateway has it.
* ``accepted``: the provider took the job (exactly one accepted offer per job: a
  partial unique index enforces it in PostgreSQL). It leaves only when the job goes
  back to dispatch (the provider gave up, the operator re-dispatches): ``withdrawn``.
* ``refused``, ``expired``, ``withdrawn``, ``failed``: final.

Every transition but the delivery bumps the offer's ``version`` (and so does each
status a provider reports through its link): a signed link binds the version it was
issued for, so each link works once for each step (compare-and-set). The delivery
leaves it: the link in an SMS is signed before the gateway takes it.

:func:`judge_accept` decides what an ``accept`` gets: the one answer each caller
(app, portal, link, operator) turns into its own reply. Accept is idempotent: the
same provider asking again gets ``accepted`` again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from operations.errors import IllegalOfferTransitionError, InvalidTimelineError
from operations.lifecycle import AWAITING_PROVIDER, ActorKind, JobStatus
from registry.enums import Channel


class OfferStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The pt-BR name shown to operators and providers."""
        return OFFER_LABELS[self]

    @property
    def open(self) -> bool:
        """Waiting for the provider's answer."""
        return self in OPEN


OFFER_LABELS = {
    OfferStatus.PENDING: "Enviada",
    OfferStatus.DELIVERED: "Entregue",
    OfferStatus.ACCEPTED: "Aceita",
    OfferStatus.REFUSED: "Recusada",
    OfferStatus.EXPIRED: "Expirada",
    OfferStatus.WITHDRAWN: "Retirada",
    OfferStatus.FAILED: "Falhou",
}

OS = OfferStatus

OPEN = frozenset({OS.PENDING, OS.DELIVERED})
"""Offers waiting for an answer (at most one per job and provider)."""

FINAL = frozenset({OS.REFUSED, OS.EXPIRED, OS.WITHDRAWN, OS.FAILED})
"""No transition leaves these."""

COUNTS_AS_REFUSAL = frozenset({OS.REFUSED, OS.EXPIRED})
"""Answers that lower the acceptance rate (an offer left to expire is a refusal, as
motor clubs count it)."""

_NEXT: dict[OfferStatus, frozenset[OfferStatus]] = {
    OS.PENDING: frozenset(
        {OS.DELIVERED, OS.ACCEPTED, OS.REFUSED, OS.EXPIRED, OS.WITHDRAWN, OS.FAILED}
    ),
    OS.DELIVERED: frozenset({OS.ACCEPTED, OS.REFUSED, OS.EXPIRED, OS.WITHDRAWN}),
    OS.ACCEPTED: frozenset({OS.WITHDRAWN}),
    OS.REFUSED: frozenset(),
    OS.EXPIRED: frozenset(),
    OS.WITHDRAWN: frozenset(),
    OS.FAILED: frozenset(),
}


class WithdrawReason(enum.StrEnum):
    """Why an offer was withdrawn (shown to the provider and on the timeline)."""

    TAKEN = "taken"  # another provider accepted the job
    CANCELLED = "cancelled"  # the job was cancelled
    ASSIGNED = "assigned"  # the operator assigned the job otherwise
    OPERATOR = "operator"  # the operator took this offer back
    REDISPATCH = "redispatch"  # after accepting, the job went back to dispatch
    ETA_TOO_LONG = "eta_too_long"  # automatic dispatch: the ETA bid was above the maximum

    @property
    def label(self) -> str:
        return WITHDRAW_LABELS[self]


WITHDRAW_LABELS = {
    WithdrawReason.TAKEN: "Outro prestador aceitou o atendimento",
    WithdrawReason.CANCELLED: "O atendimento foi cancelado",
    WithdrawReason.ASSIGNED: "O atendimento foi designado a outro prestador",
    WithdrawReason.OPERATOR: "A central retirou a oferta",
    WithdrawReason.REDISPATCH: "O atendimento voltou para acionamento",
    WithdrawReason.ETA_TOO_LONG: "A previsão de chegada ficou acima do máximo do cliente",
}


def next_offer_statuses(current: OfferStatus) -> frozenset[OfferStatus]:
    return _NEXT[current]


def can_move_offer(current: OfferStatus, target: OfferStatus) -> bool:
    return target in _NEXT[current]


@dataclass(frozen=True, slots=True)
class OfferEntry:
    """One line of an offer's history (and so of its job's timeline): who moved it,
    over which channel, when, from and to what, and why."""

    from_status: OfferStatus | None
    to_status: OfferStatus
    at: datetime
    actor: ActorKind
    channel: Channel
    actor_user_id: int | None = None
    refusal_reason_id: int | None = None
    withdraw_reason: WithdrawReason | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidTimelineError("timeline times must be timezone-aware")


def offer_transition(
    current: OfferStatus | None,
    target: OfferStatus,
    *,
    at: datetime,
    actor: ActorKind,
    channel: Channel,
    actor_user_id: int | None = None,
    refusal_reason_id: int | None = None,
    withdraw_reason: WithdrawReason | None = None,
    note: str | None = None,
) -> OfferEntry:
    """The history line of moving an offer from ``current`` (None: creating it, as
    ``pending``, or ``accepted`` for a verbal dispatch) to ``target``.

    Raises:
        IllegalOfferTransitionError: the move is not in the table, a refusal has no
            reason, or a withdrawal no withdraw reason.
    """
    if current is None:
        if target not in (OS.PENDING, OS.ACCEPTED):
            raise IllegalOfferTransitionError(current, target)
    elif not can_move_offer(current, target):
        raise IllegalOfferTransitionError(current, target)
    if (target is OS.REFUSED) != (refusal_reason_id is not None):
        raise IllegalOfferTransitionError(current, target)
    if (target is OS.WITHDRAWN) != (withdraw_reason is not None):
        raise IllegalOfferTransitionError(current, target)
    return OfferEntry(
        current,
        target,
        at,
        actor,
        channel,
        actor_user_id,
        refusal_reason_id,
        withdraw_reason,
        note,
    )


class AcceptOutcome(enum.StrEnum):
    """What an accept gets (the app's reply code, the portal's and link page's
    message, the API's answer)."""

    ACCEPTED = "accepted"  # the job is this provider's (again, if asked twice)
    TAKEN = "taken"  # another provider has it, or the job is no longer to be had
    EXPIRED = "expired"  # the offer's time ran out first
    CLOSED = "closed"  # the offer was refused, withdrawn or failed before
    BUSY = "busy"  # the provider is at its limit of jobs at once
    CONFIRM = "confirm"  # the ETA is above the client's maximum: the operator decides

    @property
    def message(self) -> str:
        """What the provider is told, in pt-BR."""
        return ACCEPT_MESSAGES[self]


ACCEPT_MESSAGES = {
    AcceptOutcome.ACCEPTED: "Atendimento aceito. Siga para o local.",
    AcceptOutcome.TAKEN: "Este atendimento já foi aceito por outro prestador.",
    AcceptOutcome.EXPIRED: "O prazo desta oferta terminou.",
    AcceptOutcome.CLOSED: "Esta oferta não está mais disponível.",
    AcceptOutcome.BUSY: "Você já está no limite de atendimentos simultâneos.",
    AcceptOutcome.CONFIRM: "Previsão acima do máximo do cliente: aguarde a confirmação da central.",
}


@dataclass(frozen=True, slots=True)
class AcceptFacts:
    """What :func:`judge_accept` looks at, read under the job's lock."""

    offer_status: OfferStatus
    expires_at: datetime
    job_status: JobStatus
    job_provider_id: int | None
    provider_id: int
    provider_active_jobs: int
    provider_max_jobs: int
    eta_minutes: int | None
    max_eta_minutes: int | None
    confirmed: bool = False


def judge_accept(facts: AcceptFacts, now: datetime) -> AcceptOutcome:
    """The answer to an accept, in order: an offer already accepted (idempotent), a
    job no longer to be had (``taken``), a closed offer, an expired one, a provider
    at its limit, an ETA above the client's maximum (unless the operator
    confirmed), else ``accepted``."""
    f = facts
    if f.offer_status is OS.ACCEPTED:
        return AcceptOutcome.ACCEPTED if f.job_provider_id == f.provider_id else AcceptOutcome.TAKEN
    if f.job_status not in AWAITING_PROVIDER:
        return AcceptOutcome.TAKEN
    if f.offer_status not in OPEN:
        return AcceptOutcome.EXPIRED if f.offer_status is OS.EXPIRED else AcceptOutcome.CLOSED
    if now >= f.expires_at:
        return AcceptOutcome.EXPIRED
    if f.provider_active_jobs >= f.provider_max_jobs:
        return AcceptOutcome.BUSY
    eta, limit = f.eta_minutes, f.max_eta_minutes
    if eta is not None and limit is not None and eta > limit and not f.confirmed:
        return AcceptOutcome.CONFIRM
    return AcceptOutcome.ACCEPTED


def withdraw_reason_for(target: JobStatus) -> WithdrawReason | None:
    """Why the job's open offers are withdrawn when it moves to ``target`` (None:
    they stay open)."""
    if target is JobStatus.CANCELLED:
        return WithdrawReason.CANCELLED
    if target in AWAITING_PROVIDER:
        return None
    return WithdrawReason.ASSIGNED
