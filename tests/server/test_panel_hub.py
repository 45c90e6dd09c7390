"""The console's hub without sockets: events forwarded with their envelope, positions
coalesced to one per provider, a page that stops reading closed."""

from __future__ import annotations

import orjson

from operations.events import JOB_STATUS, PANEL_EVENTS
from realtime.events import PROVIDER_POSITIONS, Received
from server.ws_panel import CLOSE_RESTART, SEND_QUEUE, PanelHub, PanelSocket
from server.ws_portal import CLOSE_SLOW


class FakeBus:
    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}

    def on(self, event: object, handler: object) -> None:
        self.handlers[event.name] = handler  # type: ignore[attr-defined]


def _drain(sock: PanelSocket) -> list[dict[str, object]]:
    return [orjson.loads(text) for text in sock.take()]


async def test_every_panel_event_is_followed_and_positions_are_coalesced() -> None:
    hub, bus, sock = PanelHub(0.5), FakeBus(), PanelSocket()
    hub.subscribe(bus)  # type: ignore[arg-type]
    assert set(bus.handlers) == {e.name for e in PANEL_EVENTS}
    hub.add(sock)
    handler = bus.handlers[PROVIDER_POSITIONS.name]
    for lat in (-23.50, -23.51, -23.52):
        fix = {"provider_id": 7, "lat": lat, "lng": -46.6, "t": 1, "spd": None, "hdg": None}
        await handler(Received({"positions": [fix]}, "node"))  # type: ignore[operator]
    other = {"provider_id": 8, "lat": -23.6, "lng": -46.7, "t": 2, "spd": None, "hdg": None}
    await handler(Received({"positions": [other]}, "node"))  # type: ignore[operator]
    assert _drain(sock) == []  # nothing before the flush
    hub.flush_positions()
    [message] = _drain(sock)  # one message, each provider's last fix
    assert message == {
        "type": "positions",
        "positions": [[7, -23.52, -46.6, 1], [8, -23.6, -46.7, 2]],
    }
    hub.flush_positions()
    assert _drain(sock) == []  # nothing new, nothing sent


async def test_a_durable_event_keeps_its_id_and_position() -> None:
    hub, bus, sock = PanelHub(0.5), FakeBus(), PanelSocket()
    hub.subscribe(bus)  # type: ignore[arg-type]
    hub.add(sock)
    payload = JOB_STATUS.decode({"incident_id": 1, "job": _job_view()})
    await bus.handlers[JOB_STATUS.name](Received(payload, "node", event_id=41, seq=9))  # type: ignore[operator]
    [message] = _drain(sock)
    assert message is not None and message["type"] == "event"
    event = message["event"]
    assert (event["type"], event["event_id"], event["seq"]) == ("job.status", 41, 9)  # type: ignore[index]
    assert event["job"]["id"] == 5  # type: ignore[index]


def test_a_page_that_stops_reading_is_closed_at_once_not_buffered() -> None:
    sock = PanelSocket()
    for _ in range(SEND_QUEUE):
        assert sock.push("{}")
    sock.push_positions('{"type":"positions"}')
    assert not sock.push("{}")
    assert sock.slow and sock.close_code == CLOSE_SLOW
    assert sock.take() == []  # nothing more is sent: the writer closes it (4009)
    assert not sock.push("{}")


def test_only_the_latest_positions_wait_for_a_page() -> None:
    sock = PanelSocket()
    sock.push_positions("old")
    sock.push("event")
    sock.push_positions("new")
    assert sock.take() == ["event", "new"]
    assert sock.take() == []


def test_a_stopping_node_tells_its_consoles_to_reconnect() -> None:
    hub, sock = PanelHub(0.5), PanelSocket()
    hub.add(sock)
    hub.close_all()
    assert sock.close_code == CLOSE_RESTART


def _job_view() -> dict[str, object]:
    at = "2026-12-02T03:00:00Z"
    return {
        "id": 5,
        "incident_id": 1,
        "client_id": 1,
        "kind": "assistance",
        "status": "open",
        "status_label": "Aberto",
        "next_statuses": [],
        "service_type_id": 1,
        "plan_id": None,
        "plan_service_id": None,
        "ad_hoc": True,
        "chargeable": True,
        "coverage_note": None,
        "covered_value": None,
        "km_per_use": None,
        "requester": {"name": "Ana", "phone": "+5511988887777"},
        "requested_at": at,
        "notes_for_provider": None,
        "scheduled_for": None,
        "provider_id": None,
        "cancellation_reason_id": None,
        "dispatch_due_at": None,
        "arrival_due_at": None,
        "promised_at": None,
        "arrived_at": None,
        "arrival_source": None,
        "handling_time_s": 0,
        "status_changed_at": at,
        "origin": None,
        "destination": None,
        "created_at": at,
        "updated_at": at,
    }
