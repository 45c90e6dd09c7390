"""A simulated provider at work: offers answered, jobs driven, without I/O.

:class:`Duty` is the app's dispatch side as a state machine, in the manner of the
server's ``realtime/session.py``: the app feeds it the server's messages
(:meth:`Duty.on_message`) and the passing of time with the vehicle's state
(:meth:`Duty.tick`), and carries out the :data:`Action` values it returns: send a
message, drive to a point, roam again. Monotonic seconds (``now``) and the local
hour are arguments, so every rule here is tested without a clock or a socket.

Offers (docs/protocol.md, ``offer``): each new ``offer_id`` gets a
:class:`~clients.provider_app_sim.profiles.Decision` from the provider's profile,
sent after its delay (divided by the time scale); an ``offer.withdrawn`` cancels
it; an answer whose reply was lost with the connection goes again after the
reconnect (an accept is idempotent, a second refusal is only ``offer_closed``).
While on a job the provider refuses (or, without reasons, lets offers expire).

A job (``job.update`` with the provider's job) is driven through its statuses::

    assigned ──► en_route (drive to the origin) ──► on_site (inside the geofence)
        ──► work ──► in_transit (drive to the destination) ──► completed ──► roam
                └──────────── completed (no destination) ─────┘

A status goes when the connection is up, one at a time, each waiting for its
``result``; ``not_allowed`` drops it and the job follows its last ``job.update``
(the operator may have moved it); ``not_found``, a ``job.update`` that is
``cancelled`` or ``completed``, or an ``offer.withdrawn`` ``redispatch`` of the
accepted offer end the job: the vehicle roams again. After a reconnect the server
sends every active job again: a job not known yet is taken up at its status.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from clients.provider_app_sim.movement import haversine_m
from clients.provider_app_sim.profiles import (
    Answer,
    Decision,
    Profile,
    decide_offer,
    refusal_reason,
    work_minutes,
)

ARRIVAL_RADIUS_M = 100.0
"""The app reports ``on_site`` within this of the origin (the server's own geofence
is 150 m)."""

COMMAND_TIMEOUT_S = 10.0
"""A command without a reply this long is sent again (a ``rate_limited`` drop)."""

UNLOAD_MIN = (2.0, 6.0)
"""Minutes to unload at the destination before ``completed``."""

PROVIDER_STATUSES = ("en_route", "on_site", "in_transit", "completed")
"""What the app reports, in the order a job goes through them."""

_ORDER = {"assigned": 0, "en_route": 1, "on_site": 2, "in_transit": 3, "completed": 4}
_OVER = frozenset({"completed", "cancelled", "closed"})
_ACTIVE = frozenset({"assigned", "en_route", "on_site", "in_transit"})

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Send:
    """Send this message (a ``seq`` is already in it)."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DriveTo:
    """Follow a street route to this point (``speed_factor``: traffic × driver)."""

    point: Point
    speed_factor: float


@dataclass(frozen=True, slots=True)
class Roam:
    """Leave any route and wander again."""


Action = Send | DriveTo | Roam


class Leg(Enum):
    """Where a provider is on its job."""

    TO_ORIGIN = "to_origin"
    WORKING = "working"  # at the origin
    TO_DESTINATION = "to_destination"
    UNLOADING = "unloading"  # at the destination
    DONE = "done"


_LEG_ORDER = {
    Leg.TO_ORIGIN: _ORDER["en_route"],
    Leg.WORKING: _ORDER["on_site"],
    Leg.TO_DESTINATION: _ORDER["in_transit"],
    Leg.UNLOADING: _ORDER["in_transit"],
    Leg.DONE: _ORDER["completed"],
}
"""The status a leg implies was reported."""


@dataclass(slots=True)
class Job:
    """The provider's job, as the app knows it."""

    job_id: int
    origin: Point
    destination: Point | None
    server_status: str
    leg: Leg = Leg.TO_ORIGIN
    to_report: deque[str] = field(default_factory=deque)
    until: float = 0.0  # end of work or unloading (monotonic)


@dataclass(slots=True)
class _Answer:
    offer_id: int
    job_id: int
    decision: Decision
    due_at: float
    sent: bool = False


