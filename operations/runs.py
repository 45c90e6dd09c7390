"""Automatic dispatch runs' rows, as the use cases that touch them share them:
reading one under lock, finishing it, waking it, announcing it. The steps
themselves are :mod:`operations.auto_dispatch`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from operations import offering
from operations.auto_plan import RunStatus
from operations.dispatch_rules import DispatchRules
from operations.events import AUTO_DISPATCH, RunEvent
from operations.lifecycle import JobStatus
from operations.models import DispatchRun, Job
from operations.views import RunView, run_view
from registry.db import table_of

if TYPE_CHECKING:
    from operations.service import UnitOfWork


_LOCKED_RUN = (
    select(DispatchRun)
    .where(DispatchRun.job_id == bindparam("job_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


async def locked_run(session: AsyncSession, job_id: int) -> DispatchRun | None:
    """The job's run, locked (take the job's lock first)."""
    return (await session.execute(_LOCKED_RUN, {"job_id": job_id})).scalar_one_or_none()


_STEPPED = ("attempts", "step", "asked", "next_at", "updated_at", "note")
"""The columns of a run that a step changes."""
_RUNS = table_of(DispatchRun)
_SAVE_STEP = (
    update(_RUNS)
    .where(_RUNS.c.job_id == bindparam("run_job_id"))
    .values({name: bindparam(f"run_{name}") for name in _STEPPED})
)


async def save_step(session: AsyncSession, run: DispatchRun) -> None:
    """Write what a step changed of the (locked) run in one statement, and keep the
    session's run as written (no flush writes it again)."""
    values = {name: getattr(run, name) for name in _STEPPED}
    params = {f"run_{name}": value for name, value in values.items()}
    await session.execute(_SAVE_STEP, params | {"run_job_id": run.job_id})
    for name, value in values.items():
        set_committed_value(run, name, value)


def announce_run(uow: UnitOfWork, run: DispatchRun) -> RunView:
    view = run_view(run)
    uow.emit(AUTO_DISPATCH, RunEvent(run=view))
    return view


async def finish_run(uow: UnitOfWork, run: DispatchRun, status: RunStatus, note: str) -> RunView:
    run.status, run.note, run.updated_at = status, note, uow.now
    await uow.session.flush()
    return announce_run(uow, run)


async def wake_run(uow: UnitOfWork, job_id: int) -> bool:
    """An offer of the (locked) job closed without a winner: its run, if active,
    steps now. Whether there is an active run."""
    run = await locked_run(uow.session, job_id)
    if run is None or run.status is not RunStatus.ACTIVE:
        return False
    run.next_at = min(run.next_at, uow.now)
    await uow.session.flush()
    return True


async def end_run(uow: UnitOfWork, job_id: int, note: str) -> None:
    """The (locked) job left the dispatch queue: its active run is done."""
    run = await locked_run(uow.session, job_id)
    if run is not None and run.status is RunStatus.ACTIVE:
        await finish_run(uow, run, RunStatus.DONE, note)


async def start(
    uow: UnitOfWork, job: Job, rules: DispatchRules, *, user_id: int | None = None
) -> RunView:
    """Start (or restart) automatic dispatch of the (locked) job."""
    now = uow.now
    due = now
    if job.status is JobStatus.SCHEDULED and job.scheduled_for is not None:
        due = max(now, job.scheduled_for - timedelta(minutes=rules.schedule_lead_min))
    run = await locked_run(uow.session, job.id)
    if run is None:
        run = DispatchRun(job_id=job.id, asked=[], attempts=0, step=0, started_at=now)
        uow.session.add(run)
    run.status = RunStatus.ACTIVE
    run.attempts, run.step, run.asked = 0, 0, []
    run.next_at, run.updated_at, run.started_by, run.note = due, now, user_id, None
    await uow.session.flush()
    return announce_run(uow, run)


async def start_if_enabled(uow: UnitOfWork, job: Job) -> None:
    """A new job: start its run when its client's settings say so."""
    if not job.kind.needs_provider:
        return
    rules = await offering.rules_of_job(uow.session, job)
    if rules.auto_enabled:
        await start(uow, job, rules)


async def running(session: AsyncSession, job_id: int) -> bool:
    """Whether automatic dispatch is on the job."""
    stmt = select(DispatchRun.status).where(DispatchRun.job_id == job_id)
    return (await session.scalar(stmt)) is RunStatus.ACTIVE
