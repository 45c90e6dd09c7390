"""Automatic dispatch (acionamento automático): durable runs, one per job, taken
step by step by whichever node gets there first.

A run starts when a job is registered for a client whose dispatch settings turn it
on (a scheduled job's run waits until ``schedule_lead_min`` before its time), or
when an operator starts it on a job. Its progress (attempts, radius step, the
providers asked) and its timer (``next_at``) are a row of ``dispatch_runs``.

Every node runs :func:`take_due_steps` on a short timer. It reads the runs that are
due, and for each, in its own unit of work, locks **the job and the run** (every
other writer takes the job first, then the run) in one ``FOR UPDATE SKIP LOCKED``,
which never waits: a run another node is stepping is skipped, so no step fires
twice; a node killed mid-step rolls its transaction back and the run stays due for
the next node. A step
(:func:`operations.auto_plan.plan_step`) waits for open offers, offers the job to
the next candidates, widens the radius, or gives up (the job goes to
``attempts_exceeded`` and the operator takes over). When an offer closes without a
winner the run is woken at once (:func:`wake`); when the job gets a provider or is
cancelled the run is done (:func:`settle`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import bindparam, select

from operations import dispatch, jobs, offering, reaching
from operations.auto_plan import Candidate, RunState, RunStatus, StepKind, plan_step
from operations.errors import (
    ClientWeightsError,
    InvalidInputError,
    LiveUnavailableError,
    OfferConflictError,
)
from operations.events import JOB_STATUS
from operations.lifecycle import AWAITING_PROVIDER, JobActor, JobStatus
from operations.models import DispatchRun, Job
from operations.runs import (
    announce_run,
    finish_run,
    locked_run,
    save_step,
    start,
    start_if_enabled,
)
from operations.service import Operations, UnitOfWork, announce_job
from operations.views import RunView, run_view
from registry.enums import Channel
from registry.models import Client
from registry.points import Point

log = logging.getLogger("acionar.auto_dispatch")

__all__ = ["start", "start_if_enabled", "step", "stop", "take_due_steps"]

DUE_BATCH = 50
"""Most runs one pass looks at (the next pass takes the rest)."""
CANDIDATES_PER_STEP = 10
"""Candidates a step ranks first at its radius beyond those already asked (the best
free and reachable ones are offered); at least twice the offers it may make."""
CANDIDATES_PARTNERS_FIRST = 50
"""The same when the client's rules put partners first and it has partners for the
service: a partner ranked below the best non-partners must be in the list to go
first."""
MAX_CANDIDATES = 800
"""Most candidates a step ranks at one radius: when a full list has fewer to offer
than the step has room for (the best busy or out of reach), the step ranks four
times as many, up to this, before it widens."""
RETRY_AFTER = timedelta(seconds=5)
"""A step that could not rank (live positions not loaded) is tried again after this."""


async def stop(uow: UnitOfWork, job_id: int, user_id: int | None) -> RunView | None:
    """The operator stops the job's run (its open offers stay open)."""
    await jobs.locked_job(uow.session, job_id)
    run = await locked_run(uow.session, job_id)
    if run is None or run.status is not RunStatus.ACTIVE:
        return None if run is None else run_view(run)
    return await finish_run(uow, run, RunStatus.STOPPED, "interrompido pela central")


# -- the timer -----------------------------------------------------------------------------


async def take_due_steps(ops: Operations, *, limit: int = DUE_BATCH) -> int:
    """Take one step of every due run this node can lock; how many it took."""
    async with ops.sessions() as session:
        stmt = (
            select(DispatchRun.job_id)
            .where(DispatchRun.status == RunStatus.ACTIVE, DispatchRun.next_at <= ops.clock.now())
            .order_by(DispatchRun.next_at)
            .limit(limit)
        )
        due = list((await session.execute(stmt)).scalars())
    taken = 0
    for job_id in due:
        async with ops.unit() as uow:
            taken += await step(uow, job_id)
    return taken


_LOCK_STEP = (
    select(
        Job,
        DispatchRun,
        select(Client.ranking_weights).where(Client.id == Job.client_id).scalar_subquery(),
    )
    .join(DispatchRun, DispatchRun.job_id == Job.id)
    .where(Job.id == bindparam("job_id"))
    .with_for_update(of=(Job, DispatchRun), skip_locked=True)
    .execution_options(populate_existing=True)
)
"""The job and its run in one statement: FOR UPDATE OF locks the joined rows of both
tables; SKIP LOCKED never waits (no lock order to keep), the pair is skipped when
either row is held. The client's ranking weights come along, not locked, for the
candidate search."""


async def step(uow: UnitOfWork, job_id: int) -> int:
    """One step of the job's run, if it is due and no other node holds it (1), else
    nothing (0)."""
    session = uow.session
    row = (await session.execute(_LOCK_STEP, {"job_id": job_id})).one_or_none()
    if row is None:
        return 0
    job, run, client_weights = row
    if run.status is not RunStatus.ACTIVE or run.next_at > uow.now:
        return 0
    if job.status is JobStatus.SCHEDULED:
        moved = await jobs.move_locked(
            session, job, JobStatus.OPEN, now=uow.now, actor=JobActor.system()
        )
        await announce_job(uow, moved, JOB_STATUS)
    if job.status not in AWAITING_PROVIDER:
        await finish_run(uow, run, RunStatus.DONE, job.status.label)
        return 1
    await _step(uow, await dispatch.prepare_offering(session, job), run, client_weights or {})
    return 1


