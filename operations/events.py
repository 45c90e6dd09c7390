"""The catalogue: every event on the cross-node bus, its payload and whether it
may be lost. docs/protocol.md ("Panel events") lists the same (a test checks).

Durable events (job and incident changes, a revoked device token) are written to
the outbox in the transaction of the change (:meth:`operations.service.UnitOfWork.emit`,
:func:`operations.outbox.emit`) and relayed at least once; lossy ones are published
straight on the bus, and a bus outage loses them (a node that resubscribes reloads
what they would have told it). Realtime publishes two lossy events of its own,
defined in :mod:`realtime.events` and listed here.

Offers (dispatch) are durable too: ``offer.created`` and ``offer.status`` reach
the node that holds the provider's socket (which delivers them to the app) and the
operators' panels.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from operations.views import IncidentView, JobView, OfferView, RunView
from realtime.events import PROVIDER_ONLINE, PROVIDER_POSITIONS, EventType
from realtime.events import PositionsPayload as PositionsPayload
from realtime.events import ProviderOnlinePayload as ProviderOnlinePayload


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True)


class IncidentEvent(_Payload):
    incident: IncidentView


class JobEvent(_Payload):
    incident_id: int
    job: JobView


class OfferEvent(_Payload):
    offer: OfferView


class RunEvent(_Payload):
    run: RunView


class TokenRevokedEvent(_Payload):
    provider_id: int
    token_id: int


class ProvidersChangedEvent(_Payload):
    provider_ids: list[int] | None  # None: every provider (reload the whole catalogue)


INCIDENT_UPDATED = EventType.define(
    "incident.updated",
    IncidentEvent,
    durable=True,
    summary="an incident was opened, or a job was added to it",
)
JOB_CREATED = EventType.define(
    "job.created", JobEvent, durable=True, summary="a job was registered"
)
JOB_UPDATED = EventType.define(
    "job.updated",
    JobEvent,
    durable=True,
    summary="a job's requester, notes, times or places changed",
)
JOB_STATUS = EventType.define(
    "job.status",
    JobEvent,
    durable=True,
    summary="a job moved (dispatch, assignment, arrival, cancellation...)",
)
OFFER_CREATED = EventType.define(
    "offer.created",
    OfferEvent,
    durable=True,
    summary="a job was offered to a provider (the node holding its socket delivers it)",
)
OFFER_STATUS = EventType.define(
    "offer.status",
    OfferEvent,
    durable=True,
    summary="an offer was delivered, accepted, refused, expired, withdrawn or failed",
)
AUTO_DISPATCH = EventType.define(
    "dispatch.run",
    RunEvent,
    durable=True,
    summary="a job's automatic dispatch started, stepped, widened, gave up, ended or stopped",
)
DEVICE_TOKEN_REVOKED = EventType.define(
    "device_token.revoked",
    TokenRevokedEvent,
    durable=True,
    summary="a provider app's token was revoked: every node closes its sockets (4004)",
)
PROVIDERS_CHANGED = EventType.define(
    "registry.providers_changed",
    ProvidersChangedEvent,
    durable=False,
    summary="providers were edited in the registry: nodes reread them for candidate search",
)

PANEL_EVENTS: tuple[EventType[Any], ...] = (
    INCIDENT_UPDATED,
    JOB_CREATED,
    JOB_UPDATED,
    JOB_STATUS,
    OFFER_CREATED,
    OFFER_STATUS,
    AUTO_DISPATCH,
    PROVIDER_POSITIONS,
)
"""What the operators' panels follow (and resynchronise from, for the durable ones)."""

INTERNAL_EVENTS: tuple[EventType[Any], ...] = (
    PROVIDER_ONLINE,
    DEVICE_TOKEN_REVOKED,
    PROVIDERS_CHANGED,
)
"""What only server processes act on."""

CATALOGUE: dict[str, EventType[Any]] = {e.name: e for e in PANEL_EVENTS + INTERNAL_EVENTS}
"""Every event type by name."""

__all__ = [
    "AUTO_DISPATCH",
    "CATALOGUE",
    "DEVICE_TOKEN_REVOKED",
    "INCIDENT_UPDATED",
    "INTERNAL_EVENTS",
    "JOB_CREATED",
    "JOB_STATUS",
    "JOB_UPDATED",
    "OFFER_CREATED",
    "OFFER_STATUS",
    "PANEL_EVENTS",
    "PROVIDERS_CHANGED",
    "PROVIDER_ONLINE",
    "PROVIDER_POSITIONS",
    "IncidentEvent",
    "JobEvent",
    "OfferEvent",
    "PositionsPayload",
    "ProviderOnlinePayload",
    "ProvidersChangedEvent",
    "RunEvent",
    "TokenRevokedEvent",
]
