"""Errors of the operations package.

::

    OperationsError               base of every operations error; carries a pt-BR
    │                             ``message`` that may be shown to the operator
    ├── InvalidCoverageDataError  coverage input that breaks its contract: a naive
    │                             datetime, a contract ending before it starts, a
    │                             service listed twice in a plan, negative km (a bug
    │                             in the caller; also a ValueError)
    ├── CoverageRefusedError      a job was to be opened under a plan that does not
    │                             cover it now (limit reached, no plan, plan not in
    │                             force); carries the refused ``coverage``
    ├── InvalidInputError         a value the operator gave does not fit (names the
    │                             ``field``)
    ├── NotFoundError             an incident or job that does not exist (``entity``)
    ├── IllegalTransitionError    a job status change the state machine forbids
    ├── CancellationReasonRequiredError  cancelling without a reason
    ├── IllegalOfferTransitionError  an offer status change the offer state
    │                             machine forbids (a bug in the caller)
    ├── OfferConflictError        an offer that cannot be made or moved now: the
    │                             job does not await a provider, the provider
    │                             cannot take that channel now, an open offer to
    │                             that provider exists (``code`` says which)
    ├── InvalidTimelineError      a timeline entry out of contract (a naive time: a
    │                             bug in the caller)
    ├── ClientWeightsError        a client's ranking weights overrides that cannot be
    │                             used (a bad registry value: the operator cannot
    │                             rank that client's candidates until it is fixed)
    ├── LiveUnavailableError      live positions are not loaded on this node (Redis
    │                             down since start-up): candidates cannot be ranked
    ├── LinkError                 a signed link that cannot be honoured
    │   ├── InvalidLinkError      tampered with, signed with another key, or for
    │   │                         another purpose
    │   └── ExpiredLinkError      signed by us, but past its expiry
    └── DeliveryError             an SMS or e-mail gateway could not take a message
                                  (the gateway is down or refused it)

The server translates them at its boundary: ``CoverageRefusedError`` becomes a
conflict with the coverage's ``verdict`` as the stable code and its message as is;
``InvalidInputError`` a 422 naming the field; ``NotFoundError`` a 404;
``IllegalTransitionError`` and ``OfferConflictError`` a 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from operations.coverage import Coverage
    from operations.lifecycle import JobStatus
    from operations.offers import OfferStatus


class OperationsError(Exception):
    """Base of every error raised by the operations package.

    Attributes:
        message: what went wrong, in pt-BR, fit to show to the operator.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCoverageDataError(OperationsError, ValueError):
    """Coverage input (plans, services, jobs, moments, km) that cannot be used."""


class CoverageRefusedError(OperationsError):
    """A job cannot be opened as covered by a plan.

    Attributes:
        coverage: the refusal (its ``verdict`` says why, its ``message`` is pt-BR).
    """

    def __init__(self, coverage: Coverage) -> None:
        super().__init__(coverage.message)
        self.coverage = coverage


class InvalidInputError(OperationsError, ValueError):
    """A value given for ``field`` that operations cannot accept."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(OperationsError):
    """The ``entity`` (pt-BR name: "Evento", "Atendimento") does not exist."""

    def __init__(self, entity: str) -> None:
        super().__init__(f"{entity} não encontrado.")
        self.entity = entity


class IllegalTransitionError(OperationsError):
    """A job cannot move from ``current`` (None: a new job) to ``target``."""

    def __init__(self, current: JobStatus | None, target: JobStatus) -> None:
        before = current.label if current is not None else "(novo)"
        super().__init__(f"Não é possível passar o atendimento de {before} para {target.label}.")
        self.current = current
        self.target = target


class CancellationReasonRequiredError(OperationsError):
    def __init__(self) -> None:
        super().__init__("Informe o motivo do cancelamento.")


class IllegalOfferTransitionError(OperationsError):
    """An offer cannot move from ``current`` (None: a new offer) to ``target``, or
    the move lacks its reason."""

    def __init__(self, current: OfferStatus | None, target: OfferStatus) -> None:
        before = current.label if current is not None else "(nova)"
        super().__init__(f"Não é possível passar a oferta de {before} para {target.label}.")
        self.current = current
        self.target = target


class OfferConflictError(OperationsError):
    """An offer that cannot be made or changed in the job's or provider's present
    state; ``code`` is stable (``not_awaiting``, ``channel_unavailable``,
    ``already_offered``, ``offer_closed``...), ``message`` pt-BR."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidTimelineError(OperationsError, ValueError):
    """A timeline entry that breaks its contract (a bug in the caller)."""


class ClientWeightsError(OperationsError):
    """The client's ranking weight overrides cannot be used."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Pesos do cliente inválidos: {detail}")


class LiveUnavailableError(OperationsError):
    """This node has no copy of the live positions yet."""

    def __init__(self) -> None:
        super().__init__("Posições ao vivo indisponíveis; tente novamente.")


class LinkError(OperationsError):
    """A signed link (a provider's offer, a beneficiary's tracking page) that cannot
    be honoured."""


class InvalidLinkError(LinkError, ValueError):
    """The link's token was tampered with, signed with another key, or is for
    another purpose."""

    def __init__(self) -> None:
        super().__init__("Link inválido.")


class ExpiredLinkError(LinkError):
    """The link is genuine but past its expiry."""

    def __init__(self) -> None:
        super().__init__("Este link expirou.")


class DeliveryError(OperationsError):
    """A message gateway (SMS, e-mail) could not take a message.

    Attributes:
        channel: ``sms`` or ``email``.
    """

    def __init__(self, channel: str, message: str) -> None:
        super().__init__(message)
        self.channel = channel
