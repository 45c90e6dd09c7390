"""Messages a provider app sends, and the registry that maps ``type`` to a class.

Adding a client message type is one local change: a frozen dataclass here that
subclasses :class:`ClientMessage`, decorated with :func:`client_message`, with
``TYPE``, ``from_json`` and ``to_json``; then its handler in
:mod:`realtime.session` (a test checks every registered type has one) and its
section in ``docs/protocol.md`` (a test checks that too).

Field validation here is about shape: types, finite numbers, lengths. Whether a fix
is plausible (coordinates in range, accuracy, time) is the position filter's call,
so that one bad fix in a batch is counted and dropped instead of failing the batch.
Unknown fields are ignored, so that newer apps may add fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Self, TypeVar

from realtime.errors import MessageError, RealtimeError
from realtime.filter import MAX_TIME_MS, PositionFix
from realtime.protocol.constants import (
    JOB_STATUSES,
    MAX_APP_VERSION_CHARS,
    MAX_BATCH_FIXES,
    MAX_DEVICE_ID_CHARS,
    MAX_ETA_MIN,
    MAX_ID,
    MAX_SEQ,
    MAX_STATUS_CHARS,
    MAX_TOKEN_CHARS,
    ErrorCode,
)
from realtime.protocol.fields import (
    JsonObject,
    as_object,
    invalid,
    read_bool,
    read_float,
    read_int,
    read_list,
    read_optional_float,
    read_optional_int,
    read_str,
)


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """Bounds the parser applies (per connection, from its config)."""

    max_batch_fixes: int = MAX_BATCH_FIXES


class ClientMessage:
    """Base of the messages a provider app sends."""

    __slots__ = ()
    TYPE: ClassVar[str]

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """Build the message from a decoded frame (its ``type`` already matched).

        Raises:
            MessageError: a field is missing or has the wrong shape.
        """
        raise NotImplementedError

    def to_json(self) -> dict[str, object]:
        """The message as a JSON-ready dict, ``type`` first (for apps and tests)."""
        raise NotImplementedError


CLIENT_MESSAGES: dict[str, type[ClientMessage]] = {}
"""``type`` value → message class, filled by :func:`client_message`."""

_M = TypeVar("_M", bound=type[ClientMessage])


def client_message(cls: _M) -> _M:
    """Class decorator: register ``cls`` under its ``TYPE``."""
    if cls.TYPE in CLIENT_MESSAGES:
        raise RealtimeError(f"client message type {cls.TYPE!r} registered twice")
    CLIENT_MESSAGES[cls.TYPE] = cls
    return cls


@client_message
@dataclass(frozen=True, slots=True)
class AuthMessage(ClientMessage):
    """``auth``: the device token, when the handshake carried none."""

    TYPE: ClassVar[str] = "auth"
    token: str = field(repr=False)  # keeps tokens out of logs

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`."""
        return cls(token=read_str(obj, "token", max_chars=MAX_TOKEN_CHARS))

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json`."""
        return {"type": self.TYPE, "token": self.token}


@client_message
@dataclass(frozen=True, slots=True)
class HelloMessage(ClientMessage):
    """``hello``: which app build on which device (recorded, may be repeated)."""

    TYPE: ClassVar[str] = "hello"
    app_version: str
    device_id: str

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`."""
        return cls(
            app_version=read_str(obj, "app_version", max_chars=MAX_APP_VERSION_CHARS),
            device_id=read_str(obj, "device_id", max_chars=MAX_DEVICE_ID_CHARS),
        )

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json`."""
        return {"type": self.TYPE, "app_version": self.app_version, "device_id": self.device_id}


FIX_KEYS = ("lat", "lng", "accuracy_m", "speed_kmh", "heading_deg", "time_ms", "mock")
"""Keys of a fix, inline in a single ``pos`` or inside ``fixes``."""


def fix_from_json(obj: JsonObject, prefix: str = "") -> PositionFix:
    """Read one fix; field paths in errors start with ``prefix``.

    Raises:
        MessageError: a field is missing or has the wrong type.
    """
    return _plain_fix(obj) or _checked_fix(obj, prefix)


