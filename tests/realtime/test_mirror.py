"""The live mirror's core: positions by provider and by cell, busy flags, messages."""

from __future__ import annotations

import h3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.errors import MirrorMessageError
from realtime.filter import PositionFix
from realtime.mirror import LiveMirror
from realtime.store import CELL_RESOLUTION, POSITIONS_MESSAGE, position_line

A, B = "88a8100c6bfffff", "88a8100c69fffff"


def test_a_provider_is_in_the_cell_of_its_latest_position_only() -> None:
    mirror = LiveMirror()
    mirror.put(1, A, (-23.5, -46.6, 10))
    mirror.put(2, A, (-23.5, -46.6, 11))
    mirror.put(1, B, (-23.6, -46.7, 20))
    assert mirror.in_cell(A) == {2: (-23.5, -46.6, 11)}
    assert mirror.in_cell(B) == {1: (-23.6, -46.7, 20)}
    mirror.put(2, B, (-23.6, -46.7, 30))
    assert mirror.in_cell(A) == {}
    assert mirror.position(2) == (-23.6, -46.7, 30)
    assert mirror.position(3) is None
    assert len(mirror) == 2


def test_a_received_time_never_goes_back() -> None:
    """A later report stamped earlier (another node's clock behind) moves the
    provider but keeps the later stamp: candidate search relies on it."""
    mirror = LiveMirror()
    mirror.put(1, A, (-23.5, -46.6, 1_000))
    mirror.put(1, B, (-23.6, -46.7, 990))
    assert mirror.position(1) == (-23.6, -46.7, 1_000)
    assert mirror.in_cell(B) == {1: (-23.6, -46.7, 1_000)} and mirror.in_cell(A) == {}
    mirror.put(1, B, (-23.6, -46.7, 1_010))
    assert mirror.position(1) == (-23.6, -46.7, 1_010)


def test_position_lines_as_the_store_writes_them_are_read() -> None:
    mirror = LiveMirror()
    fix = PositionFix(-23.5, -46.6, 5.0, 1_700_000_000_000, None, 90.0)
    mirror.apply(POSITIONS_MESSAGE + b"\n" + position_line(7, fix, 42))
    cell = h3.latlng_to_cell(-23.5, -46.6, CELL_RESOLUTION)
    assert mirror.in_cell(cell) == {7: (-23.5, -46.6, 42)}


def test_messages_are_applied_in_order() -> None:
    mirror = LiveMirror()
    mirror.apply(f"p\n{A} 10 1 -23.5 -46.6\n{A} 11 2 -23.25 -46.5".encode())
    mirror.apply(f"p\n{B} 20 1 -23.6 -46.7".encode())
    mirror.apply(b"b\n1 1 2 3")
    mirror.apply(b"b\n0 3")
    assert mirror.in_cell(A) == {2: (-23.25, -46.5, 11)}
    assert mirror.position(1) == (-23.6, -46.7, 20)
    assert mirror.busy == {1, 2} and mirror.is_busy(1) and not mirror.is_busy(3)
    mirror.apply(b"B\n9")
    assert mirror.busy == {9}
    mirror.apply(b"B\n")
    assert mirror.busy == set()


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"x\n1",
        b"p\n",
        b"p\nA 1 2 3",
        b"p\nA 1 x 3 4",
        b"b\nq 1",
        b"B\n1 two",
        b"p\n\xff 1 2 3 4",
    ],
)
def test_an_unreadable_message_is_refused(message: bytes) -> None:
    mirror = LiveMirror()
    with pytest.raises(MirrorMessageError):
        mirror.apply(message)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from([A, B]), st.integers(0, 99))))
def test_the_cells_always_agree_with_the_latest_positions(
    writes: list[tuple[int, str, int]],
) -> None:
    mirror, latest = LiveMirror(), dict[int, tuple[str, int]]()
    for pid, cell, received in writes:
        mirror.put(pid, cell, (0.0, 0.0, received))
        latest[pid] = (cell, max(received, latest.get(pid, (cell, received))[1]))
    for cell in (A, B):
        expected = {pid: (0.0, 0.0, r) for pid, (c, r) in latest.items() if c == cell}
        assert mirror.in_cell(cell) == expected
