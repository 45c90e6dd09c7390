"""The offer state machine and the judgement of an accept (pure), property-tested."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from operations.dispatch_rules import DEFAULT_RULES, DispatchRules, effective
from operations.errors import IllegalOfferTransitionError, InvalidInputError
from operations.lifecycle import AWAITING_PROVIDER, ActorKind, JobStatus
from operations.offers import (
    COUNTS_AS_REFUSAL,
    FINAL,
    OPEN,
    AcceptFacts,
    AcceptOutcome,
    OfferStatus,
    WithdrawReason,
    can_move_offer,
    judge_accept,
    next_offer_statuses,
    offer_transition,
    withdraw_reason_for,
)
from registry.enums import Channel

OS = OfferStatus
AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
statuses = st.sampled_from(list(OfferStatus))


def _move(current: OfferStatus | None, target: OfferStatus) -> object:
    return offer_transition(
        current,
        target,
        at=AT,
        actor=ActorKind.PROVIDER,
        channel=Channel.APP,
        refusal_reason_id=1 if target is OS.REFUSED else None,
        withdraw_reason=WithdrawReason.TAKEN if target is OS.WITHDRAWN else None,
    )


def test_the_lifecycle_of_the_design() -> None:
    for path in (
        (OS.PENDING, OS.DELIVERED, OS.ACCEPTED, OS.WITHDRAWN),
        (OS.PENDING, OS.DELIVERED, OS.REFUSED),
        (OS.PENDING, OS.DELIVERED, OS.EXPIRED),
        (OS.PENDING, OS.FAILED),
        (OS.PENDING, OS.ACCEPTED),
    ):
        for current, target in itertools.pairwise(path):
            assert can_move_offer(current, target)
            _move(current, target)


@given(statuses)
def test_final_states_go_nowhere(status: OfferStatus) -> None:
    if status in FINAL:
        assert next_offer_statuses(status) == frozenset()
    else:
        assert next_offer_statuses(status)


@given(statuses, statuses)
def test_a_move_is_allowed_exactly_when_the_table_says(
    current: OfferStatus, target: OfferStatus
) -> None:
    if can_move_offer(current, target):
        entry = _move(current, target)
        assert entry.to_status is target  # type: ignore[attr-defined]
    else:
        with pytest.raises(IllegalOfferTransitionError):
            _move(current, target)


@given(st.lists(statuses, max_size=12))
def test_any_walk_through_the_table_ends_accepted_at_most_once(path: list[OfferStatus]) -> None:
    current = OS.PENDING
    accepted = 0
    for target in path:
        if can_move_offer(current, target):
            current = target
            accepted += target is OS.ACCEPTED
    assert accepted <= 1  # nothing leads back to accepted
    assert current not in FINAL or next_offer_statuses(current) == frozenset()


def test_reasons_are_required_and_only_where_they_belong() -> None:
    with pytest.raises(IllegalOfferTransitionError):
        offer_transition(
            OS.DELIVERED, OS.REFUSED, at=AT, actor=ActorKind.PROVIDER, channel=Channel.APP
        )
    with pytest.raises(IllegalOfferTransitionError):
        offer_transition(
            OS.DELIVERED, OS.WITHDRAWN, at=AT, actor=ActorKind.OPERATOR, channel=Channel.APP
        )
    with pytest.raises(IllegalOfferTransitionError):
        offer_transition(
            OS.DELIVERED,
            OS.ACCEPTED,
            at=AT,
            actor=ActorKind.PROVIDER,
            channel=Channel.APP,
            refusal_reason_id=3,
        )
    with pytest.raises(IllegalOfferTransitionError):
        offer_transition(None, OS.DELIVERED, at=AT, actor=ActorKind.SYSTEM, channel=Channel.APP)


def test_expired_counts_as_a_refusal() -> None:
    assert {OS.REFUSED, OS.EXPIRED} == COUNTS_AS_REFUSAL


def _facts(**changes: object) -> AcceptFacts:
    base: dict[str, object] = {
        "offer_status": OS.DELIVERED,
        "expires_at": AT + timedelta(seconds=60),
        "job_status": JobStatus.DISPATCHING,
        "job_provider_id": None,
        "provider_id": 7,
        "provider_active_jobs": 0,
        "provider_max_jobs": 1,
        "eta_minutes": 20,
        "max_eta_minutes": None,
    }
    base.update(changes)
    return AcceptFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, AcceptOutcome.ACCEPTED),
        ({"offer_status": OS.PENDING}, AcceptOutcome.ACCEPTED),
        # the same provider again: the same answer (idempotent)
        (
            {"offer_status": OS.ACCEPTED, "job_status": JobStatus.ASSIGNED, "job_provider_id": 7},
            AcceptOutcome.ACCEPTED,
        ),
        ({"job_status": JobStatus.ASSIGNED, "job_provider_id": 8}, AcceptOutcome.TAKEN),
        ({"job_status": JobStatus.CANCELLED}, AcceptOutcome.TAKEN),
        ({"offer_status": OS.WITHDRAWN}, AcceptOutcome.CLOSED),
        ({"offer_status": OS.EXPIRED}, AcceptOutcome.EXPIRED),
        ({"expires_at": AT}, AcceptOutcome.EXPIRED),  # late by nothing is late
        ({"provider_active_jobs": 1}, AcceptOutcome.BUSY),
        ({"provider_active_jobs": 1, "provider_max_jobs": 2}, AcceptOutcome.ACCEPTED),
        ({"max_eta_minutes": 15}, AcceptOutcome.CONFIRM),
        ({"max_eta_minutes": 15, "confirmed": True}, AcceptOutcome.ACCEPTED),
        ({"max_eta_minutes": 20}, AcceptOutcome.ACCEPTED),
    ],
)
def test_judge_accept(changes: dict[str, object], outcome: AcceptOutcome) -> None:
    assert judge_accept(_facts(**changes), AT) is outcome


@given(
    statuses,
    st.sampled_from(list(JobStatus)),
    st.integers(-120, 120),
    st.integers(0, 3),
)
def test_an_accept_that_wins_had_an_open_offer_in_time_on_a_waiting_job(
    offer_status: OfferStatus, job_status: JobStatus, seconds_left: int, active: int
) -> None:
    facts = _facts(
        offer_status=offer_status,
        job_status=job_status,
        expires_at=AT + timedelta(seconds=seconds_left),
        provider_active_jobs=active,
        job_provider_id=7 if offer_status is OS.ACCEPTED else None,
    )
    outcome = judge_accept(facts, AT)
    if outcome is AcceptOutcome.ACCEPTED and offer_status is not OS.ACCEPTED:
        assert offer_status in OPEN and job_status in AWAITING_PROVIDER
        assert seconds_left > 0 and active < 1
    assert AcceptOutcome(outcome).message


def test_withdraw_reason_for_each_job_move() -> None:
    assert withdraw_reason_for(JobStatus.CANCELLED) is WithdrawReason.CANCELLED
    assert withdraw_reason_for(JobStatus.ASSIGNED) is WithdrawReason.ASSIGNED
    for status in AWAITING_PROVIDER:
        assert withdraw_reason_for(status) is None


def test_dispatch_rules_layers_and_bounds() -> None:
    assert effective() == DEFAULT_RULES
    rules = effective({"offer_timeout_s": 90, "channels": ["app", "link"]}, {"max_eta_min": 40})
    assert rules.offer_timeout_s == 90 and rules.max_eta_min == 40
    assert rules.channels == (Channel.APP, Channel.LINK)
    assert effective({"offer_timeout_s": None}).offer_timeout_s == DEFAULT_RULES.offer_timeout_s
    for bad in (
        {"offer_timeout_s": 5},
        {"radius_steps_km": (20, 10)},
        {"radius_steps_km": ()},
        {"channels": (Channel.VERBAL,)},
        {"batch_size": 0},
    ):
        with pytest.raises(InvalidInputError):
            DispatchRules(**bad)
