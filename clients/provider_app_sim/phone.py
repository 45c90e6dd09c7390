"""Providers answering by signed link (the ``link`` channel): :class:`SmsNetwork`.

An offer by link goes to the provider's phone as an SMS (docs/dispatch.md, "link").
Point the server's real HTTP SMS adapter at this network (``SMS_GATEWAY=http``,
``SMS_HTTP_URL=http://127.0.0.1:8025/sms``, the default ``SMS_HTTP_BODY``) and run
the simulator with ``--phones 127.0.0.1:8025``: each message lands on the phone of
its destination number, a :class:`Phone`, whose owner opens the link as a phone
browser would: ``GET`` the page, ``POST`` its form (accept with an ETA, refuse with
a reason, then each status button), follow the redirect to the next link. The owner
answers with the same :class:`~clients.provider_app_sim.duty.Duty` as the apps and
the portal (profile, delays, busy refusals, the drive timing the statuses); a phone
sends no positions.

A link page says what the provider needs (the coordinates in its map links, the
job's status in ``data-job-status``); :func:`read_page` reads it without I/O. A
link that was used, expired or withdrawn answers 4xx and shows a notice: the phone
tells its Duty the offer was withdrawn (or, on a job, reads the job's page again).
The phone learns of a withdrawal when it opens the link, as its owner would: just
before answering.

Task ownership: :meth:`SmsNetwork.run` owns the HTTP server and every phone's
ticker, cancelled and awaited before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clients.provider_app_sim.config import DUTY_TICK_S, Answering
from clients.provider_app_sim.driving import carry_out, local_hour
from clients.provider_app_sim.duty import Action, Duty
from clients.provider_app_sim.movement import MovementConfig, Vehicle
from clients.provider_app_sim.profiles import profile_for
from clients.provider_app_sim.stats import Stats

LINK = re.compile(r"https?://\S+?/l/o/[A-Za-z0-9_.\-]+")
"""An offer's link in a message's text."""

HTTP_TIMEOUT_S = 15.0
MAX_PHONES = 10_000
"""Distinct destination numbers the network serves (more: answered 503)."""
MAX_SMS_BYTES = 16_384
"""Largest SMS request body accepted."""
SHUTDOWN_S = 5.0
"""Longest wait for the HTTP server to stop."""

Point = tuple[float, float]


# -- reading a link page (pure) ----------------------------------------------------------


@dataclass(slots=True)
class LinkView:
    """What a link page offers to do.

    Attributes:
        accept, refuse: the forms' actions on an open offer (else None).
        reasons: the refusal reasons' ids, in the page's order.
        statuses: status value → the form's action (on the provider's job).
        places: "Origem"/"Destino" → the point of its map link.
        distance_km: the offer's distance, when shown.
        job_status: the job's status (``data-job-status``) once it is the provider's.
    """

    accept: str | None = None
    refuse: str | None = None
    reasons: list[int] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    places: dict[str, Point] = field(default_factory=dict)
    distance_km: float | None = None
    job_status: str | None = None


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.view = LinkView()
        self._form: str | None = None
        self._label: str | None = None  # the <dt> being read
        self._term: str | None = None  # the last <dt>'s text
        self._in_dd = False
        self._dd_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "dl" and "data-job-status" in attr:
            self.view.job_status = attr["data-job-status"]
        elif tag == "form":
            self._form = attr.get("action", "")
            if self._form.endswith("/accept"):
                self.view.accept = self._form
            elif self._form.endswith("/refuse"):
                self.view.refuse = self._form
        elif tag == "input" and self._form and attr.get("name") == "status":
            self.view.statuses[attr.get("value", "")] = self._form
        elif tag == "option" and attr.get("value", "").isdigit():
            self.view.reasons.append(int(attr["value"]))
        elif tag == "dt":
            self._label = ""
        elif tag == "dd":
            self._in_dd, self._dd_text = True, ""
        elif tag == "a" and self._in_dd and self._term:
            point = _map_point(attr.get("href", ""))
            if point is not None:
                self.view.places[self._term] = point

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "dt" and self._label is not None:
            self._term, self._label = self._label.strip(), None
        elif tag == "dd":
            self._in_dd = False
            if self._term == "Distância":
                self.view.distance_km = _km(self._dd_text)

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label += data
        elif self._in_dd:
            self._dd_text += data


def _map_point(href: str) -> Point | None:
    """The point of a map link (``...?query=lat,lng``)."""
    query = parse_qs(urlsplit(href).query).get("query")
    if not query:
        return None
    lat, _, lng = query[0].partition(",")
    try:
        return float(lat), float(lng)
    except ValueError:
        return None


def _km(text: str) -> float | None:
    try:
        return float(text.replace("km", "").strip().replace(",", "."))
    except ValueError:
        return None


def read_page(document: str) -> LinkView:
    """What a link page (``server/link_pages.py``) shows and lets one do."""
    parser = _PageParser()
    parser.feed(document)
    parser.close()
    return parser.view


def link_in(text: str) -> str | None:
    """The offer link in an SMS's text, if any."""
    found = LINK.search(text)
    return found.group(0).rstrip(".,;") if found else None  # a sentence's end is not the token's


