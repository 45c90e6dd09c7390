"""``/ws/provider``: the provider app's websocket (protocol v1, docs/protocol.md).

Two sans-I/O state machines joined by callbacks, with no task per frame: the
``websockets`` library's :class:`~websockets.server.ServerProtocol` turns bytes into
frames and back, and :class:`realtime.session.ProviderConnection` decides what each
frame, tick and piece of hub news means. :class:`ProviderProtocol` is the
``asyncio.Protocol`` that feeds the first with the socket's bytes, the second with
the first's frames, and carries out the actions it returns: sending and closing at
once, the token check and presence (which wait for PostgreSQL or Redis) in one
worker task per connection, only while there is such work, in order.

It is served on the HTTP port: uvicorn hands every websocket upgrade to
:func:`websocket_protocol`'s class (:mod:`server.ws_upgrade`: uvicorn's contract),
which keeps ``/ws/provider`` for itself and gives any other path to uvicorn's own
ASGI websocket protocol. Why not a Starlette endpoint: see docs/architecture.md
("The provider socket").

Timers per connection, none per frame: the keepalive ping (every
``ws_ping_interval_s``), and one alarm at the connection's next deadline (auth
deadline, idle timeout), re-armed when it fires early because frames moved it.

Load shedding: while the event loop runs late (:mod:`realtime.lag`), a socket that
delivered frames is not read again for a pause, so that a flood of positions cannot
starve the node's own work (its Redis writes, offers, timers, HTTP requests).
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import OPEN
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from operations.events import PROVIDER_ONLINE, ProviderOnlinePayload
from realtime import actions as act
from realtime.filter import PositionFix
from realtime.hub import Handle, HubNews
from realtime.protocol import (
    PATH,
    SUBPROTOCOL,
    Handshake,
    ServerMessage,
    encode_bytes,
    read_handshake,
)
from realtime.session import ConnectionState, ProviderConnection
from realtime.store import now_ms
from registry.devices import token_owner
from server.live import Live
from server.resources import Resources
from server.ws_upgrade import upgrade_dispatch

log = logging.getLogger("acionar.ws.provider")
wire_log = logging.getLogger("acionar.ws.provider.wire")
"""The websockets library's own messages (handshake failures, protocol errors)."""

CLOSE_TIMEOUT_S = 10.0
"""After our close frame, how long the app has to answer before the TCP connection
is closed anyway."""

_ASYNC_ACTIONS = frozenset(
    {act.CheckToken, act.ProviderOnline, act.ProviderOffline, act.Command, act.Resume}
)
"""Actions that wait for PostgreSQL or Redis (the worker's); every action class is
final, so the type is tested, not ``isinstance``."""
_OPEN_STATES = (
    ConnectionState.AWAITING_AUTH,
    ConnectionState.AUTHENTICATING,
    ConnectionState.AUTHENTICATED,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What every provider connection of this process shares.

    Attributes:
        live: the node's realtime parts (hub, writer, store, bus, config).
        resources: the database engine (token checks).
        connections: the server's open connections; the server calls ``shutdown()``
            on each when it stops and waits until the set is empty.
        tasks: the server's background tasks, awaited when it stops.
    """

    live: Live
    resources: Resources
    connections: set[Any]
    tasks: set[asyncio.Task[None]]


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame carrying ``payload`` (RFC 6455, 5.2): what a
    server sends with no extension negotiated."""
    length = len(payload)
    if length < 126:
        return bytes((0x81, length)) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length) + payload
    return struct.pack("!BBQ", 0x81, 127, length) + payload


def _select_subprotocol(_: ServerProtocol, offered: Any) -> Subprotocol | None:
    # Accept a client without acionar.v1 too: the connection then closes with
    # 4000, a documented code, instead of an HTTP 400 an app cannot tell apart.
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None


def _offered_subprotocols(request: Request) -> list[str]:
    return [
        entry.strip()
        for header in request.headers.get_all("Sec-WebSocket-Protocol")
        for entry in header.split(",")
    ]


def _authorization(request: Request) -> str | None:
    values = request.headers.get_all("Authorization")
    return values[0] if len(values) == 1 else None


