from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.errors import MessageError, RealtimeError
from realtime.filter import MAX_TIME_MS, PositionFix
from realtime.protocol import (
    CLIENT_MESSAGES,
    MAX_BATCH_FIXES,
    MAX_FRAME_BYTES,
    MAX_SEQ,
    SUBPROTOCOL,
    AckMessage,
    AuthMessage,
    ClientMessage,
    ErrorCode,
    ErrorMessage,
    HelloMessage,
    MessageLimits,
    PositionMessage,
    SessionLimits,
    WelcomeMessage,
    client_message,
    encode,
    fix_from_json,
    fix_to_json,
    frame_size,
    parse_client_frame,
    read_handshake,
)
from realtime.protocol.client import _checked_fix
from realtime.protocol.fields import JsonObject, read_int
from realtime.protocol.server import encode_bytes, to_json
from tests.realtime.support import NOW_MS, frame, wire_fix

E = ErrorCode


def parse(obj: object) -> ClientMessage | ErrorMessage:
    return parse_client_frame(frame(obj))


def error_of(obj: object) -> ErrorMessage:
    result = parse(obj)
    assert isinstance(result, ErrorMessage), result
    return result


# -- each client message ---------------------------------------------------------


def test_auth() -> None:
    assert parse({"type": "auth", "token": "abc-_123"}) == AuthMessage("abc-_123")
    assert "abc" not in repr(AuthMessage("abc-_123"))


def test_hello() -> None:
    message = parse({"type": "hello", "app_version": "1.4.2 (87)", "device_id": "f3a9c2"})
    assert message == HelloMessage(app_version="1.4.2 (87)", device_id="f3a9c2")


def test_single_inline_position() -> None:
    message = parse({"type": "pos", "seq": 7, **wire_fix()})
    assert message == PositionMessage(
        fixes=(PositionFix(-23.5505, -46.6333, 8.0, NOW_MS, 40.0, 90.0, False),), seq=7
    )


def test_position_batch_with_optional_fields_absent_or_null() -> None:
    fixes = [
        wire_fix(speed_kmh=None, heading_deg=None, mock=None),
        {**wire_fix(time_ms=NOW_MS + 1), "speed_kmh": None, "heading_deg": None, "mock": None},
        wire_fix(time_ms=NOW_MS + 2, mock=True, lat=-23, lng=-46),
    ]
    message = parse({"type": "pos", "fixes": fixes})
    assert isinstance(message, PositionMessage)
    assert message.seq is None
    assert [f.speed_kmh for f in message.fixes] == [None, None, 40.0]
    assert [f.mock for f in message.fixes] == [False, False, True]
    assert isinstance(message.fixes[2].lat, float)


def test_unknown_fields_are_ignored() -> None:
    message = parse({"type": "hello", "app_version": "1", "device_id": "d", "extra": [1, 2]})
    assert message == HelloMessage("1", "d")


def test_binary_and_text_frames_parse_alike() -> None:
    text = '{"type":"hello","app_version":"1.0","device_id":"ç"}'
    assert parse_client_frame(text) == parse_client_frame(text.encode()) == HelloMessage("1.0", "ç")


# -- every parse error -------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"NaN", b"{'a': 1}", "\ud800", b"1e999"])
def test_malformed_json(data: bytes | str) -> None:
    result = parse_client_frame(data)
    assert isinstance(result, ErrorMessage)
    assert result.code is E.MALFORMED_JSON


@pytest.mark.parametrize("obj", [[], [{"type": "hello"}], "hello", 3, None, True])
def test_not_an_object(obj: object) -> None:
    assert error_of(obj).code is E.NOT_AN_OBJECT


def test_unknown_type() -> None:
    error = error_of({"type": "teleport", "seq": 3})
    assert (error.code, error.field, error.seq) == (E.UNKNOWN_TYPE, "type", 3)


