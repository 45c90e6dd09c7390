"""Provider scorecard: how a provider answers and keeps its promises, over a
rolling window (``SCORECARD_WINDOW_DAYS``).

* acceptance: offers accepted among those answered, an offer left to expire
  counting as a refusal (as motor clubs count it); withdrawn and failed offers
  were never the provider's to answer and do not count;
* on time: jobs it arrived at by the time it promised, among those it arrived at
  with a promise;
* completion: jobs it completed among those it accepted and that are over
  (completed, closed or cancelled after it accepted);
* ETA accuracy: the mean of |arrival − promise| in minutes.

:func:`refresh_rates` writes acceptance and on-time into the registry's
``acceptance_rate`` / ``on_time_rate`` (what ranking reads) for every provider with
history in the window; the scorecard itself is read with its counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from operations.lifecycle import JobStatus
from operations.models import Job, Offer
from operations.offers import OfferStatus
from registry.models import Provider

MIN_ANSWERS = 3
"""Offers a provider must have answered in the window before its acceptance rate
replaces the registry's figure (fewer say little)."""
OVER = (JobStatus.COMPLETED, JobStatus.CLOSED, JobStatus.CANCELLED)


class Scorecard(BaseModel):
    """A provider's figures over the window, each with the counts behind it (the
    API shows it as is)."""

    model_config = ConfigDict(frozen=True)

    provider_id: int
    window_days: int
    accepted: int
    refused: int
    expired: int
    acceptance_rate: float | None
    arrivals: int
    on_time: int
    on_time_rate: float | None
    finished: int
    completed: int
    completion_rate: float | None
    eta_error_minutes: float | None


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _answers(since: datetime) -> Select[int, int, int, int]:
    o = Offer
    return (
        select(
            o.provider_id,
            func.count().filter(o.status == OfferStatus.ACCEPTED).label("accepted"),
            func.count().filter(o.status == OfferStatus.REFUSED).label("refused"),
            func.count().filter(o.status == OfferStatus.EXPIRED).label("expired"),
        )
        .where(o.created_at >= since)
        .group_by(o.provider_id)
    )


def _promises(since: datetime) -> Select[int | None, int, int, int, int, Any]:
    j = Job
    late_s = func.extract("epoch", j.arrived_at - j.promised_at)
    kept = and_(j.arrived_at.is_not(None), j.promised_at.is_not(None))
    return (
        select(
            j.provider_id,
            func.count().filter(kept).label("arrivals"),
            func.count().filter(kept, j.arrived_at <= j.promised_at).label("on_time"),
            func.count().filter(j.status.in_(OVER)).label("finished"),
            func.count()
            .filter(j.status.in_((JobStatus.COMPLETED, JobStatus.CLOSED)))
            .label("completed"),
            func.avg(case((kept, func.abs(late_s)), else_=None)).label("eta_error_s"),
        )
        .where(j.provider_id.is_not(None), j.requested_at >= since, j.promised_at.is_not(None))
        .group_by(j.provider_id)
    )


async def scorecard(
    session: AsyncSession, provider_id: int, now: datetime, window_days: int
) -> Scorecard:
    since = now - timedelta(days=window_days)
    answers = (
        await session.execute(_answers(since).where(Offer.provider_id == provider_id))
    ).first()
    promises = (
        await session.execute(_promises(since).where(Job.provider_id == provider_id))
    ).first()
    accepted, refused, expired = (answers[1], answers[2], answers[3]) if answers else (0, 0, 0)
    arrivals, on_time, finished, completed, error_s = (
        (promises[1], promises[2], promises[3], promises[4], promises[5])
        if promises
        else (0, 0, 0, 0, None)
    )
    return Scorecard(
        provider_id=provider_id,
        window_days=window_days,
        accepted=accepted,
        refused=refused,
        expired=expired,
        acceptance_rate=_rate(accepted, accepted + refused + expired),
        arrivals=arrivals,
        on_time=on_time,
        on_time_rate=_rate(on_time, arrivals),
        finished=finished,
        completed=completed,
        completion_rate=_rate(completed, finished),
        eta_error_minutes=None if error_s is None else round(float(error_s) / 60, 1),
    )


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


async def refresh_rates(session: AsyncSession, now: datetime, window_days: int) -> int:
    """Write the window's acceptance and on-time rates into the registry; how many
    providers changed."""
    since = now - timedelta(days=window_days)
    changed = 0
    for pid, accepted, refused, expired in (await session.execute(_answers(since))).all():
        answered = accepted + refused + expired
        if answered >= MIN_ANSWERS:
            rate = _decimal(accepted / answered)
            await session.execute(
                update(Provider).where(Provider.id == pid).values(acceptance_rate=rate)
            )
            changed += 1
    for row in (await session.execute(_promises(since))).all():
        pid, arrivals, on_time = row[0], row[1], row[2]
        if arrivals:
            rate = _decimal(on_time / arrivals)
            await session.execute(
                update(Provider).where(Provider.id == pid).values(on_time_rate=rate)
            )
            changed += 1
    return changed


__all__ = ["Scorecard", "refresh_rates", "scorecard"]