def _plain_fix(obj: JsonObject) -> PositionFix | None:
    """The fix when every field has the type a phone sends (JSON floats with a
    fraction, an integer time, null or a boolean ``mock``), else ``None``.

    The hot path of the provider socket (thousands of fixes per second): exact type
    tests, no error paths. Anything else, valid or not, goes to
    :func:`_checked_fix`, which gives the same result or names the bad field.
    """
    get = obj.get
    lat, lng, accuracy, time_ms = get("lat"), get("lng"), get("accuracy_m"), get("time_ms")
    speed, heading, mock = get("speed_kmh"), get("heading_deg"), get("mock")
    if not (
        type(lat) is float
        and type(lng) is float
        and type(accuracy) is float
        and type(time_ms) is int
        and (speed is None or type(speed) is float)
        and (heading is None or type(heading) is float)
        and (mock is None or type(mock) is bool)
        and 0 <= time_ms <= MAX_TIME_MS
        # A sum of floats is finite only when each one is (inf - inf is nan).
        and math.isfinite(lat + lng + accuracy + (speed or 0.0) + (heading or 0.0))
    ):
        return None
    return PositionFix(lat, lng, accuracy, time_ms, speed, heading, mock is True)


def _checked_fix(obj: JsonObject, prefix: str) -> PositionFix:
    return PositionFix(
        lat=read_float(obj, "lat", prefix=prefix),
        lng=read_float(obj, "lng", prefix=prefix),
        accuracy_m=read_float(obj, "accuracy_m", prefix=prefix),
        time_ms=read_int(obj, "time_ms", low=0, high=MAX_TIME_MS, prefix=prefix),
        speed_kmh=read_optional_float(obj, "speed_kmh", prefix=prefix),
        heading_deg=read_optional_float(obj, "heading_deg", prefix=prefix),
        mock=read_bool(obj, "mock", default=False, prefix=prefix),
    )


def fix_to_json(fix: PositionFix) -> dict[str, object]:
    """One fix as sent on the wire (``None`` fields left out)."""
    out: dict[str, object] = {
        "lat": fix.lat,
        "lng": fix.lng,
        "accuracy_m": fix.accuracy_m,
        "time_ms": fix.time_ms,
        "mock": fix.mock,
    }
    if fix.speed_kmh is not None:
        out["speed_kmh"] = fix.speed_kmh
    if fix.heading_deg is not None:
        out["heading_deg"] = fix.heading_deg
    return out


