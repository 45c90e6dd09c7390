"""The clocks: the system clock is aware UTC; the manual one moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from operations.gateways import Clock, ManualClock, SystemClock

START = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SAO_PAULO = timezone(timedelta(hours=-3))


def test_system_clock_is_aware_utc_and_current() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now() == START


def test_manual_clock_keeps_utc_whatever_the_start_zone() -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, 0, tzinfo=SAO_PAULO))
    assert clock.now() == START
    assert clock.now().tzinfo is UTC


def test_advance_moves_forwards_and_returns_the_new_time() -> None:
    clock = ManualClock(START)
    assert clock.advance(timedelta(seconds=90)) == START + timedelta(seconds=90)
    assert clock.advance(timedelta(0)) == START + timedelta(seconds=90)
    assert clock.now() == START + timedelta(seconds=90)


def test_advance_refuses_to_go_backwards() -> None:
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="forwards"):
        clock.advance(timedelta(microseconds=-1))
    assert clock.now() == START


def test_set_may_step_back_like_a_wall_clock() -> None:
    clock = ManualClock(START)
    earlier = START - timedelta(minutes=5)
    assert clock.set(earlier) == earlier
    assert clock.now() == earlier
    assert clock.set(datetime(2026, 12, 7, 13, 0, tzinfo=SAO_PAULO)).tzinfo is UTC
    assert clock.now() == START + timedelta(hours=1)


@pytest.mark.parametrize("naive", [datetime(2026, 12, 7, 15, 0), datetime.now()])
def test_naive_times_are_refused(naive: datetime) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(naive)
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(naive)
    assert clock.now() == START