async def _step(
    uow: UnitOfWork, ready: dispatch.Offering, run: DispatchRun, client_weights: Mapping[str, float]
) -> None:
    job, rules = ready.job, ready.rules
    expiries = await offering.open_expiries(uow.session, job.id)
    radius = rules.radius_steps_km[min(run.step, len(rules.radius_steps_km) - 1)]
    state = RunState(run.attempts, run.step, frozenset(run.asked))
    found: list[Candidate] = []
    known: dict[int, dispatch.Known] = {}
    room = min(rules.batch_size, rules.max_attempts - run.attempts)
    partners = await _partners_matter(uow, ready)
    first = CANDIDATES_PARTNERS_FIRST if partners else CANDIDATES_PER_STEP
    limit = max(first, 2 * room) + len(run.asked)  # those asked are not offered again
    while True:
        if not expiries and run.attempts < rules.max_attempts:
            try:
                found, known = await _ranked(uow, ready, radius, limit, client_weights)
            except (LiveUnavailableError, ClientWeightsError) as exc:
                run.next_at, run.note = uow.now + RETRY_AFTER, exc.message
                await save_step(uow.session, run)
                return
        decision = plan_step(rules, state, expiries, found)
        # Fewer to offer than room among a full list: there may be more at this
        # radius (the best were busy or out of reach), so look further first.
        short = decision.kind is not StepKind.OFFER or len(decision.offers) < room
        if not short or len(found) < limit or limit >= MAX_CANDIDATES:
            break
        limit = min(limit * 4, MAX_CANDIDATES)
    if decision.kind is StepKind.WAIT:
        assert decision.until is not None
        run.next_at = decision.until
    elif decision.kind is StepKind.WIDEN:
        run.step += 1
        run.next_at = uow.now
    elif decision.kind is StepKind.GIVE_UP:
        await _give_up(uow, job, run, decision.reason)
        return
    else:
        await _offer(uow, ready, run, decision.offers, known)
    run.updated_at = uow.now
    announce_run(uow, run)
    await save_step(uow.session, run)  # the step's events are written at its commit


async def _partners_matter(uow: UnitOfWork, ready: dispatch.Offering) -> bool:
    """Whether "partners first" can change whom the step offers: the client's rules
    say so and it has partners for the job's service."""
    job = ready.job
    if not ready.rules.partners_first or uow.candidates is None:
        return False
    if job.client_id is None or job.service_type_id is None:
        return False
    return await uow.candidates.has_partners(job.client_id, job.service_type_id)


async def _ranked(
    uow: UnitOfWork,
    ready: dispatch.Offering,
    radius_km: float,
    limit: int,
    client_weights: Mapping[str, float],
) -> tuple[list[Candidate], dict[int, dispatch.Known]]:
    """The best ``limit`` candidates at ``radius_km`` as the planner sees them, and
    what the search saw of each (its channels now, where it counts)."""
    ranked = await reaching.find_for_job(
        uow,
        ready.job,
        radius_km=radius_km,
        limit=limit,
        places=ready.places,
        client_weights=client_weights,
    )
    found, known = [], {}
    for c in ranked:
        facts = c.ranked.facts
        found.append(Candidate(facts.provider_id, facts.partner, facts.busy, tuple(c.channels_now)))
        at = None if facts.lat is None or facts.lng is None else Point(facts.lat, facts.lng)
        known[facts.provider_id] = dispatch.Known(c.channels_now, at)
    return found, known


async def _offer(
    uow: UnitOfWork,
    ready: dispatch.Offering,
    run: DispatchRun,
    offers: tuple[tuple[int, Channel], ...],
    known: dict[int, dispatch.Known],
) -> None:
    made, asked = 0, list(run.asked)
    system = JobActor.system()
    for provider_id, channel in offers:
        asked.append(provider_id)
        try:
            await dispatch.offer_prepared(
                uow, ready, provider_id, channel, system, known=known.get(provider_id)
            )
        except (OfferConflictError, InvalidInputError) as exc:
            log.info("job %d: provider %d skipped (%s)", ready.job.id, provider_id, exc.message)
            continue
        made += 1
    run.asked = asked  # once: one UPDATE of the run with the step's other changes
    run.attempts += made
    timeout = timedelta(seconds=ready.rules.offer_timeout_s)
    run.next_at = uow.now + timeout if made else uow.now


async def _give_up(uow: UnitOfWork, job: Job, run: DispatchRun, reason: str) -> None:
    if job.status is not JobStatus.ATTEMPTS_EXCEEDED:
        if job.status is JobStatus.OPEN:
            moved = await jobs.move_locked(
                uow.session, job, JobStatus.DISPATCHING, now=uow.now, actor=JobActor.system()
            )
            await announce_job(uow, moved, JOB_STATUS)
        moved = await jobs.move_locked(
            uow.session,
            job,
            JobStatus.ATTEMPTS_EXCEEDED,
            now=uow.now,
            actor=JobActor.system(),
            note=f"Acionamento automático: {reason}",
        )
        await announce_job(uow, moved, JOB_STATUS)
    await finish_run(uow, run, RunStatus.GAVE_UP, reason)
