"""The event catalogue: every bus event named once, documented as it is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from operations.events import CATALOGUE, INTERNAL_EVENTS, PANEL_EVENTS
from realtime.events import META_KEYS, EventType

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text("utf-8")
ROW = re.compile(r"^\| `([a-z_.]+)` \| (durable|lossy) \|", re.MULTILINE)


def test_every_event_is_in_the_catalogue_once() -> None:
    names = [e.name for e in PANEL_EVENTS + INTERNAL_EVENTS]
    assert len(names) == len(set(names)) == len(CATALOGUE)


def test_the_documented_events_are_the_catalogue() -> None:
    documented = dict(ROW.findall(DOC))
    kept = {e.name: "durable" if e.durable else "lossy" for e in CATALOGUE.values()}
    assert documented == kept


@pytest.mark.parametrize("event", list(CATALOGUE.values()), ids=lambda e: e.name)
def test_no_payload_key_collides_with_the_envelope(event: EventType[Any]) -> None:
    payload = event.payload
    keys = set(payload.model_fields if issubclass(payload, BaseModel) else payload.__annotations__)
    assert keys and not keys & META_KEYS


def test_job_and_incident_changes_may_not_be_lost() -> None:
    assert all(e.durable for e in CATALOGUE.values() if e.name.split(".")[0] in {"job", "incident"})
    assert not CATALOGUE["provider.positions"].durable
