"""Background tasks owned by an ``async with`` block (pure asyncio, no I/O of ours).

The owner cancels its task when the block ends and waits until it has ended, so
nothing outlives its owner. Cancelling once is not always enough: a library may
swallow a cancellation that lands during its I/O (seen with SQLAlchemy over asyncpg
in the outbox relay: the relay carried on, and a server's shutdown waited for it
forever). So the owner cancels again every :data:`CANCEL_AGAIN_S` until the task
ends: the next cancellation lands at the task's next wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

CANCEL_AGAIN_S = 0.5
"""How long a cancelled task has to end before it is cancelled again."""


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling it again every
    :data:`CANCEL_AGAIN_S` while it goes on.

    Raises:
        Exception: whatever the task raised, other than its cancellation.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_S)
    if not task.cancelled():
        task.result()


@contextlib.asynccontextmanager
async def owned_task(coro: Coroutine[Any, Any, Any], name: str) -> AsyncIterator[asyncio.Task[Any]]:
    """Run ``coro`` in a task for the duration of the block; at its end the task is
    cancelled and awaited (:func:`cancel_and_wait`), so nothing outlives its owner."""
    task = asyncio.create_task(coro, name=name)
    try:
        yield task
    finally:
        await cancel_and_wait(task)