# -- one phone ---------------------------------------------------------------------------


class Phone:
    """A provider's phone: offers by link answered by its owner's Duty.

    Offers and jobs have no ids on a link page: the phone numbers each link it is
    sent (offer *n* of job *n*), as the Duty needs ids to keep them apart.

    Args:
        number: the destination number (E.164), which seeds the profile.
        http: the phone's browser.
        vehicle: where the owner is; it drives the jobs (positions not sent).
        answering: the fleet's knobs and seed.
        rng: every random choice.
        stats: counters, possibly a fleet's.
        time_scale: simulated seconds per real second.
    """

    def __init__(
        self,
        number: str,
        http: httpx.AsyncClient,
        *,
        vehicle: Vehicle,
        answering: Answering,
        rng: random.Random,
        stats: Stats,
        time_scale: float = 1.0,
    ) -> None:
        self.number = number
        self.http = http
        self.vehicle = vehicle
        self.answering = answering
        self.rng = rng
        self.stats = stats
        self.time_scale = time_scale
        self.duty: Duty | None = None
        self._links: dict[int, str] = {}  # the link to open next, by the phone's offer number
        self._next = itertools.count(1).__next__
        self._moved_at = asyncio.get_running_loop().time()
        self._lock = asyncio.Lock()  # one page at a time, as a person works
        self._outgoing: list[dict[str, Any]] = []  # taps to make at the next tick

    @property
    def pseudo_id(self) -> int:
        """A stable number for the owner's profile (the phone knows no provider id)."""
        digits = "".join(c for c in self.number if c.isdigit())
        return int(digits[-9:] or "0")

    async def on_sms(self, text: str) -> None:
        """A message arrived: open its offer link, if it has one."""
        url = link_in(text)
        if url is None:
            self.stats.duty["sms_without_offer_link"] += 1
            return
        async with self._lock:
            view = await self._open(url)
            if view is None or view.accept is None:
                self.stats.duty["link_not_open"] += 1
                return
            duty = self._duty(view.reasons)
            number = self._next()
            self._links[number] = url
            offer = {"offer_id": number, "job_id": number, "distance_km": view.distance_km}
            self._act(duty.on_message({"type": "offer", "offer": offer}, *self._moment()))

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(DUTY_TICK_S)
            if self.duty is None:
                continue
            async with self._lock:
                now, _, at = self._moment()
                self._act(self.duty.tick(now, at, self.vehicle.arrived))
                while self._outgoing:
                    await self._send(self._outgoing.pop(0))

    def _duty(self, reasons: list[int]) -> Duty:
        if self.duty is None:
            answering = self.answering
            ident = self.pseudo_id
            self.duty = Duty(
                profile_for(ident, answering.seed, answering.knobs, None),
                answering.reason_ids or tuple(reasons),
                random.Random(f"acionar-sim-phone:{answering.seed}:{self.number}"),
                itertools.count(1).__next__,
                time_scale=self.time_scale,
                arrival_radius_m=answering.arrival_radius_m,
                counts=self.stats.duty,
            )
            self.duty.connected = True  # a phone is always "connected": HTTP per action
        return self.duty

    # -- the Duty's messages as a person's taps ------------------------------------------

    async def _send(self, message: dict[str, Any]) -> None:
        kind, seq = message["type"], message["seq"]
        if kind in ("offer.accept", "offer.refuse"):
            await self._answer(message, seq)
        elif kind == "job.status":
            await self._status(message, seq)

    async def _answer(self, message: dict[str, Any], seq: int) -> None:
        number = int(message["offer_id"])
        url = self._links.get(number)
        view = None if url is None else await self._open(url)  # opened to answer
        if url is None or view is None or view.accept is None or view.refuse is None:
            # Expired, withdrawn or taken meanwhile: the page shows a notice.
            self._feed({"type": "result", "seq": seq, "code": "closed"})
            self._feed({"type": "offer.withdrawn", "offer_id": number, "reason": "closed"})
            self._links.pop(number, None)
            return
        accepting = message["type"] == "offer.accept"
        if accepting:
            form, action = {"eta_min": str(message["eta_min"])}, view.accept
        else:
            form, action = {"reason_id": str(message["reason_id"])}, view.refuse
        answer = await self._post(url, action, form)
        if answer is None:  # taken, closed meanwhile, or waiting for the operator
            code = "taken" if accepting else "closed"
            self._feed({"type": "result", "seq": seq, "code": code})
            self._links.pop(number, None)
            return
        next_url, page = answer
        if not accepting:
            self._feed({"type": "result", "seq": seq, "code": "refused"})
            self._links.pop(number, None)
            return
        self._links[number] = next_url
        self._feed({"type": "result", "seq": seq, "code": "accepted"})
        self._job_update(number, page)

    async def _status(self, message: dict[str, Any], seq: int) -> None:
        number = int(message["job_id"])
        url = self._links.get(number)
        view = None if url is None else await self._open(url)
        if url is None or view is None:
            # The link opens nothing any more (the job was taken back): the job is over.
            self._feed({"type": "result", "seq": seq, "code": "not_found"})
            self._links.pop(number, None)
            return
        action = view.statuses.get(str(message["status"]))
        if action is None:
            # Not allowed now: the operator moved or ended the job; the page says how.
            self._feed({"type": "result", "seq": seq, "code": "not_allowed"})
            self._job_update(number, view)
            return
        answer = await self._post(url, action, {"status": str(message["status"])})
        if answer is None:
            self._feed({"type": "result", "seq": seq, "code": "unavailable"})
            return
        self._links[number], page = answer
        self._feed({"type": "result", "seq": seq, "code": "ok"})
        self._job_update(number, page)
        if page.job_status in ("completed", "cancelled", "closed"):
            self._links.pop(number, None)

    def _job_update(self, number: int, view: LinkView) -> None:
        origin = view.places.get("Origem")
        if view.job_status is None or origin is None:
            return
        job: dict[str, Any] = {"job_id": number, "status": view.job_status}
        job["origin"] = {"lat": origin[0], "lng": origin[1]}
        destination = view.places.get("Destino")
        if destination is not None:
            job["destination"] = {"lat": destination[0], "lng": destination[1]}
        self._feed({"type": "job.update", "job": job})

    # -- the phone's browser ---------------------------------------------------------------

    async def _open(self, url: str) -> LinkView | None:
        """The page at ``url``; None when it shows a notice (4xx) or cannot load."""
        try:
            page = await self.http.get(url)
        except httpx.HTTPError as exc:
            self.stats.errors[f"phone_{type(exc).__name__}"] += 1
            return None
        self.stats.duty[f"link_get_{page.status_code}"] += 1
        return read_page(page.text) if page.status_code == 200 else None

    async def _post(
        self, url: str, action: str, form: dict[str, str]
    ) -> tuple[str, LinkView] | None:
        """Submit a form; the next link and its page when the server took it."""
        try:
            reply = await self.http.post(urljoin(url, action), data=form)
            self.stats.duty[f"link_post_{reply.status_code}"] += 1
            if reply.status_code != 303:
                return None
            next_url = urljoin(url, reply.headers["location"])
            page = await self.http.get(next_url)
        except httpx.HTTPError as exc:
            self.stats.errors[f"phone_{type(exc).__name__}"] += 1
            return None
        if page.status_code != 200:
            return None
        return next_url, read_page(page.text)

    # -- time and actions ------------------------------------------------------------------

    def _feed(self, message: dict[str, Any]) -> None:
        if self.duty is not None:
            self._act(self.duty.on_message(message, *self._moment()))

    def _act(self, actions: list[Action]) -> None:
        hour = local_hour(time.time_ns() // 1_000_000)
        self._outgoing += carry_out(actions, self.vehicle, self.rng, hour)

    def _moment(self) -> tuple[float, float, Point]:
        """Now (monotonic s, the vehicle moved up to it), the local hour, the position."""
        now = asyncio.get_running_loop().time()
        self.vehicle.advance((now - self._moved_at) * self.time_scale)
        self._moved_at = now
        hour = local_hour(time.time_ns() // 1_000_000)
        return now, hour, (self.vehicle.lat, self.vehicle.lng)


# -- the network -----------------------------------------------------------------------------


class SmsNetwork:
    """An SMS provider's JSON endpoint (``POST /sms``) delivering to simulated phones.

    The body is the server's default ``SMS_HTTP_BODY``, ``{"to": ..., "message":
    ...}``; the answer ``{"id": "sim-N"}`` (``SMS_HTTP_ID_FIELD=id``). A number seen
    for the first time gets a phone with a vehicle in ``movement``'s area.

    Attributes:
        phones: by destination number.
        received: messages accepted.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        movement: MovementConfig,
        answering: Answering,
        seed: int,
        stats: Stats,
        time_scale: float = 1.0,
    ) -> None:
        self.host, self.port = host, port
        self.movement = movement
        self.answering = answering
        self.seed = seed
        self.stats = stats
        self.time_scale = time_scale
        self.phones: dict[str, Phone] = {}
        self.received = 0
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/sms", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_SMS_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        try:
            message = orjson.loads(body)
            to, text = str(message["to"]), str(message["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return JSONResponse({"error": "expected {to, message}"}, status_code=400)
        phone = self._phone(to)
        if phone is None:
            return JSONResponse({"error": "network full"}, status_code=503)
        self.received += 1
        self.stats.duty["sms_received"] += 1
        self._spawn(phone.on_sms(text))  # the phone reads it after the gateway's answer
        return JSONResponse({"id": f"sim-{self.received}"})

    def _phone(self, number: str) -> Phone | None:
        phone = self.phones.get(number)
        if phone is None and self._http is not None and len(self.phones) < MAX_PHONES:
            rng = random.Random(f"acionar-sim-phone-owner:{self.seed}:{number}")
            phone = Phone(
                number,
                self._http,
                vehicle=Vehicle(self.movement, rng),
                answering=self.answering,
                rng=rng,
                stats=self.stats,
                time_scale=self.time_scale,
            )
            self.phones[number] = phone
            self._spawn(phone.tick_forever())
        return phone

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.errors[f"phone_{type(task.exception()).__name__}"] += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then stop every phone."""
        config = uvicorn.Config(
            self.app(), host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as http:
            self._http = http
            serving = asyncio.create_task(server.serve())
            try:
                await stop.wait()
            finally:
                server.should_exit = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(serving, SHUTDOWN_S)
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._http = None