@client_message
@dataclass(frozen=True, slots=True)
class PositionMessage(ClientMessage):
    """``pos``: one fix inline, or a batch in ``fixes``; ``seq`` is echoed in ``ack``."""

    TYPE: ClassVar[str] = "pos"
    fixes: tuple[PositionFix, ...]
    seq: int | None = None

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`.

        Raises:
            MessageError: ``batch_too_large`` over ``limits.max_batch_fixes``;
                ``invalid_field`` otherwise.
        """
        seq = read_optional_int(obj, "seq", low=0, high=MAX_SEQ)
        if "fixes" not in obj:
            return cls(fixes=(fix_from_json(obj),), seq=seq)
        if any(key in obj for key in FIX_KEYS):
            raise invalid("fixes", "send either fixes or one inline fix, not both")
        return cls(fixes=_read_batch(obj, limits.max_batch_fixes), seq=seq)

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json` (always the batch form)."""
        out: dict[str, object] = {"type": self.TYPE}
        if self.seq is not None:
            out["seq"] = self.seq
        out["fixes"] = [fix_to_json(fix) for fix in self.fixes]
        return out


def _read_batch(obj: JsonObject, max_fixes: int) -> tuple[PositionFix, ...]:
    items = read_list(obj, "fixes")
    if not items:
        raise invalid("fixes", "must hold at least one fix")
    if len(items) > max_fixes:
        raise MessageError(
            ErrorCode.BATCH_TOO_LARGE, f"at most {max_fixes} fixes per message", "fixes"
        )
    return tuple(_batch_fix(item, i) for i, item in enumerate(items))


def _batch_fix(item: object, index: int) -> PositionFix:
    # Paths are built only for the error path: most batches are valid.
    plain = _plain_fix(item) if type(item) is dict else None
    if plain is not None:
        return plain
    return _checked_fix(as_object(item, f"fixes[{index}]"), f"fixes[{index}].")


# -- dispatch: answers to offers and the job's statuses ---------------------------------


def _read_id(obj: JsonObject, key: str) -> int:
    return read_int(obj, key, low=1, high=MAX_ID)


@client_message
@dataclass(frozen=True, slots=True)
class OfferAcceptMessage(ClientMessage):
    """``offer.accept``: take the offered job, arriving in ``eta_min`` minutes."""

    TYPE: ClassVar[str] = "offer.accept"
    offer_id: int
    eta_min: int
    seq: int | None = None

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`."""
        return cls(
            offer_id=_read_id(obj, "offer_id"),
            eta_min=read_int(obj, "eta_min", low=1, high=MAX_ETA_MIN),
            seq=read_optional_int(obj, "seq", low=0, high=MAX_SEQ),
        )

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json`."""
        out: dict[str, object] = {"type": self.TYPE, "offer_id": self.offer_id}
        out["eta_min"] = self.eta_min
        return _with_seq(out, self.seq)


@client_message
@dataclass(frozen=True, slots=True)
class OfferRefuseMessage(ClientMessage):
    """``offer.refuse``: decline the offer, with one of the registered reasons."""

    TYPE: ClassVar[str] = "offer.refuse"
    offer_id: int
    reason_id: int
    seq: int | None = None

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`."""
        return cls(
            offer_id=_read_id(obj, "offer_id"),
            reason_id=_read_id(obj, "reason_id"),
            seq=read_optional_int(obj, "seq", low=0, high=MAX_SEQ),
        )

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json`."""
        out: dict[str, object] = {"type": self.TYPE, "offer_id": self.offer_id}
        out["reason_id"] = self.reason_id
        return _with_seq(out, self.seq)


@client_message
@dataclass(frozen=True, slots=True)
class JobStatusMessage(ClientMessage):
    """``job.status``: the provider reports a status of its job (``en_route``,
    ``on_site``, ``in_transit``, ``completed``), with where it is if it knows."""

    TYPE: ClassVar[str] = "job.status"
    job_id: int
    status: str
    lat: float | None = None
    lng: float | None = None
    seq: int | None = None

    @classmethod
    def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
        """See :meth:`ClientMessage.from_json`."""
        status = read_str(obj, "status", max_chars=MAX_STATUS_CHARS)
        if status not in JOB_STATUSES:
            raise invalid("status", f"must be one of {', '.join(sorted(JOB_STATUSES))}")
        lat = read_optional_float(obj, "lat")
        lng = read_optional_float(obj, "lng")
        if (lat is None) != (lng is None):
            raise invalid("lat" if lat is None else "lng", "send lat and lng together")
        if lat is not None and lng is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise invalid("lat", "lat must be in [-90, 90] and lng in [-180, 180]")
        return cls(
            job_id=_read_id(obj, "job_id"),
            status=status,
            lat=lat,
            lng=lng,
            seq=read_optional_int(obj, "seq", low=0, high=MAX_SEQ),
        )

    def to_json(self) -> dict[str, object]:
        """See :meth:`ClientMessage.to_json`."""
        out: dict[str, object] = {"type": self.TYPE, "job_id": self.job_id, "status": self.status}
        if self.lat is not None:
            out["lat"], out["lng"] = self.lat, self.lng
        return _with_seq(out, self.seq)


def _with_seq(out: dict[str, object], seq: int | None) -> dict[str, object]:
    if seq is not None:
        out["seq"] = seq
    return out


COMMANDS = (OfferAcceptMessage, OfferRefuseMessage, JobStatusMessage)
"""Messages that ask the server to change something (answered by ``result`` or
``error``, carrying their ``seq``)."""
