"""The realtime package as a whole: its documentation."""

from __future__ import annotations

from pathlib import Path

import pytest

from realtime.filter import RejectReason
from realtime.protocol import (
    CLIENT_MESSAGES,
    SERVER_MESSAGES,
    CloseCode,
    ErrorCode,
    constants,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
# What realtime may import is checked with every package's rules: tests/test_imports.py.


@pytest.mark.parametrize("kind", sorted(CLIENT_MESSAGES) + sorted(SERVER_MESSAGES))
def test_every_message_type_has_its_section(kind: str) -> None:
    assert f"### `{kind}`" in DOC


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code.value}` |" in DOC


@pytest.mark.parametrize("code", list(CloseCode))
def test_every_close_code_is_documented(code: CloseCode) -> None:
    assert f"| {code.value} |" in DOC


@pytest.mark.parametrize("reason", list(RejectReason))
def test_every_reject_reason_is_documented(reason: RejectReason) -> None:
    assert f"| `{reason.value}` |" in DOC


@pytest.mark.parametrize(
    "text",
    [
        constants.PATH,
        constants.SUBPROTOCOL,
        constants.TOKEN_SUBPROTOCOL_PREFIX,
        f"{constants.MAX_FRAME_BYTES:,}".replace(",", " ") + " bytes",
        f"{constants.MAX_BATCH_FIXES} fixes",
        f"{constants.AUTH_DEADLINE_S:g} s",
        f"{constants.IDLE_TIMEOUT_S:g} s",
        f"{constants.PING_INTERVAL_S:g} s",
        f"{constants.RATE_LIMIT_PER_S:g} frames per second",
        f"bursts of {constants.RATE_LIMIT_BURST}",
        f"{constants.FLOOD_CLOSE_AFTER} frames in a row",
    ],
)
def test_documented_defaults_match_the_code(text: str) -> None:
    assert text in DOC