def _point(place: object) -> Point | None:
    if not isinstance(place, dict):
        return None
    lat, lng = place.get("lat"), place.get("lng")
    if isinstance(lat, int | float) and isinstance(lng, int | float):
        return float(lat), float(lng)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Duty:
    """One provider's offers and job (see the module's docstring).

    Args:
        profile: how the provider answers and drives.
        reason_ids: the assistance's refusal reasons (empty: it cannot refuse).
        rng: every random choice.
        next_seq: hands out the connection's ``seq`` numbers (shared with ``pos``).
        time_scale: simulated seconds per real second (delays, work, driving).
        arrival_radius_m: ``on_site`` within this of the origin.
        counts: where to count (a fleet shares one); a new counter by default.

    Attributes:
        connected: whether commands can go now (set by the app).
        job: the job being worked, if any.
        counts: what happened, by name (offers, answers, results, statuses, jobs).
    """

    def __init__(
        self,
        profile: Profile,
        reason_ids: tuple[int, ...],
        rng: random.Random,
        next_seq: Callable[[], int],
        *,
        time_scale: float = 1.0,
        arrival_radius_m: float = ARRIVAL_RADIUS_M,
        counts: Counter[str] | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.profile = profile
        self.reason_ids = reason_ids
        self.rng = rng
        self.next_seq = next_seq
        self.time_scale = time_scale
        self.arrival_radius_m = arrival_radius_m
        self.connected = False
        self.job: Job | None = None
        self.counts: Counter[str] = Counter() if counts is None else counts
        self._answers: dict[int, _Answer] = {}
        self._accepted: dict[int, int] = {}  # offer id -> job id
        self._waiting: dict[int, tuple[str, int, float]] = {}  # seq -> (kind, id, sent at)
        self._later: dict[int, dict[str, Any]] = {}  # other active jobs, by id
        self._awaiting_job: set[int] = set()  # accepted, no job.update yet

    # -- from the server ----------------------------------------------------------------

    def on_message(
        self, message: dict[str, Any], now: float, hour: float, at: Point
    ) -> list[Action]:
        """Act on a server message (``offer``, ``offer.withdrawn``, ``job.update``,
        ``result``, ``error``); other types change nothing."""
        kind = message.get("type")
        if kind == "offer" and isinstance(message.get("offer"), dict):
            self._on_offer(message["offer"], now, hour)
        elif kind == "offer.withdrawn":
            return self._on_withdrawn(message)
        elif kind == "job.update" and isinstance(message.get("job"), dict):
            return self._on_job(message["job"], now)
        elif kind in ("result", "error"):
            return self._on_reply(message)
        return []

    def owns(self, seq: object) -> bool:
        """Whether ``seq`` is a command of this duty awaiting its reply."""
        return isinstance(seq, int) and seq in self._waiting

    def connection_lost(self) -> None:
        """Replies to commands in flight will not come: they go again when connected."""
        for kind, ident, _ in self._waiting.values():
            if kind == "offer" and ident in self._answers:
                self._answers[ident].sent = False
        self._waiting.clear()
        self._awaiting_job.clear()  # the server sends every active job again
        self.connected = False

    def _on_offer(self, offer: dict[str, Any], now: float, hour: float) -> None:
        offer_id, job_id = _int(offer.get("offer_id")), _int(offer.get("job_id"))
        if offer_id is None or job_id is None or offer_id in self._answers:
            return  # a repeat after a reconnect changes nothing
        if offer_id in self._accepted:
            return
        self.counts["offers"] += 1
        distance = offer.get("distance_km")
        km = float(distance) if isinstance(distance, int | float) else 10.0
        decision = decide_offer(self.profile, km, hour, self.reason_ids, self.rng)
        if self._committed() and decision.answer is Answer.ACCEPT:
            decision = self._busy_answer(decision)
        elif decision.eta_min is not None and self.time_scale != 1.0:
            # The server holds the promise in real minutes: scaled as the drive is.
            real = max(1, math.ceil(decision.eta_min / self.time_scale))
            decision = Decision(decision.answer, decision.delay_s, eta_min=real)
        self.counts[f"decided_{decision.answer.value}"] += 1
        due = now + decision.delay_s / self.time_scale
        self._answers[offer_id] = _Answer(offer_id, job_id, decision, due)

    def _committed(self) -> bool:
        """On a job, or about to be: an accept is out or its job has not come yet
        (the server would answer ``busy``)."""
        accepting = any(kind == "offer" and ident in self._answers
                        and self._answers[ident].decision.answer is Answer.ACCEPT
                        for kind, ident, _ in self._waiting.values())  # fmt: skip
        return self.job is not None or bool(self._awaiting_job) or accepting

    def _busy_answer(self, decision: Decision) -> Decision:
        if not self.reason_ids:
            return Decision(Answer.IGNORE, decision.delay_s)
        reason = refusal_reason(self.profile, self.reason_ids, self.rng)
        return Decision(Answer.REFUSE, decision.delay_s, reason_id=reason)

    def _on_withdrawn(self, message: dict[str, Any]) -> list[Action]:
        offer_id = _int(message.get("offer_id"))
        if offer_id is None:
            return []
        self.counts["withdrawn"] += 1
        self._answers.pop(offer_id, None)
        job_id = self._accepted.pop(offer_id, None)
        self._awaiting_job.discard(job_id or 0)
        if job_id is not None and self.job is not None and self.job.job_id == job_id:
            self.counts["jobs_taken_back"] += 1
            return self._end_job()
        return []

    def _on_job(self, payload: dict[str, Any], now: float) -> list[Action]:
        job_id, status = _int(payload.get("job_id")), payload.get("status")
        origin = _point(payload.get("origin"))
        if job_id is None or not isinstance(status, str) or origin is None:
            return []
        if status not in _ACTIVE:
            self._awaiting_job.discard(job_id)
        job = self.job
        if job is None or job.job_id != job_id:
            if status in _ACTIVE:
                if job is None:
                    return self._take_up(payload, now)
                self._later[job_id] = payload
            else:
                self._later.pop(job_id, None)
            return []
        job.server_status = status
        if status in _OVER:
            self.counts[f"jobs_{status}_by_server"] += 1
            return self._end_job(now)
        if _ORDER.get(status, 0) > _LEG_ORDER[job.leg] and not job.to_report:
            # The operator moved the job on (or our report's reply was lost): follow it.
            self.job = None
            self.counts["jobs_moved_by_server"] += 1
            return self._take_up(payload, now)
        return []

    def _take_up(self, payload: dict[str, Any], now: float) -> list[Action]:
        """Start (or, after a reconnect, resume) a job at its server status."""
        origin = _point(payload.get("origin"))
        assert origin is not None
        status = str(payload["status"])
        job = Job(int(payload["job_id"]), origin, _point(payload.get("destination")), status)
        self.job = job
        self._awaiting_job.discard(job.job_id)
        self.counts["jobs_taken_up"] += 1
        for offer_id, answer in list(self._answers.items()):
            if answer.job_id == job.job_id:
                del self._answers[offer_id]
        if status == "assigned":
            job.to_report.append("en_route")
        if status in ("assigned", "en_route"):
            return [self._drive(job.origin)]
        if status == "on_site":
            job.leg = Leg.WORKING
            job.until = now + self._minutes(work_minutes(self.rng, job.destination is not None))
            return []
        job.leg = Leg.TO_DESTINATION  # in_transit
        return [self._drive(job.destination or job.origin)]

    def _on_reply(self, message: dict[str, Any]) -> list[Action]:
        seq = _int(message.get("seq"))
        if seq is None or seq not in self._waiting:
            return []
        kind, ident, _ = self._waiting.pop(seq)
        code = str(message.get("code"))
        self.counts[f"{kind}_{message['type']}_{code}"] += 1
        if kind == "offer":
            answer = self._answers.pop(ident, None)
            if code == "accepted" and answer is not None:
                self._accepted[ident] = answer.job_id
                if self.job is None or self.job.job_id != answer.job_id:
                    self._awaiting_job.add(answer.job_id)
            return []
        job = self.job
        if job is None or job.job_id != ident or not job.to_report:
            return []
        if code == "unavailable":
            return []  # the same status goes again at the next tick
        job.to_report.popleft()  # ok, or refused for good (not_allowed)
        if code == "not_found":
            return self._end_job()
        return []

    # -- time passing --------------------------------------------------------------------

    def tick(self, now: float, at: Point, arrived: bool) -> list[Action]:
        """Answers that are due, the job's next step, and the next status to report.

        Args:
            now: monotonic seconds.
            at: the vehicle's position.
            arrived: the vehicle is parked at the end of its route.
        """
        actions: list[Action] = []
        self._expire_waiting(now)
        if self.job is not None:
            actions += self._advance(self.job, now, at, arrived)
        if not self.connected:
            return actions
        for answer in self._answers.values():
            if not answer.sent and answer.due_at <= now:
                sent = self._send_answer(answer, now)
                if sent is not None:
                    actions.append(sent)
        job = self.job
        if job is not None and job.to_report and not self._job_command_waiting():
            actions.append(self._command("job", job.job_id, now, self._status(job, at)))
        if job is not None and job.leg is Leg.DONE and not job.to_report:
            actions += self._end_job(now)
        return actions

    def _advance(self, job: Job, now: float, at: Point, arrived: bool) -> list[Action]:
        if job.leg is Leg.TO_ORIGIN and arrived:
            if haversine_m(*at, *job.origin) > self.arrival_radius_m:
                return [self._drive(job.origin)]  # parked short of it: go on
            job.to_report.append("on_site")
            job.leg = Leg.WORKING
            job.until = now + self._minutes(work_minutes(self.rng, job.destination is not None))
        elif job.leg is Leg.WORKING and now >= job.until:
            if job.destination is None:
                job.to_report.append("completed")
                job.leg = Leg.DONE
                return []
            job.to_report.append("in_transit")
            job.leg = Leg.TO_DESTINATION
            return [self._drive(job.destination)]
        elif job.leg is Leg.TO_DESTINATION and arrived:
            job.leg = Leg.UNLOADING
            job.until = now + self._minutes(self.rng.uniform(*UNLOAD_MIN))
        elif job.leg is Leg.UNLOADING and now >= job.until:
            job.to_report.append("completed")
            job.leg = Leg.DONE
        return []

    def _status(self, job: Job, at: Point) -> dict[str, Any]:
        return {
            "type": "job.status",
            "job_id": job.job_id,
            "status": job.to_report[0],
            "lat": round(at[0], 6),
            "lng": round(at[1], 6),
        }

    def _send_answer(self, answer: _Answer, now: float) -> Send | None:
        decision = answer.decision
        if decision.answer is Answer.IGNORE:
            return None
        if decision.answer is Answer.ACCEPT and self._committed():
            decision = answer.decision = self._busy_answer(decision)  # won another meanwhile
            if decision.answer is Answer.IGNORE:
                return None
        answer.sent = True
        if decision.answer is Answer.ACCEPT:
            body = {
                "type": "offer.accept",
                "offer_id": answer.offer_id,
                "eta_min": decision.eta_min,
            }
        else:
            body = {
                "type": "offer.refuse",
                "offer_id": answer.offer_id,
                "reason_id": decision.reason_id,
            }
        self.counts[f"sent_{decision.answer.value}"] += 1
        return self._command("offer", answer.offer_id, now, body)

    def _command(self, kind: str, ident: int, now: float, body: dict[str, Any]) -> Send:
        seq = self.next_seq()
        self._waiting[seq] = (kind, ident, now)
        return Send({**body, "seq": seq})

    def _job_command_waiting(self) -> bool:
        return any(kind == "job" for kind, _, _ in self._waiting.values())

    def _expire_waiting(self, now: float) -> None:
        for seq, (kind, ident, sent_at) in list(self._waiting.items()):
            if now - sent_at > COMMAND_TIMEOUT_S:
                del self._waiting[seq]
                self.counts["command_timeouts"] += 1
                if kind == "offer" and ident in self._answers:
                    self._answers[ident].sent = False

    def _drive(self, point: Point) -> DriveTo:
        return DriveTo(point, self.profile.speed_factor)

    def _minutes(self, minutes: float) -> float:
        """Real seconds for ``minutes`` of simulated time."""
        return minutes * 60.0 / self.time_scale

    def _end_job(self, now: float = 0.0) -> list[Action]:
        job = self.job
        if job is not None and job.leg is Leg.DONE:
            self.counts["jobs_completed"] += 1
        self.job = None
        for seq, (kind, _, _) in list(self._waiting.items()):
            if kind == "job":
                del self._waiting[seq]
        while self._later:
            _, payload = self._later.popitem()
            if payload.get("status") in _ACTIVE:
                return self._take_up(payload, now)
        return [Roam()]