class ProviderProtocol(asyncio.Protocol):
    """One provider app's websocket, from the HTTP upgrade to the TCP close."""

    __slots__ = (
        "_alarm",
        "_closer",
        "_eased",
        "_fragments",
        "_loop",
        "_ping",
        "_ping_payload",
        "_pong",
        "_queue",
        "_worker",
        "_write_paused",
        "conn",
        "endpoint",
        "handle",
        "live",
        "provider_id",
        "transport",
        "ws",
    )

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.live = endpoint.live
        settings = self.live.settings
        self.ws = ServerProtocol(
            select_subprotocol=_select_subprotocol,
            max_size=settings.ws_max_frame_bytes,
            logger=wire_log,
        )
        self.conn = ProviderConnection(self.live.config)
        self.handle = Handle(uuid.uuid4().hex, self._news, send=self._push)
        self.provider_id: int | None = None
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._queue: list[list[act.Action]] = []  # rare: a list is smaller than a deque
        self._worker: asyncio.Task[None] | None = None
        self._fragments: list[bytes] | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self._ping: asyncio.TimerHandle | None = None
        self._pong: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None
        self._eased: asyncio.TimerHandle | None = None
        self._write_paused = False

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.endpoint.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        if self._eased is None and not self._ease_off():
            self._handle_events()

    def _handle_events(self) -> None:
        try:
            for event in self.ws.events_received():
                if isinstance(event, Frame):
                    self._on_frame(event)
                elif isinstance(event, Request):
                    self._on_request(event)
        except Exception:  # a bug: nothing an app sends raises (docs/protocol.md)
            log.exception("provider socket failed")
            self._close(1011, "")
        self._flush()

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint.connections.discard(self)
        for timer in (self._alarm, self._ping, self._pong, self._closer, self._eased):
            if timer is not None:
                timer.cancel()
        if self.conn.state in _OPEN_STATES:
            self._run(self.conn.connection_lost(time.monotonic()))
        if self.provider_id is not None and self._worker is None:
            self.live.hub.detach(self.provider_id, self.handle)  # else the worker does

    def pause_writing(self) -> None:
        # The app does not read its replies: stop reading its frames until it does.
        self._write_paused = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._read_again()

    def _ease_off(self) -> bool:
        """If the loop runs late, stop reading this socket for a pause; the frames it
        delivered wait until the pause ends. Returns whether it paused."""
        lag = self.live.lag
        pause = lag.pause(lag.lateness())
        transport = self.transport
        if pause is None or transport is None or transport.is_closing():
            return False
        transport.pause_reading()
        self._eased = self._loop.call_later(pause, self._eased_enough)
        return True

    def _eased_enough(self) -> None:
        self._eased = None
        self._handle_events()
        self._read_again()

    def _read_again(self) -> None:
        """Read again, unless the app's replies or the loop's lateness still hold it."""
        transport = self.transport
        if self._write_paused or self._eased is not None:
            return
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def shutdown(self) -> None:
        """The server is stopping (called by uvicorn): close with 1001."""
        if self.conn.state in _OPEN_STATES:
            self._run(self.conn.shutdown(time.monotonic()))
        elif self.transport is not None and self.conn.state is ConnectionState.CONNECTING:
            self.transport.close()

    # -- websocket events ---------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        response = self.ws.accept(request)
        self.ws.send_response(response)
        if response.status_code != 101:
            return  # the library sends the error response and the end of stream
        handshake = read_handshake(_offered_subprotocols(request), _authorization(request))
        self._start(handshake)

    def _start(self, handshake: Handshake) -> None:
        self._run(self.conn.start(handshake, time.monotonic()))
        if not self.conn.closed:
            self._arm()
            self._schedule_ping()

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._on_message(frame.data)
            else:
                self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT and self._fragments is not None:
            # The library bounds a fragmented message's total size (max_size).
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._on_message(data)
        elif opcode is Opcode.PONG:
            self._on_pong(bytes(frame.data))
        elif opcode is Opcode.CLOSE and self.conn.state in _OPEN_STATES:
            # The library has answered the close frame already.
            self._run(self.conn.connection_lost(time.monotonic()))

    def _on_message(self, data: Any) -> None:
        if self.conn.state in _OPEN_STATES:
            frame = data if type(data) is bytes else bytes(data)
            self._run(self.conn.receive_frame(frame, time.monotonic(), time.time()))

    def _news(self, news: HubNews) -> None:
        # Called by the hub (another connection, the bus listener, shutdown).
        now = time.monotonic()
        if self.conn.state is ConnectionState.AUTHENTICATED:
            if news is HubNews.REPLACED:
                self._run(self.conn.replaced(now))
            elif news is HubNews.REVOKED:
                self._run(self.conn.token_revoked(now))
            elif news is HubNews.BLOCKED:
                self._run(self.conn.blocked(now))
            else:
                self._run(self.conn.shutdown(now))
        elif news is HubNews.SHUTDOWN and self.conn.state in _OPEN_STATES:
            self._run(self.conn.shutdown(now))

    # -- timers ---------------------------------------------------------------------------

    def _arm(self) -> None:
        """Call :meth:`_on_alarm` at the connection's next deadline."""
        delay = max(self.conn.next_deadline() - time.monotonic(), 0.0)
        self._alarm = self._loop.call_later(delay, self._on_alarm)

    def _on_alarm(self) -> None:
        self._alarm = None
        if self.conn.state not in _OPEN_STATES:
            return
        now = time.monotonic()
        if now >= self.conn.next_deadline():
            self._run(self.conn.tick(now))
        else:
            self._arm()

    def _schedule_ping(self) -> None:
        self._ping = self._loop.call_later(self.live.settings.ws_ping_interval_s, self._send_ping)

    def _send_ping(self) -> None:
        self._ping = None
        if self.ws.state is not OPEN:
            return
        self._ping_payload = struct.pack("!I", random.getrandbits(32))
        self.ws.send_ping(self._ping_payload)
        self._flush()
        timeout = self.live.settings.ws_ping_timeout_s
        self._pong = self._loop.call_later(timeout, self._ping_timed_out)

    def _on_pong(self, payload: bytes) -> None:
        if self._pong is None or payload != self._ping_payload:
            return  # unsolicited, or the answer to an older ping
        self._pong.cancel()
        self._pong = None
        self._schedule_ping()

    def _ping_timed_out(self) -> None:
        # A silent app: drop the TCP connection; connection_lost marks it offline.
        self._pong = None
        self.ws.fail(1011, "keepalive ping timeout")
        self._flush()
        if self.transport is not None:
            self.transport.close()

    # -- actions --------------------------------------------------------------------------

    def _run(self, actions: list[act.Action]) -> None:
        """Carry out ``actions`` in order: now, unless one must wait for I/O or the
        worker is busy with earlier ones; then in the connection's worker task."""
        if not actions:
            return
        if self._worker is None:
            for action in actions:
                if type(action) in _ASYNC_ACTIONS:
                    break
            else:  # the usual case (a position's actions), so no generator per frame
                for action in actions:
                    self._perform(action)
                return
        self._queue.append(actions)
        if self._worker is None:
            self._worker = self._loop.create_task(self._work(), name="ws-provider-io")
            self.endpoint.tasks.add(self._worker)
            self._worker.add_done_callback(self.endpoint.tasks.discard)

    def _perform(self, action: act.Action) -> None:
        if isinstance(action, act.Send):
            self._send_text(action.data)
        elif isinstance(action, act.AcceptFixes):
            self.live.writer.submit(action.provider_id, action.fixes, now_ms())
            self.live.tracks.offer(action.provider_id, action.fixes)  # if on a job
        elif isinstance(action, act.CountRejections):
            self.live.rejections.update(action.counts)
        elif isinstance(action, act.Close):
            self._close(int(action.code), action.reason)
        elif isinstance(action, act.RecordHello):
            log.info(
                "provider %d: app %s on device %s",
                action.provider_id,
                action.app_version,
                action.device_id,
            )
        else:
            raise TypeError(f"{type(action).__name__} needs the worker")

    async def _work(self) -> None:
        """Run queued actions until none is left; owned by the server's task set."""
        try:
            while self._queue:
                pending = self._queue.pop(0)
                while pending:
                    action = pending.pop(0)
                    pending[:0] = await self._perform_io(action)
        except Exception:
            log.exception("provider socket failed")
            self._queue.clear()
            self._close(1011, "")
        finally:
            self._worker = None
            if self.transport is not None and self.transport.is_closing():
                self._leave()

    async def _perform_io(self, action: act.Action) -> list[act.Action]:
        if isinstance(action, act.CheckToken):
            return await self._check_token(action.token)
        if isinstance(action, act.ProviderOnline):
            await self._tolerate_redis(self._online(action.provider_id))
        elif isinstance(action, act.ProviderOffline):
            await self._tolerate_redis(self._offline(action.provider_id))
        elif isinstance(action, act.Command):
            reply = await self.live.apps.command(action.provider_id, action.message)
            self._push(reply)
        elif isinstance(action, act.Resume):
            await self._resume(action.provider_id)
        else:
            self._perform(action)
        return []

    def _push(self, message: ServerMessage) -> bool:
        """Send a message the server initiates (an offer, a job's update, a reply);
        whether the socket took it."""
        if self.conn.state is not ConnectionState.AUTHENTICATED or self.ws.state is not OPEN:
            return False
        self._send_text(encode_bytes(message))
        return True

    async def _resume(self, provider_id: int) -> None:
        try:
            messages = await self.live.apps.resume(provider_id)
        except (DBAPIError, OSError) as exc:
            log.warning("provider %d: offers and jobs not resent (%s)", provider_id, exc)
            return
        for message in messages:
            self._push(message)

    def _close(self, code: int, reason: str) -> None:
        if self.ws.state is OPEN:
            self.ws.send_close(code, reason)
            self._flush()
            self._closer = self._loop.call_later(CLOSE_TIMEOUT_S, self._abort)

    def _abort(self) -> None:
        self._closer = None
        if self.transport is not None:
            self.transport.close()

    def _send_text(self, payload: bytes) -> None:
        """Send a text frame, written straight to the socket when nothing else waits:
        the library's path (a ``Frame``, its checks, a ``BytesIO``) cost as much as
        the rest of an ``ack``. Same bytes as ``ws.send_text`` when no extension is
        active, which is always (permessage-deflate is never negotiated)."""
        ws, transport = self.ws, self.transport
        if ws.state is not OPEN:
            return
        if ws.extensions or ws.expect_continuation_frame or transport is None:
            ws.send_text(payload)
        elif not transport.is_closing():
            if ws.writes:  # the library's own frames (a pong, say) go first, in order
                self._flush()
            transport.write(text_frame(payload))
            return
        self._flush()

    def _flush(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            self.ws.data_to_send()  # nowhere to go
            return
        for chunk in self.ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:
                transport.close()  # end of stream: a server closes the TCP connection

    async def _tolerate_redis(self, work: Awaitable[None]) -> None:
        """Presence is live data: a Redis outage must not cost the provider its
        socket (positions keep being accepted; presence returns with Redis)."""
        try:
            await work
        except (RedisError, OSError) as exc:
            log.warning("provider %s: presence not updated (%s)", self.provider_id, exc)

    async def _check_token(self, token: str) -> list[act.Action]:
        found = await token_owner(self.endpoint.resources.engine, token)
        last_fix = None
        if found is not None:
            last_fix = await self._last_fix(found[0])
        if self.conn.state is not ConnectionState.AUTHENTICATING:
            return []  # closed meanwhile (deadline, connection lost, shutdown)
        provider_id = None
        if found is not None:
            provider_id, self.handle.credential_id = found
        return self.conn.token_checked(provider_id, time.monotonic(), time.time(), last_fix)

    async def _last_fix(self, provider_id: int) -> PositionFix | None:
        """The provider's last accepted fix (from any earlier connection, any node),
        so the position filter goes on from it: the first position after a
        reconnect is checked for order, duplicates and implied speed like any other.
        Live data: without Redis the filter starts afresh."""
        try:
            stored = await self.live.store.positions([provider_id])
        except (RedisError, OSError) as exc:
            log.warning("provider %d: last position not read (%s)", provider_id, exc)
            return None
        position = stored.get(provider_id)
        return None if position is None else position.fix()

    async def _online(self, provider_id: int) -> None:
        self.provider_id = provider_id
        previous = self.live.hub.attach(provider_id, self.handle)
        if previous is not None:
            previous.notify(HubNews.REPLACED)
        ttl = self.live.settings.presence_ttl_s
        await self.live.store.hold(provider_id, self.handle.connection_id, ttl)
        online: ProviderOnlinePayload = {
            "provider_id": provider_id,
            "connection_id": self.handle.connection_id,
        }
        await self.live.bus.publish(PROVIDER_ONLINE, online)

    async def _offline(self, provider_id: int) -> None:
        self.live.hub.detach(provider_id, self.handle)
        self.live.writer.forget(provider_id)
        await self.live.store.release(provider_id, self.handle.connection_id)

    def _leave(self) -> None:
        """However the connection ended, it no longer holds its provider here."""
        if self.provider_id is not None:
            self.live.hub.detach(self.provider_id, self.handle)


# -- uvicorn's side ---------------------------------------------------------------------


def websocket_protocol(app: Any, path: str = PATH) -> type[asyncio.Protocol]:
    """The websocket protocol class to give uvicorn (``ws=``): ``path`` is served by
    :class:`ProviderProtocol` with the realtime parts in ``app.state``; other paths
    by uvicorn's ASGI websocket protocol (websockets' sans-I/O core, as before)."""

    def provider(server_state: Any) -> asyncio.Protocol:
        state = app.state
        endpoint = Endpoint(
            state.live, state.resources, server_state.connections, server_state.tasks
        )
        return ProviderProtocol(endpoint)

    return upgrade_dispatch(path, provider)
