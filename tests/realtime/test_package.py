"""The realtime package as a whole: its isolation and its documentation."""

from __future__ import annotations

import ast
import sys
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
PACKAGE = ROOT / "realtime"
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
# Third-party libraries are fine (the live store needs Redis and H3); our business
# packages (registry, operations, geo, server) are not.
ALLOWED = set(sys.stdlib_module_names) | {"__future__", "orjson", "redis", "h3", "realtime"}
OURS = {"registry", "operations", "geo", "server", "clients", "tests", "bench"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_realtime_imports_nothing_of_ours(path: Path) -> None:
    roots = imported_roots(path)
    assert not roots & OURS
    assert roots <= ALLOWED, roots - ALLOWED


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
