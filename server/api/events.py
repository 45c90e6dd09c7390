"""``GET /api/v1/events?after=``: the panels' resynchronisation.

A panel follows the bus and remembers the ``seq`` of the last durable event it
applied. After a lost connection it asks for the events published since, in order,
and applies them; when they were pruned meanwhile (``reload``), it reloads the state
from the API and follows from ``last_seq`` (docs/protocol.md, "Panel events").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from operations.events import PANEL_EVENTS
from operations.outbox import events_after
from registry.permissions import Permission
from registry.schemas.common import InModel
from server.api.core import Ctx, Operation

MAX_EVENTS = 1_000
PANEL_DURABLE = tuple(e.name for e in PANEL_EVENTS if e.durable)


class EventsQuery(InModel):
    after: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    limit: Annotated[int, Field(ge=1, le=MAX_EVENTS)] = 200


class EventsOut(BaseModel):
    events: list[dict[str, Any]]
    last_seq: int
    reload: bool


async def list_events(ctx: Ctx) -> EventsOut:
    q: EventsQuery = ctx.query
    page = await events_after(ctx.session, q.after, PANEL_DURABLE, q.limit)
    return EventsOut(events=page.events, last_seq=page.last_seq, reload=page.reload)


OPERATIONS = [
    Operation(
        "GET",
        "/events",
        list_events,
        "The panels' durable events published after position `after`, in order",
        "operations",
        permission=Permission.OPERATIONS_VIEW,
        query=EventsQuery,
        response=EventsOut,
    ),
]
