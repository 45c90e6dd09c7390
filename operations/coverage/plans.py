"""Which held plans serve a job, whether each is in force, and in which order they
are tried (pure).

A plan applies to a job of its beneficiary when it is the beneficiary's own or
held by the attended vehicle (:func:`applies`); it is in force from ``starts_on``
through ``ends_on``, days read in the assistance's zone (:func:`standing`). Plans
are tried most specific first (:func:`_specificity`, rule 3 of
:func:`~operations.coverage.decision.decide`): the usage report lists them in the
same order, so that an operator reads them as the decision weighs them.
"""

from __future__ import annotations

import enum
from datetime import datetime, tzinfo

from operations.coverage.common import AD_HOC_HINT, SAO_PAULO, _ddmmyyyy, _local
from operations.coverage.terms import HeldPlan


class Standing(enum.StrEnum):
    """Whether a held plan is in force at a moment."""

    IN_FORCE = "in_force"
    NOT_YET_IN_FORCE = "not_yet_in_force"
    EXPIRED = "expired"


def standing(plan: HeldPlan, now: datetime, tz: tzinfo = SAO_PAULO) -> Standing:
    """The plan's standing at ``now``: its days are read in ``tz``."""
    today = _local(now, tz).date()
    if today < plan.starts_on:
        return Standing.NOT_YET_IN_FORCE
    if plan.ends_on is not None and today > plan.ends_on:
        return Standing.EXPIRED
    return Standing.IN_FORCE


def standing_message(plan: HeldPlan, plan_standing: Standing) -> str:
    """The pt-BR refusal for a plan that is not in force."""
    if plan_standing is Standing.NOT_YET_IN_FORCE:
        when = f"a vigência começa em {_ddmmyyyy(plan.starts_on)}"
        return f"O plano {plan.name} ainda não está em vigor: {when}. {AD_HOC_HINT}"
    if plan_standing is Standing.EXPIRED and plan.ends_on is not None:
        when = f"a vigência terminou em {_ddmmyyyy(plan.ends_on)}"
        return f"O plano {plan.name} não está mais em vigor: {when}. {AD_HOC_HINT}"
    return f"O plano {plan.name} está em vigor."


def applies(plan: HeldPlan, vehicle_id: int | None) -> bool:
    """Whether ``plan`` serves a job of the beneficiary for ``vehicle_id`` (None: no
    vehicle): the beneficiary's own plans always do, a vehicle's only for it."""
    return plan.vehicle_id is None or plan.vehicle_id == vehicle_id


def _specificity(plan: HeldPlan) -> tuple[bool, int, int]:
    """Rule 3's order: plans held by a vehicle first, then the lowest plan id, then
    (two terms of one plan) the latest term."""
    return (plan.vehicle_id is None, plan.plan_id, -plan.starts_on.toordinal())
