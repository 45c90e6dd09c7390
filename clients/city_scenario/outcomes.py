"""Dispatch outcomes of a scenario's jobs (pure): what the city scenario reports.

From each job as the API shows it (``GET /jobs/{id}``) and its offers
(``GET /jobs/{id}/offer-history``):

* time to accept: from the job's creation to its accepted offer's answer;
* attempts: offers made for the job (every channel, every answer);
* time to arrival: from creation to the provider's arrival on site;
* on time: arrived by the time promised when the offer was accepted;
* empty km: how far the accepted provider was from the origin (driven empty);
* not taken: jobs that ended without any provider (attempts exhausted, or
  cancelled while waiting).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NOT_TAKEN = frozenset({"attempts_exceeded", "cancelled", "open", "dispatching"})


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one job did."""

    status: str
    attempts: int
    accept_s: float | None  # None: nobody accepted
    arrival_s: float | None  # None: nobody arrived
    on_time: bool | None  # None: no promise, or no arrival
    empty_km: float | None


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def job_outcome(job: Mapping[str, Any], offers: Sequence[Mapping[str, Any]]) -> JobOutcome:
    """The outcome of ``job`` (the API's job view) given its offers (API views)."""
    created = _at(job["created_at"])
    accepted = next((o for o in offers if o["status"] == "accepted"), None)
    answered = _at(accepted["answered_at"]) if accepted else None
    arrived, promised = _at(job.get("arrived_at")), _at(job.get("promised_at"))
    return JobOutcome(
        status=str(job["status"]),
        attempts=len(offers),
        accept_s=(answered - created).total_seconds() if answered and created else None,
        arrival_s=(arrived - created).total_seconds() if arrived and created else None,
        on_time=(arrived <= promised) if arrived and promised else None,
        empty_km=accepted.get("distance_km") if accepted else None,
    )


@dataclass(frozen=True, slots=True)
class Summary:
    """A scenario's outcomes, over all its jobs."""

    jobs: int
    completed: int
    not_taken: int
    accept_p50_s: float | None
    accept_p90_s: float | None
    attempts_mean: float | None
    arrival_p50_s: float | None
    on_time_rate: float | None
    empty_km_mean: float | None


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(outcomes: Sequence[JobOutcome]) -> Summary:
    accepts = [o.accept_s for o in outcomes if o.accept_s is not None]
    arrivals = [o.arrival_s for o in outcomes if o.arrival_s is not None]
    judged = [o.on_time for o in outcomes if o.on_time is not None]
    empty = [o.empty_km for o in outcomes if o.empty_km is not None]
    return Summary(
        jobs=len(outcomes),
        completed=sum(o.status in ("completed", "closed") for o in outcomes),
        not_taken=sum(o.status in NOT_TAKEN and o.accept_s is None for o in outcomes),
        accept_p50_s=_quantile(accepts, 0.5),
        accept_p90_s=_quantile(accepts, 0.9),
        attempts_mean=statistics.fmean(o.attempts for o in outcomes) if outcomes else None,
        arrival_p50_s=_quantile(arrivals, 0.5),
        on_time_rate=sum(judged) / len(judged) if judged else None,
        empty_km_mean=statistics.fmean(empty) if empty else None,
    )


ROWS: tuple[tuple[str, str, str], ...] = (
    ("jobs", "jobs", "{:.0f}"),
    ("completed", "completed", "{:.0f}"),
    ("not taken by any provider", "not_taken", "{:.0f}"),
    ("time to accept p50 (s)", "accept_p50_s", "{:.1f}"),
    ("time to accept p90 (s)", "accept_p90_s", "{:.1f}"),
    ("offers per job", "attempts_mean", "{:.2f}"),
    ("time to arrival p50 (min)", "arrival_p50_s", "min"),
    ("arrived on time", "on_time_rate", "pct"),
    ("empty km per job", "empty_km_mean", "{:.2f}"),
)


def _cell(value: float | None, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "min":
        return f"{value / 60:.1f}"
    if fmt == "pct":
        return f"{100 * value:.0f} %"
    return fmt.format(value)


def side_by_side(named: Sequence[tuple[str, Summary]]) -> str:
    """A Markdown table: one row per figure, one column per run."""
    head = "| figure | " + " | ".join(name for name, _ in named) + " |"
    rule = "|---|" + "---|" * len(named)
    lines = [head, rule]
    for title, attribute, fmt in ROWS:
        cells = [_cell(getattr(summary, attribute), fmt) for _, summary in named]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
