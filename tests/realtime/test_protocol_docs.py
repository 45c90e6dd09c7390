"""docs/protocol.md and the provider socket agree: every close code and error code
the server can send is documented, and the documents list no other (hardening
issue, item 6). A new code without its row, or a row for a code the server no
longer sends, fails here."""

from __future__ import annotations

import re

from clients.provider_app_sim.protocol import NO_RECONNECT
from clients.provider_app_sim.protocol import CloseCode as AppCloseCode
from realtime.protocol.constants import CloseCode, ErrorCode
from server.settings import PROJECT_ROOT

PROTOCOL = (PROJECT_ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = PROTOCOL.index(f"\n## {title}\n")
    end = PROTOCOL.find("\n## ", start + 1)
    return PROTOCOL[start : end if end != -1 else None]


def _first_cells(section: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^\| `?([\w.]+)`? \|", section, re.M)} - {"code"}


def test_every_close_code_is_documented_and_no_other() -> None:
    documented = {int(code) for code in _first_cells(_section("Close codes"))}
    assert documented == {int(code) for code in CloseCode}


def test_every_error_code_is_documented_and_no_other() -> None:
    assert _first_cells(_section("Error codes")) == {str(code) for code in ErrorCode}


def test_the_simulated_app_knows_every_close_code_and_when_not_to_reconnect() -> None:
    assert {int(c) for c in CloseCode} <= {int(c) for c in AppCloseCode}
    closes = _section("Close codes")
    for code in AppCloseCode:
        row = re.search(rf"^\| {int(code)} \|.*$", closes, re.M)
        if row is not None and "do not reconnect" in row.group(0).lower():
            assert code in NO_RECONNECT, code