@pytest.mark.parametrize("obj", [{}, {"type": None}, {"type": 1}, {"type": ["pos"]}])
def test_missing_or_non_string_type(obj: dict[str, Any]) -> None:
    error = error_of(obj)
    assert (error.code, error.field) == (E.INVALID_FIELD, "type")


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"type": "auth"}, "token"),
        ({"type": "auth", "token": ""}, "token"),
        ({"type": "auth", "token": 12}, "token"),
        ({"type": "auth", "token": "x" * 513}, "token"),
        ({"type": "hello", "app_version": "1"}, "device_id"),
        ({"type": "hello", "app_version": "1\n2", "device_id": "d"}, "app_version"),
        ({"type": "hello", "app_version": "1", "device_id": "d" * 129}, "device_id"),
        ({"type": "pos", **wire_fix(lat="-23.5")}, "lat"),
        ({"type": "pos", **wire_fix(lng=True)}, "lng"),
        ({"type": "pos", **wire_fix(accuracy_m=None)}, "accuracy_m"),
        ({"type": "pos", **wire_fix(time_ms=NOW_MS + 0.5)}, "time_ms"),
        ({"type": "pos", **wire_fix(time_ms=float(NOW_MS))}, "time_ms"),
        ({"type": "pos", **wire_fix(time_ms=-1)}, "time_ms"),
        ({"type": "pos", **wire_fix(time_ms=MAX_TIME_MS + 1)}, "time_ms"),
        ({"type": "pos", **wire_fix(speed_kmh="fast")}, "speed_kmh"),
        ({"type": "pos", **wire_fix(heading_deg=[1])}, "heading_deg"),
        ({"type": "pos", **wire_fix(mock=1)}, "mock"),
        ({"type": "pos", "seq": -1, **wire_fix()}, "seq"),
        ({"type": "pos", "seq": MAX_SEQ + 1, **wire_fix()}, "seq"),
        ({"type": "pos", "seq": "1", **wire_fix()}, "seq"),
        ({"type": "pos", "fixes": {}}, "fixes"),
        ({"type": "pos", "fixes": []}, "fixes"),
        ({"type": "pos", "fixes": [wire_fix()], "lat": 1}, "fixes"),
        ({"type": "pos", "fixes": [wire_fix(), 3]}, "fixes[1]"),
        ({"type": "pos", "fixes": [wire_fix(), wire_fix(lat=None)]}, "fixes[1].lat"),
        ({"type": "pos", "fixes": [wire_fix(lng="x")]}, "fixes[0].lng"),
    ],
)
def test_invalid_fields_are_named(obj: dict[str, Any], field: str) -> None:
    error = error_of(obj)
    assert (error.code, error.field) == (E.INVALID_FIELD, field)
    assert error.message.startswith(field + " ")


def test_numbers_past_64_bits() -> None:
    # orjson reads integers past 64 bits as floats: a huge time is not an integer ...
    result = parse_client_frame(
        b'{"type":"pos","lat":1,"lng":2,"accuracy_m":3,"time_ms":100000000000000000000000}'
    )
    assert isinstance(result, ErrorMessage) and result.field == "time_ms"
    # ... and a huge latitude is a finite number: the filter, not the parser, rejects it.
    result = parse_client_frame(
        b'{"type":"pos","lat":100000000000000000000000,"lng":2,"accuracy_m":3,"time_ms":5}'
    )
    assert isinstance(result, PositionMessage) and result.fixes[0].lat == 1e23


def test_error_echoes_a_valid_seq_only() -> None:
    assert error_of({"type": "pos", "seq": 41, **wire_fix(lat="x")}).seq == 41
    assert error_of({"type": "pos", "seq": True, **wire_fix(lat="x")}).seq is None


def test_batch_too_large() -> None:
    fixes = [wire_fix(time_ms=NOW_MS + i) for i in range(4)]
    result = parse_client_frame(frame({"type": "pos", "seq": 2, "fixes": fixes}), MessageLimits(3))
    assert isinstance(result, ErrorMessage)
    assert (result.code, result.field, result.seq) == (E.BATCH_TOO_LARGE, "fixes", 2)
    assert isinstance(parse_client_frame(frame({"type": "pos", "fixes": fixes})), PositionMessage)


