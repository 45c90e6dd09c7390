"""The event loop's lateness and the pauses it asks of provider sockets."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from realtime.lag import PAUSE_JITTER, SMOOTHING, LagConfig, LoopLag
from tests.conftest import unit

CONFIG = LagConfig(probe_s=0.01, ease_above_s=0.1, pause_s=0.25, max_pause_s=5.0)


def test_no_pause_while_the_loop_keeps_up() -> None:
    lag = LoopLag(CONFIG)
    assert lag.pause(0.0) is None
    assert lag.pause(0.1) is None
    assert lag.eased == 0


@pytest.mark.parametrize("lateness", [0.11, 0.2, 0.5, 1.0])
def test_a_pause_grows_with_the_lateness_within_its_jitter(lateness: float) -> None:
    lag = LoopLag(CONFIG, random.Random(7))
    nominal = CONFIG.pause_s * lateness / CONFIG.ease_above_s
    pauses = [lag.pause(lateness) for _ in range(200)]
    assert all(p is not None for p in pauses)
    low, high = nominal * (1 - PAUSE_JITTER), nominal * (1 + PAUSE_JITTER)
    assert all(low <= p <= high for p in pauses if p is not None)
    assert len(set(pauses)) > 100  # jittered: sockets do not come back together
    assert lag.eased == 200


def test_a_pause_never_exceeds_its_bound() -> None:
    lag = LoopLag(CONFIG, random.Random(1))
    assert all(lag.pause(60.0) == CONFIG.max_pause_s for _ in range(50))


def test_one_late_probe_moves_the_smoothed_lateness_a_little() -> None:
    lag = LoopLag(CONFIG)
    lag.observe(expected=10.0, fired=12.0)  # one stall of 2 s
    assert lag.lag_s == pytest.approx(2.0)
    assert lag.smoothed_s == pytest.approx(2.0 * SMOOTHING)
    lag.observe(expected=12.1, fired=12.09)  # early (a coarse clock): not negative
    assert lag.lag_s == 0.0
    for _ in range(20):  # the loop keeps up again: the lateness fades
        lag.observe(expected=13.0, fired=13.0)
    assert lag.smoothed_s < CONFIG.ease_above_s


def test_a_lasting_lateness_is_reached() -> None:
    lag = LoopLag(CONFIG)
    for _ in range(40):
        lag.observe(expected=1.0, fired=1.3)
    assert lag.smoothed_s == pytest.approx(0.3, rel=0.01)


async def test_a_turn_ages_until_the_loop_runs_its_ready_callbacks() -> None:
    lag = LoopLag(CONFIG)
    assert lag.lateness() < 0.01  # the first frame of a turn starts it
    time.sleep(0.15)  # noqa: ASYNC251 (frames handled one after another, never yielding)
    assert lag.lateness() >= 0.15
    await asyncio.sleep(0)  # the loop runs its ready callbacks: the turn is over
    assert lag.lateness() < 0.01


async def test_the_probe_measures_a_blocked_loop() -> None:
    lag = LoopLag(CONFIG)
    async with asyncio.timeout(unit(5)):
        probe = asyncio.create_task(lag.run())
        await asyncio.sleep(CONFIG.probe_s * 3)
        assert lag.lag_s < 0.1
        time.sleep(0.3)  # noqa: ASYNC251 (something held the loop)
        for _ in range(100):  # the overdue probe runs at the loop's next turns
            if lag.lag_s >= 0.2:
                break
            await asyncio.sleep(0)
        assert 0.2 <= lag.lag_s < 0.3 + unit(0.2)
        assert lag.smoothed_s == pytest.approx(SMOOTHING * lag.lag_s, abs=0.02)
        probe.cancel()


def test_a_threshold_of_zero_eases_at_every_frame_with_the_nominal_pause() -> None:
    config = LagConfig(probe_s=0.01, ease_above_s=0.0, pause_s=0.25, max_pause_s=5.0)
    lag = LoopLag(config, random.Random(3))
    pauses = [lag.pause(0.0) for _ in range(100)]
    assert lag.eased == 100
    assert all(p is not None and 0.125 <= p <= 0.375 for p in pauses)
