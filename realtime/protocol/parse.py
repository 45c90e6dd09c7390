"""Decoding a client frame: bytes or text in, a message or an ``error`` reply out."""

from __future__ import annotations

import orjson

from realtime.errors import MessageError
from realtime.protocol.client import CLIENT_MESSAGES, ClientMessage, MessageLimits
from realtime.protocol.constants import MAX_SEQ, ErrorCode
from realtime.protocol.fields import JsonObject, invalid
from realtime.protocol.server import ErrorMessage

DEFAULT_LIMITS = MessageLimits()


def parse_client_frame(
    data: bytes | str, limits: MessageLimits = DEFAULT_LIMITS
) -> ClientMessage | ErrorMessage:
    """Decode one frame sent by a provider app.

    Never raises, whatever ``data`` holds: a frame that is not a valid message
    becomes the :class:`ErrorMessage` to send back. The frame's size is the
    caller's to check first (see :data:`~realtime.protocol.MAX_FRAME_BYTES`).

    Args:
        data: the frame's payload, text or binary (both must hold UTF-8 JSON).
        limits: bounds that depend on the connection's config.

    Returns:
        The message, or the ``error`` reply naming the code and, for field errors,
        the field.
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return ErrorMessage(ErrorCode.MALFORMED_JSON, "the frame is not valid UTF-8 JSON")
    if not isinstance(obj, dict):
        return ErrorMessage(ErrorCode.NOT_AN_OBJECT, "the frame must be a JSON object")
    try:
        return _message_class(obj).from_json(obj, limits)
    except MessageError as exc:
        return ErrorMessage(ErrorCode(exc.code), exc.message, exc.field, peek_seq(obj))


def frame_size(data: bytes | str, limit: int) -> int:
    """Size of a frame in bytes (UTF-8 for text); exact up to ``limit``, and above
    ``limit`` whenever the frame is. Never raises (lone surrogates count 3 bytes)."""
    if isinstance(data, bytes) or len(data) > limit or data.isascii():
        return len(data)  # for ASCII text (almost every frame) characters are bytes
    return len(data.encode("utf-8", "surrogatepass"))


def _message_class(obj: JsonObject) -> type[ClientMessage]:
    kind = obj.get("type")
    if kind is None:
        raise invalid("type", "is required")
    if not isinstance(kind, str):
        raise invalid("type", "must be a string")
    cls = CLIENT_MESSAGES.get(kind)
    if cls is None:
        raise MessageError(ErrorCode.UNKNOWN_TYPE, "unknown message type", "type")
    return cls


def peek_seq(obj: JsonObject) -> int | None:
    """The frame's ``seq`` if it is a valid one, else ``None`` (never raises)."""
    seq = obj.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= MAX_SEQ:
        return seq
    return None
