"""Typed bus events: what an event type is, and the events realtime itself
publishes (pure; knows nothing of the business).

An :class:`EventType` names one kind of event (its ``type`` on the wire), says how
its payload is checked and encoded, and whether it may be lost:

* **lossy** events (positions for the panels, a provider's newer connection) are
  news: published straight on the bus, fire-and-forget;
* **durable** events (job and offer changes) may not be lost: they are never
  published directly (:meth:`realtime.bus.Bus.publish` refuses them) but written to
  an outbox in the transaction of the change they announce and relayed to the bus
  at least once, each with its ``event_id`` (consumers drop duplicates) and its
  ``seq`` (its place in the publication order, from which a panel resynchronises).

Every event of the deployment is named in one catalogue, ``operations.events``;
the two realtime publishes itself are defined here because this package may not
import that one.

On the wire an event is one JSON object: ``type`` and ``node`` first (a node reads
the type without decoding the rest), then ``event_id`` and ``seq`` for a durable
one, then the payload's keys (:data:`META_KEYS` are reserved).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pydantic
from typing_extensions import TypedDict  # pydantic checks these on Python < 3.12

P = TypeVar("P")

META_KEYS = frozenset({"type", "node", "event_id", "seq"})
"""Keys of the envelope; a payload never uses them."""


@dataclass(frozen=True, slots=True, eq=False)
class EventType(Generic[P]):
    """One kind of bus event.

    Attributes:
        name: the ``type`` on the wire (``job.status``).
        durable: may not be lost (outbox, at least once) rather than news.
        payload: the payload's type (a ``TypedDict`` or a pydantic model).
        summary: when it is published, for the protocol's documentation.
    """

    name: str
    durable: bool
    payload: type[P]
    summary: str
    _adapter: pydantic.TypeAdapter[P]

    @classmethod
    def define(cls, name: str, payload: type[P], *, durable: bool, summary: str) -> EventType[P]:
        """An event type whose payload ``pydantic`` checks when it is received."""
        return cls(name, durable, payload, summary, pydantic.TypeAdapter(payload))

    def encode(self, payload: P) -> dict[str, Any]:
        """The payload as JSON-ready values (datetimes, decimals as text)."""
        if isinstance(payload, dict):  # a TypedDict is JSON-ready by its type
            return cast(dict[str, Any], payload)
        return cast(dict[str, Any], self._adapter.dump_python(payload, mode="json"))

    def decode(self, data: Mapping[str, Any]) -> P:
        """The payload of a received event (envelope keys ignored).

        Raises:
            pydantic.ValidationError: it does not have the payload's shape.
        """
        return self._adapter.validate_python({k: v for k, v in data.items() if k not in META_KEYS})


@dataclass(frozen=True, slots=True)
class Received(Generic[P]):
    """An event as a handler gets it: the checked payload and its envelope.

    Attributes:
        payload: the event's payload.
        node: the node that published it (the relaying node for a durable one).
        event_id: a durable event's id (its outbox row), else None.
        seq: a durable event's place in the publication order, else None.
    """

    payload: P
    node: str
    event_id: int | None = None
    seq: int | None = None


Handler = Callable[[Received[P]], Awaitable[None]]
"""What handles a received event of one type."""


# -- realtime's own events ----------------------------------------------------------


class PositionOut(TypedDict):
    provider_id: int
    lat: float
    lng: float
    t: int  # device time of the fix, ms since the epoch
    spd: float | None
    hdg: float | None


class PositionsPayload(TypedDict):
    positions: list[PositionOut]


class ProviderOnlinePayload(TypedDict):
    provider_id: int
    connection_id: str


PROVIDER_POSITIONS = EventType.define(
    "provider.positions",
    PositionsPayload,
    durable=False,
    summary="throttled provider positions (at most one per provider per "
    "`POSITION_PUBLISH_INTERVAL_S`)",
)
PROVIDER_ONLINE = EventType.define(
    "provider.online",
    ProviderOnlinePayload,
    durable=False,
    summary="a provider's app connected to a node (its older connection elsewhere closes)",
)
