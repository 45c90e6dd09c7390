"""The job state machine: legal moves, illegal ones, final states, timeline entries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operations.errors import (
    CancellationReasonRequiredError,
    IllegalTransitionError,
    InvalidTimelineError,
)
from operations.lifecycle import (
    DONE,
    FINAL,
    WITH_PROVIDER,
    JobActor,
    JobKind,
    JobStatus,
    TimelineEntry,
    can_move,
    creation,
    had_provider,
    initial_status,
    next_statuses,
    transition,
)
from operations.lifecycle import statuses as statuses_of

S = JobStatus
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OPERATOR = JobActor.operator(None)

# The article's path for a tow, and the ones providers and operators really take.
HAPPY_PATHS = [
    (S.OPEN, S.DISPATCHING, S.ASSIGNED, S.EN_ROUTE, S.ON_SITE, S.IN_TRANSIT, S.COMPLETED),
    (S.SCHEDULED, S.OPEN, S.ASSIGNED, S.ON_SITE, S.COMPLETED, S.CLOSED),
    (S.OPEN, S.DISPATCHING, S.ATTEMPTS_EXCEEDED, S.DISPATCHING, S.ASSIGNED, S.EN_ROUTE),
    (S.OPEN, S.DISPATCHING, S.ASSIGNED, S.DISPATCHING, S.ASSIGNED, S.EN_ROUTE, S.ON_SITE),
]


def move(kind: JobKind, current: JobStatus, target: JobStatus) -> TimelineEntry:
    reason = 1 if target is S.CANCELLED else None
    return transition(kind, current, target, at=AT, actor=OPERATOR, cancellation_reason_id=reason)


@pytest.mark.parametrize("path", HAPPY_PATHS)
def test_real_paths_are_allowed(path: tuple[JobStatus, ...]) -> None:
    for current, target in itertools.pairwise(path):
        entry = move(JobKind.ASSISTANCE, current, target)
        assert (entry.from_status, entry.to_status) == (current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.EN_ROUTE),  # nobody is assigned
        (S.OPEN, S.COMPLETED),  # an assistance needs a provider
        (S.COMPLETED, S.OPEN),
        (S.COMPLETED, S.CANCELLED),  # completed is final for operations
        (S.CANCELLED, S.OPEN),
        (S.CLOSED, S.COMPLETED),
        (S.ON_SITE, S.DISPATCHING),  # the provider is there: finish or cancel
        (S.IN_TRANSIT, S.ON_SITE),
        (S.SCHEDULED, S.DISPATCHING),
        (S.OPEN, S.OPEN),
    ],
)
def test_illegal_moves_raise_with_a_pt_br_message(current: JobStatus, target: JobStatus) -> None:
    with pytest.raises(IllegalTransitionError) as raised:
        move(JobKind.ASSISTANCE, current, target)
    assert current.label in raised.value.message and target.label in raised.value.message


@pytest.mark.parametrize("kind", [JobKind.INQUIRY, JobKind.THEFT])
def test_jobs_without_provider_go_straight_to_completed(kind: JobKind) -> None:
    assert next_statuses(kind, S.OPEN) == {S.COMPLETED, S.CANCELLED}
    for target in (S.DISPATCHING, S.ASSIGNED):
        assert not can_move(kind, S.OPEN, target)


def test_cancelling_needs_a_reason() -> None:
    with pytest.raises(CancellationReasonRequiredError):
        transition(JobKind.ASSISTANCE, S.EN_ROUTE, S.CANCELLED, at=AT, actor=OPERATOR)
    entry = move(JobKind.ASSISTANCE, S.EN_ROUTE, S.CANCELLED)
    assert entry.cancellation_reason_id == 1


def test_a_reason_is_kept_only_for_cancellations() -> None:
    entry = transition(
        JobKind.ASSISTANCE,
        S.OPEN,
        S.DISPATCHING,
        at=AT,
        actor=JobActor.system(),
        cancellation_reason_id=7,
    )
    assert entry.cancellation_reason_id is None


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidTimelineError):
        transition(
            JobKind.ASSISTANCE,
            S.OPEN,
            S.DISPATCHING,
            at=datetime(2026, 1, 1),
            actor=JobActor.system(),
        )


def test_creation_and_initial_status() -> None:
    assert initial_status(scheduled=True) is S.SCHEDULED
    assert initial_status(scheduled=False) is S.OPEN
    assert creation(S.OPEN, AT, JobActor.operator(3)).from_status is None
    with pytest.raises(IllegalTransitionError):
        creation(S.ASSIGNED, AT, JobActor.operator(3))


def test_had_provider_reads_the_history() -> None:
    path = [move(JobKind.ASSISTANCE, S.OPEN, S.DISPATCHING)]
    assert not had_provider(path)
    path.append(move(JobKind.ASSISTANCE, S.DISPATCHING, S.ASSIGNED))
    assert had_provider(path)


kinds = st.sampled_from(list(JobKind))
statuses = st.sampled_from(list(JobStatus))


@given(kinds, statuses, statuses)
def test_a_move_is_accepted_exactly_when_the_table_allows_it(
    kind: JobKind, current: JobStatus, target: JobStatus
) -> None:
    allowed = can_move(kind, current, target)
    try:
        move(kind, current, target)
    except IllegalTransitionError:
        assert not allowed
    else:
        assert allowed


@given(kinds, st.lists(statuses, max_size=30))
def test_random_walks_never_leave_a_final_state_or_revive_a_done_job(
    kind: JobKind, attempts: list[JobStatus]
) -> None:
    status = S.OPEN
    for target in attempts:
        before = status
        try:
            status = move(kind, status, target).to_status
        except IllegalTransitionError:
            continue
        assert before not in FINAL
        if before in DONE:
            assert status in DONE
        if not kind.needs_provider:
            assert status not in WITH_PROVIDER


@given(kinds, statuses)
def test_cancel_is_possible_from_every_status_before_completed(
    kind: JobKind, current: JobStatus
) -> None:
    if current in statuses_of(kind):
        assert can_move(kind, current, S.CANCELLED) == (current not in DONE)
    else:
        assert not next_statuses(kind, current) - {S.CANCELLED}


def test_every_active_status_can_be_finished() -> None:
    """No dead end: from each active status a job of each kind can be completed."""
    for kind in JobKind:
        for start in statuses_of(kind) - DONE:
            seen, frontier = {start}, [start]
            while frontier:
                for nxt in next_statuses(kind, frontier.pop()) - seen:
                    seen.add(nxt)
                    frontier.append(nxt)
            assert S.COMPLETED in seen, (kind, start)
