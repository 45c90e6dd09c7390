"""Answering mode of the provider simulator, without I/O: the profiles and their
decisions, street routes, a vehicle following one, and the offer/job state machine."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from typing import Any

import pytest

from clients.provider_app_sim.duty import (
    COMMAND_TIMEOUT_S,
    DriveTo,
    Duty,
    Leg,
    Roam,
    Send,
)
from clients.provider_app_sim.movement import (
    MovementConfig,
    Vehicle,
    bearing_deg,
    destination,
    haversine_m,
)
from clients.provider_app_sim.profiles import (
    DISTANCE_DECAY_KM,
    Answer,
    History,
    Profile,
    ProfileKnobs,
    decide_offer,
    drive_minutes,
    eta_bid,
    profile_for,
    traffic_factor,
)
from clients.provider_app_sim.providers import parse_args, ws_url
from clients.provider_app_sim.routes import path_length_m, street_route

CENTRE = (-23.55, -46.63)
ORIGIN = (-23.556, -46.634)
DEST = (-23.562, -46.640)
REASONS = (4, 5, 6)


# -- profiles and decisions -----------------------------------------------------------


def test_a_provider_keeps_its_profile_for_a_seed_and_providers_differ() -> None:
    assert profile_for(42, seed=1) == profile_for(42, seed=1)
    assert profile_for(42, seed=1) != profile_for(43, seed=1)
    assert profile_for(42, seed=1) != profile_for(42, seed=2)
    profiles = [profile_for(pid, seed=1) for pid in range(1, 301)]
    accept = [p.accept_p for p in profiles]
    assert 0.65 < statistics.mean(accept) < 0.85, "most providers accept most offers"
    assert min(accept) < 0.5 < max(accept), "and some do not: ranking has something to find"
    assert all(0.0 <= p.ignore_p <= 1.0 and p.response_median_s > 0 for p in profiles)


def test_the_registry_history_steers_the_profile_and_knobs_scale_it() -> None:
    low = profile_for(7, 1, history=History(acceptance_rate=0.2, on_time_rate=0.1))
    high = profile_for(7, 1, history=History(acceptance_rate=0.9, on_time_rate=0.95))
    assert low.accept_p < 0.3 < 0.9 <= high.accept_p
    assert low.eta_margin < 1.0 < high.eta_margin
    assert low.on_time_p < 0.5 < high.on_time_p
    plain = profile_for(7, 1)
    scaled = profile_for(7, 1, ProfileKnobs(accept_bias=0.5, ignore_bias=0.0, response_scale=2))
    assert scaled.accept_p == pytest.approx(plain.accept_p * 0.5)
    assert scaled.ignore_p == 0.0
    assert scaled.response_median_s == pytest.approx(plain.response_median_s * 2)
    with pytest.raises(ValueError, match="accept_bias"):
        ProfileKnobs(accept_bias=-1)


def test_answers_in_the_long_run_follow_the_profile() -> None:
    profile = Profile(1, accept_p=0.7, ignore_p=0.1, response_median_s=6.0, eta_margin=1.1,
                      speed_factor=1.0, favourite_reason=1)  # fmt: skip
    rng = random.Random(5)
    km = 5.0
    decisions = [decide_offer(profile, km, 14.0, REASONS, rng) for _ in range(4000)]
    share = {a: sum(d.answer is a for d in decisions) / len(decisions) for a in Answer}
    accept = 0.9 * 0.7 * math.exp(-km / DISTANCE_DECAY_KM)
    assert share[Answer.IGNORE] == pytest.approx(0.1, abs=0.02)
    assert share[Answer.ACCEPT] == pytest.approx(accept, abs=0.03)
    assert share[Answer.REFUSE] == pytest.approx(1 - 0.1 - accept, abs=0.03)
    delays = [d.delay_s for d in decisions]
    assert statistics.median(delays) == pytest.approx(6.0, rel=0.1)
    reasons = [d.reason_id for d in decisions if d.answer is Answer.REFUSE]
    assert set(reasons) == set(REASONS), "only registered reasons"
    assert max(reasons.count(r) for r in REASONS) > 0.5 * len(reasons), "a favourite one"
    assert all(d.eta_min is not None for d in decisions if d.answer is Answer.ACCEPT)


def test_without_reasons_a_provider_lets_the_offer_expire_instead_of_refusing() -> None:
    profile = Profile(1, 0.0, 0.0, 5.0, 1.0, 1.0, 0)
    decision = decide_offer(profile, 3.0, 12.0, (), random.Random(1))
    assert decision.answer is Answer.IGNORE and decision.reason_id is None


def test_traffic_is_slowest_at_rush_hour_and_the_eta_bid_follows_it() -> None:
    assert traffic_factor(3.0) > traffic_factor(13.0) > traffic_factor(8.0)
    assert traffic_factor(18.5) == traffic_factor(8.0) == 0.55
    for hour in [h / 10 for h in range(0, 240)]:  # no jumps: ramps around each rush
        assert abs(traffic_factor(hour) - traffic_factor(hour + 0.1)) <= 0.35 + 1e-9
    profile = Profile(1, 1.0, 0.0, 5.0, 1.0, 1.0, 0)
    assert eta_bid(profile, 10.0, 8.0) > eta_bid(profile, 10.0, 13.0) > eta_bid(profile, 2.0, 13)
    assert eta_bid(profile, 0.0, 3.0) == 1
    punctual = Profile(1, 1.0, 0.0, 5.0, 1.2, 1.0, 0)
    optimist = Profile(1, 1.0, 0.0, 5.0, 0.8, 1.0, 0)
    expected = drive_minutes(10.0, 13.0)
    assert eta_bid(optimist, 10.0, 13.0) < expected < eta_bid(punctual, 10.0, 13.0)


# -- street routes and a vehicle following one -----------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_a_street_route_is_a_staircase_ending_at_the_destination(seed: int) -> None:
    rng = random.Random(seed)
    end = destination(*CENTRE, rng.uniform(0, 360), rng.uniform(300, 5000))
    corners = street_route(CENTRE, end, random.Random(seed))
    assert corners == street_route(CENTRE, end, random.Random(seed)), "seeded"
    assert corners[-1] == end and len(corners) >= 2
    straight = haversine_m(*CENTRE, *end)
    assert straight <= path_length_m(CENTRE, corners) <= straight * 1.5 + 50
    points = [CENTRE, *corners]
    bearings = [_bearing(a, b) for a, b in itertools.pairwise(points)]
    for a, b in itertools.pairwise(bearings[:-1]):  # legs on a grid: turns of 90° or none
        turn = abs((a - b + 180) % 360 - 180)
        assert turn < 20 or 70 < turn < 110 or turn > 160, (a, b)


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    return bearing_deg(*a, *b)


def test_a_route_to_where_the_vehicle_is_is_empty() -> None:
    assert street_route(CENTRE, CENTRE, random.Random(1)) == []


def test_a_vehicle_drives_a_route_at_urban_speed_parks_at_its_end_then_roams() -> None:
    config = MovementConfig(centre=CENTRE, radius_m=3000)
    vehicle = Vehicle(config, random.Random(2))
    start = (vehicle.lat, vehicle.lng)
    corners = street_route(start, ORIGIN, random.Random(3))
    vehicle.follow(corners, speed_factor=0.8)
    length = path_length_m(start, corners)
    seconds = 0
    while not vehicle.arrived:
        vehicle.advance(1.0)
        seconds += 1
        assert vehicle.speed_kmh <= config.max_speed_kmh
        assert seconds < 3600, "never arrived"
    assert vehicle.distance_to_m(*ORIGIN) < 1.0
    assert 8.0 < length / seconds * 3.6 < 48.0, "an urban average with stops and corners"
    vehicle.advance(60.0)
    assert vehicle.distance_to_m(*ORIGIN) < 1.0 and vehicle.speed_kmh == 0.0, "parked"
    vehicle.roam()
    vehicle.advance(120.0)
    assert not vehicle.arrived and vehicle.distance_to_m(*ORIGIN) > 20.0


def test_answering_fixes_are_noisy_and_sometimes_poor() -> None:
    config = MovementConfig(centre=CENTRE, jitter=0.3, poor_fix_p=0.1)
    vehicle = Vehicle(config, random.Random(4))
    fixes = [vehicle.fix(1_718_000_000_000 + i) for i in range(2000)]
    poor = [f for f in fixes if f.accuracy_m >= 120.0]
    assert 0.07 < len(poor) / len(fixes) < 0.13
    offsets = [haversine_m(vehicle.lat, vehicle.lng, f.lat, f.lng) for f in fixes]
    assert 0.5 < statistics.median(offsets) < 10.0, "jitter of a few metres"
    with pytest.raises(ValueError, match="jitter"):
        MovementConfig(jitter=2.0)


# -- the duty: offers and jobs ---------------------------------------------------------


class _World:
    """A duty fed by hand; ``sent`` collects its messages."""

    def __init__(self, profile: Profile | None = None, reasons: tuple[int, ...] = REASONS) -> None:
        seqs = itertools.count(100)
        self.duty = Duty(
            profile or Profile(9, 1.0, 0.0, 4.0, 1.1, 1.0, 0),
            reasons,
            random.Random(1),
            lambda: next(seqs),
            time_scale=10.0,
        )
        self.duty.connected = True
        self.now = 0.0
        self.at = CENTRE
        self.arrived = False
        self.sent: list[dict[str, Any]] = []
        self.drives: list[DriveTo] = []
        self.roams = 0

    def _take(self, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.sent.append(action.message)
            elif isinstance(action, DriveTo):
                self.drives.append(action)
                self.arrived = False
            elif isinstance(action, Roam):
                self.roams += 1

    def feed(self, message: dict[str, Any]) -> None:
        self._take(self.duty.on_message(message, self.now, 14.0, self.at))

    def run(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.25
            self._take(self.duty.tick(self.now, self.at, self.arrived))

    def run_until(self, status: str, seconds: float) -> None:
        end = self.now + seconds
        while not (self.sent and self.sent[-1].get("status") == status):
            assert self.now < end, f"no {status} within {seconds} s"
            self.run(0.25)

    def reply(self, code: str, kind: str = "result") -> dict[str, Any]:
        last = self.sent[-1]
        self.feed({"type": kind, "seq": last["seq"], "code": code})
        return last

    def park_at(self, point: tuple[float, float]) -> None:
        self.at, self.arrived = point, True


def _offer(offer_id: int = 311, job_id: int = 88, km: float = 3.0) -> dict[str, Any]:
    return {
        "type": "offer",
        "offer": {"offer_id": offer_id, "job_id": job_id, "distance_km": km,
                  "origin": {"lat": ORIGIN[0], "lng": ORIGIN[1]}, "expires_at_ms": 0},
    }  # fmt: skip


def _job(status: str, job_id: int = 88, dest: bool = True) -> dict[str, Any]:
    return {
        "type": "job.update",
        "job": {
            "job_id": job_id,
            "status": status,
            "origin": {"lat": ORIGIN[0], "lng": ORIGIN[1]},
            "destination": {"lat": DEST[0], "lng": DEST[1]} if dest else None,
            "next_statuses": [],
        },
    }


def test_an_accepted_offer_becomes_a_job_driven_through_every_status() -> None:
    w = _World()
    w.feed(_offer())
    w.feed(_offer())  # a repeat after a reconnect changes nothing
    w.run(0.1)
    assert w.sent == [], "the answer waits for its delay"
    w.run(10.0)
    [accept] = w.sent
    assert accept["type"] == "offer.accept" and accept["offer_id"] == 311
    # 3 km at 14 h: about 9 minutes with the margin, a tenth of it at ten times the pace.
    assert accept["eta_min"] == math.ceil(eta_bid(w.duty.profile, 3.0, 14.0) / 10)
    w.reply("accepted")
    w.feed(_job("assigned"))
    assert w.drives[-1].point == ORIGIN
    w.run(0.5)
    assert w.sent[-1]["status"] == "en_route" and w.sent[-1]["job_id"] == 88
    w.run(2.0)
    assert len(w.sent) == 2, "one status at a time: en_route waits for its result"
    w.reply("ok")
    w.park_at(ORIGIN)
    w.run(0.5)
    assert w.sent[-1]["status"] == "on_site"
    assert (w.sent[-1]["lat"], w.sent[-1]["lng"]) == ORIGIN
    w.reply("ok")
    w.feed(_job("on_site"))  # the server's echo moves nothing
    assert w.duty.job is not None and w.duty.job.leg is Leg.WORKING
    w.run_until("in_transit", 10 * 60)  # the work (minutes, at ten times the pace)
    assert w.drives[-1].point == DEST
    w.reply("ok")
    w.park_at(DEST)
    w.run_until("completed", 60.0)  # unloading
    w.reply("ok")
    w.run(0.5)
    assert w.roams == 1 and w.duty.job is None
    assert w.duty.counts["jobs_completed"] == 1
    assert [m.get("status") for m in w.sent[1:]] == [
        "en_route", "on_site", "in_transit", "completed"
    ]  # fmt: skip


def test_a_job_without_destination_completes_after_the_work() -> None:
    w = _World()
    w.feed(_job("assigned", dest=False))
    w.run(0.5)
    w.reply("ok")
    w.park_at(ORIGIN)
    w.run(0.5)
    w.reply("ok")
    w.run(15 * 60)
    assert w.sent[-1]["status"] == "completed"


def test_a_withdrawn_offer_is_not_answered_and_a_refusal_carries_a_reason() -> None:
    w = _World(Profile(9, accept_p=0.0, ignore_p=0.0, response_median_s=4.0,
                       eta_margin=1.0, speed_factor=1.0, favourite_reason=0))  # fmt: skip
    w.feed(_offer(1))
    w.feed(_offer(2, job_id=89))
    w.feed({"type": "offer.withdrawn", "offer_id": 1, "reason": "taken"})
    w.run(10.0)
    [refusal] = w.sent
    assert refusal["type"] == "offer.refuse" and refusal["offer_id"] == 2
    assert refusal["reason_id"] in REASONS


def test_a_busy_provider_refuses_and_without_reasons_lets_offers_expire() -> None:
    w = _World()
    w.feed(_job("en_route"))
    w.feed(_offer(5, job_id=90))
    w.run(10.0)
    assert [m["type"] for m in w.sent] == ["offer.refuse"]
    quiet = _World(reasons=())
    quiet.feed(_job("en_route"))
    quiet.feed(_offer(5, job_id=90))
    quiet.run(10.0)
    assert quiet.sent == [] and quiet.duty.counts["decided_ignore"] == 1


def test_a_provider_that_just_won_an_offer_refuses_the_next_before_its_job_comes() -> None:
    w = _World()
    w.feed(_offer(1, job_id=88))
    w.run(10.0)
    w.reply("accepted")
    w.feed(_offer(2, job_id=89))
    w.run(10.0)
    assert [m["type"] for m in w.sent] == ["offer.accept", "offer.refuse"]
    w.reply("refused")
    w.feed(_offer(3, job_id=90))  # decided while an accept is out: a refusal too
    w.feed(_offer(4, job_id=91))
    w.run(9.0)
    assert [m["type"] for m in w.sent[2:]] == ["offer.refuse", "offer.refuse"]


def test_cancellation_redispatch_and_not_found_end_the_job() -> None:
    for ending in ("cancelled", "redispatch", "not_found"):
        w = _World()
        w.feed(_offer())
        w.run(10.0)
        w.reply("accepted")
        w.feed(_job("assigned"))
        w.run(0.5)
        if ending == "cancelled":
            w.feed(_job("cancelled"))
        elif ending == "redispatch":
            w.feed({"type": "offer.withdrawn", "offer_id": 311, "reason": "redispatch"})
        else:
            w.reply("not_found", kind="error")
        assert w.duty.job is None and w.roams == 1, ending
        w.run(5.0)
        assert all(m["type"] != "job.status" for m in w.sent[2:]), ending


def test_not_allowed_drops_the_status_and_the_job_follows_the_server() -> None:
    w = _World()
    w.feed(_job("assigned"))
    w.run(0.5)
    w.reply("not_allowed", kind="error")
    assert w.duty.job is not None and not w.duty.job.to_report
    w.feed(_job("in_transit"))  # the operator moved it on
    assert w.drives[-1].point == DEST and w.duty.job.leg is Leg.TO_DESTINATION
    w.park_at(DEST)
    w.run(60.0)
    assert w.sent[-1]["status"] == "completed"


def test_offline_nothing_is_sent_and_lost_replies_are_resent_after_reconnecting() -> None:
    w = _World()
    w.feed(_offer())
    w.duty.connected = False
    w.run(10.0)
    assert w.sent == []
    w.duty.connected = True
    w.run(0.5)
    assert len(w.sent) == 1
    w.duty.connection_lost()  # the accept's reply never came
    w.duty.connected = True
    w.run(0.5)
    assert [m["type"] for m in w.sent] == ["offer.accept", "offer.accept"]
    assert w.sent[0]["seq"] != w.sent[1]["seq"]
    w.run(COMMAND_TIMEOUT_S + 1)  # no reply at all (rate_limited): sent again
    assert len(w.sent) == 3


def test_after_a_reconnect_an_unknown_active_job_is_taken_up_at_its_status() -> None:
    w = _World()
    w.park_at(ORIGIN)
    w.feed(_job("on_site"))
    assert w.duty.job is not None and w.duty.job.leg is Leg.WORKING
    w.run(10 * 60)
    assert w.sent[-1]["status"] == "in_transit"
    later = _World()
    later.feed(_job("in_transit", job_id=7))
    later.feed(_job("assigned", job_id=8))  # another one waits its turn
    later.feed(_job("completed", job_id=7))
    assert later.duty.job is not None and later.duty.job.job_id == 8


# -- the command line ------------------------------------------------------------------


def test_the_providers_command_line_derives_the_socket_and_checks_its_options() -> None:
    assert ws_url("http://127.0.0.1:8000/") == "ws://127.0.0.1:8000/ws/provider"
    assert ws_url("https://acionar.example.com.br") == "wss://acionar.example.com.br/ws/provider"
    args = parse_args(["--mint", "--centre", "-23.5,-46.6", "--reasons", "1,2", "--count", "3"])
    assert args.centre == (-23.5, -46.6) and args.reasons == (1, 2) and args.count == 3
    for bad in (["--tokens", "t.txt", "--mint"], ["--mint", "--time-scale", "0"], []):
        with pytest.raises(SystemExit):
            parse_args(bad)
