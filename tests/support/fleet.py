"""Running a simulated provider fleet inside a test, and waiting on its state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from clients.provider_app_sim import Fleet, Stats
from tests.conftest import unit


async def eventually(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Wait until ``check()`` holds; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(fleet: Fleet) -> AsyncIterator[asyncio.Task[Stats]]:
    """The fleet runs for the block, then stops cleanly (within 20 test units)."""
    stop = asyncio.Event()
    task = asyncio.create_task(fleet.run(stop=stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, unit(20))
