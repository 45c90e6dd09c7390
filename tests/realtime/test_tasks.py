"""Owned background tasks end when their owner stops, even a stubborn one."""

from __future__ import annotations

import asyncio

import pytest

from realtime.tasks import cancel_and_wait, owned_task
from tests.conftest import unit


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    swallowed: list[str] = []

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.append("once")  # as a library may, during its I/O
        await asyncio.sleep(60)

    async with asyncio.timeout(unit(3)), owned_task(stubborn(), "stubborn") as task:
        await asyncio.sleep(0)  # running
    assert task.cancelled() and swallowed == ["once"]


async def test_a_failure_of_the_task_reaches_its_owner() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            raise ValueError("broken")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broken"):
        await cancel_and_wait(task)