def test_a_full_batch_at_full_precision_fits_in_a_frame() -> None:
    worst = PositionFix(
        lat=-23.550520123456788,
        lng=-146.63330812345679,
        accuracy_m=1008.5234567890123,
        time_ms=MAX_TIME_MS,
        speed_kmh=142.31234567890123,
        heading_deg=187.01234567890123,
        mock=False,
    )
    message = PositionMessage(fixes=(worst,) * MAX_BATCH_FIXES, seq=MAX_SEQ)
    data = orjson.dumps(message.to_json())
    assert len(data) <= MAX_FRAME_BYTES
    assert parse_client_frame(data) == message


# -- server messages -----------------------------------------------------------------

LIMITS = SessionLimits(65536, 250, 5.0, 30, 120.0, 20.0, 100.0, 86400.0)


def test_welcome_encoding() -> None:
    welcome = WelcomeMessage(42, NOW_MS, 5.0, LIMITS)
    assert orjson.loads(encode(welcome)) == {
        "type": "welcome",
        "provider_id": 42,
        "server_time_ms": NOW_MS,
        "position_interval_s": 5.0,
        "config": {
            "max_frame_bytes": 65536,
            "max_batch_fixes": 250,
            "rate_limit_per_s": 5.0,
            "rate_limit_burst": 30,
            "idle_timeout_s": 120.0,
            "ping_interval_s": 20.0,
            "max_accuracy_m": 100.0,
            "max_fix_age_s": 86400.0,
        },
    }


def test_error_and_ack_encoding() -> None:
    error = ErrorMessage(E.INVALID_FIELD, "fixes[0].lat must be a number", "fixes[0].lat", 9)
    assert encode(error) == (
        '{"type":"error","code":"invalid_field","message":"fixes[0].lat must be a number",'
        '"field":"fixes[0].lat","seq":9}'
    )
    ack = AckMessage(seq=9, accepted=3, rejected={"duplicate": 1})
    assert orjson.loads(encode(ack)) == {
        "type": "ack",
        "seq": 9,
        "accepted": 3,
        "rejected": {"duplicate": 1},
    }


@given(
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**53)),
    st.integers(min_value=0, max_value=1_000),
    st.dictionaries(st.sampled_from(["duplicate", "in_future"]), st.integers(1, 9)),
)
def test_ack_fast_encoding_is_what_orjson_writes(
    seq: int | None, accepted: int, rejected: dict[str, int]
) -> None:
    ack = AckMessage(seq=seq, accepted=accepted, rejected=rejected)
    assert encode_bytes(ack) == orjson.dumps(to_json(ack))


# -- frame size and handshake --------------------------------------------------------


def test_frame_size_counts_utf8_bytes_and_never_raises() -> None:
    assert frame_size(b"abc", 10) == 3
    assert frame_size("çã", 10) == 4
    assert frame_size("\ud800", 10) == 3
    assert frame_size("x" * 11, 10) > 10
    assert frame_size("é" * 6, 10) == 12


def test_handshake_selects_the_subprotocol_and_reads_the_bearer_token() -> None:
    handshake = read_handshake(["acionar.v1"], "Bearer s3cr3t")
    assert (handshake.subprotocol, handshake.token) == (SUBPROTOCOL, "s3cr3t")
    assert "s3cr3t" not in repr(handshake)
    assert read_handshake(["acionar.v1"], "bearer  tok ").token == "tok"


def test_handshake_token_from_a_subprotocol_entry_never_selected() -> None:
    handshake = read_handshake(["acionar.token.abc_-1", "acionar.v1"], None)
    assert (handshake.subprotocol, handshake.token) == (SUBPROTOCOL, "abc_-1")


def test_handshake_header_wins_over_subprotocol_token() -> None:
    assert read_handshake(["acionar.v1", "acionar.token.b"], "Bearer a").token == "a"


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer   ", "Basic dXNlcg=="])
def test_handshake_without_a_token(authorization: str | None) -> None:
    assert read_handshake(["acionar.v1", "acionar.token."], authorization).token is None


def test_handshake_without_our_subprotocol() -> None:
    assert read_handshake([], "Bearer a").subprotocol is None
    assert read_handshake(["acionar.v2", "acionar.token.x"], None).subprotocol is None


# -- properties ------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
field_names = st.sampled_from(
    [
        "type",
        "token",
        "app_version",
        "device_id",
        "seq",
        "fixes",
        "lat",
        "lng",
        "accuracy_m",
        "speed_kmh",
        "heading_deg",
        "time_ms",
        "mock",
    ]
)
type_names = st.sampled_from(["auth", "hello", "pos", "", "POS", "x"])


@st.composite
def message_like(draw: st.DrawFn) -> dict[str, object]:
    """Objects shaped like messages, with fields of any JSON value."""
    obj: dict[str, object] = draw(st.dictionaries(field_names, json_values, max_size=8))
    obj["type"] = draw(type_names)
    if draw(st.booleans()):
        obj["fixes"] = draw(st.lists(st.dictionaries(field_names, json_values), max_size=4))
    return obj


def assert_parses_safely(data: bytes | str) -> None:
    result = parse_client_frame(data)
    assert isinstance(result, ClientMessage | ErrorMessage)
    if isinstance(result, ErrorMessage):
        encode(result)  # every error can be sent back


@given(st.binary(max_size=512))
def test_parser_never_raises_on_bytes(data: bytes) -> None:
    assert_parses_safely(data)


@given(st.text(max_size=512))
def test_parser_never_raises_on_text(data: str) -> None:
    assert_parses_safely(data)


@given(json_values)
def test_parser_never_raises_on_json_values(value: object) -> None:
    try:
        data = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return  # not JSON (e.g. an integer past 64 bits): nothing a client could send
    assert_parses_safely(data)


@given(message_like())
def test_parser_never_raises_on_message_like_objects(obj: dict[str, object]) -> None:
    try:
        data = orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return
    assert_parses_safely(data)


finite = st.floats(allow_nan=False, allow_infinity=False)
fixes = st.builds(
    PositionFix,
    lat=finite,
    lng=finite,
    accuracy_m=finite,
    time_ms=st.integers(0, MAX_TIME_MS),
    speed_kmh=st.none() | finite,
    heading_deg=st.none() | finite,
    mock=st.booleans(),
)
printable = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S"], include_characters=" "),
    min_size=1,
)
messages = st.one_of(
    st.builds(AuthMessage, token=printable.filter(lambda s: len(s) <= 512)),
    st.builds(
        HelloMessage,
        app_version=printable.filter(lambda s: len(s) <= 64),
        device_id=printable.filter(lambda s: len(s) <= 128),
    ),
    st.builds(
        PositionMessage,
        fixes=st.lists(fixes, min_size=1, max_size=5).map(tuple),
        seq=st.none() | st.integers(0, MAX_SEQ),
    ),
)


@given(messages)
def test_every_valid_message_round_trips(message: ClientMessage) -> None:
    assert parse_client_frame(orjson.dumps(message.to_json())) == message


fix_like = st.dictionaries(field_names, json_scalars, max_size=8) | st.builds(fix_to_json, fixes)


@given(fix_like)
def test_the_fast_fix_reader_agrees_with_the_checked_one(obj: dict[str, object]) -> None:
    # fix_from_json tries a fast path for the usual shapes first: whatever it
    # accepts, the field-by-field reader must read the same way.
    try:
        checked: PositionFix | str = _checked_fix(obj, "")
    except MessageError as exc:
        checked = exc.field or ""
    try:
        fast: PositionFix | str = fix_from_json(obj)
    except MessageError as exc:
        fast = exc.field or ""
    assert fast == checked


# -- the registry ----------------------------------------------------------------------


def test_adding_a_message_type_is_one_class() -> None:
    @client_message
    @dataclass(frozen=True, slots=True)
    class RefuseMessage(ClientMessage):
        TYPE: ClassVar[str] = "test_refuse"
        offer_id: int

        @classmethod
        def from_json(cls, obj: JsonObject, limits: MessageLimits) -> Self:
            return cls(read_int(obj, "offer_id", low=1, high=MAX_SEQ))

    try:
        assert parse({"type": "test_refuse", "offer_id": 5}) == RefuseMessage(5)
        assert error_of({"type": "test_refuse", "offer_id": 0}).field == "offer_id"
        with pytest.raises(RealtimeError):
            client_message(RefuseMessage)
    finally:
        del CLIENT_MESSAGES["test_refuse"]
    assert error_of({"type": "test_refuse", "offer_id": 5}).code is E.UNKNOWN_TYPE
