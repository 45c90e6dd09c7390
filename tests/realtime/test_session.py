from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.actions import (
    AcceptFixes,
    Action,
    CheckToken,
    Close,
    CountRejections,
    ProviderOffline,
    ProviderOnline,
    RecordHello,
    Resume,
    Send,
)
from realtime.errors import ConfigError, InvalidTransition
from realtime.filter import RejectReason
from realtime.protocol import (
    CLIENT_MESSAGES,
    MAX_CLOSE_REASON_BYTES,
    AckMessage,
    CloseCode,
    ErrorCode,
    ErrorMessage,
    Handshake,
    WelcomeMessage,
)
from realtime.session import ConnectionConfig, ConnectionState, ProviderConnection
from tests.realtime.support import NOW_MS, NOW_S, fix, frame, wire_fix

S = ConnectionState
T0 = 1000.0  # monotonic clock at accept
CONFIG = ConnectionConfig()
PROVIDER = 42


def connect(token: str | None = None, config: ConnectionConfig = CONFIG) -> ProviderConnection:
    conn = ProviderConnection(config)
    actions = conn.start(Handshake("acionar.v1", token), T0)
    assert actions == ([] if token is None else [CheckToken(token)])
    return conn


def authenticated(config: ConnectionConfig = CONFIG, **kwargs: object) -> ProviderConnection:
    conn = connect("tok", config)
    conn.token_checked(PROVIDER, T0 + 0.1, NOW_S, **kwargs)  # type: ignore[arg-type]
    return conn


def sent(actions: list[Action]) -> list[object]:
    return [a.message for a in actions if isinstance(a, Send)]


def only_error(actions: list[Action]) -> ErrorMessage:
    assert len(actions) == 1 and isinstance(actions[0], Send), actions
    message = actions[0].message
    assert isinstance(message, ErrorMessage)
    return message


def closed_with(conn: ProviderConnection, actions: list[Action], code: CloseCode) -> None:
    assert isinstance(actions[-1], Close) and actions[-1].code is code, actions
    assert len(actions[-1].reason.encode()) <= MAX_CLOSE_REASON_BYTES
    assert not any(isinstance(a, Close) for a in actions[:-1])
    assert conn.state is S.CLOSED and conn.close_code is code


def pos(seq: int | None = None, *fixes: dict[str, object]) -> bytes:
    body: dict[str, object] = {"type": "pos", "fixes": list(fixes) or [wire_fix()]}
    if seq is not None:
        body["seq"] = seq
    return frame(body)


# -- authentication ----------------------------------------------------------------


def test_handshake_token_then_welcome() -> None:
    conn = connect("tok")
    assert conn.state is S.AUTHENTICATING
    actions = conn.token_checked(PROVIDER, T0 + 0.2, NOW_S)
    assert actions[0] == ProviderOnline(PROVIDER)
    [welcome] = sent(actions)
    assert isinstance(welcome, WelcomeMessage)
    assert welcome.provider_id == PROVIDER
    assert welcome.server_time_ms == NOW_MS
    assert welcome.position_interval_s == CONFIG.position_interval_s
    assert welcome.config == CONFIG.session_limits()
    assert actions[2:] == [Resume(PROVIDER)]  # after welcome: its offers and jobs again
    assert (conn.state, conn.provider_id) == (S.AUTHENTICATED, PROVIDER)


def test_auth_message_then_welcome() -> None:
    conn = connect()
    assert conn.receive_frame(frame({"type": "auth", "token": "t0k"}), T0 + 1, NOW_S) == [
        CheckToken("t0k")
    ]
    assert isinstance(sent(conn.token_checked(7, T0 + 1.5, NOW_S))[0], WelcomeMessage)


def test_bad_token_closes_4001_and_nothing_else() -> None:
    conn = connect("bad")
    actions = conn.token_checked(None, T0 + 0.1, NOW_S)
    assert actions == [Close(CloseCode.AUTH_FAILED, "authentication failed")]
    closed_with(conn, actions, CloseCode.AUTH_FAILED)


def test_overlong_handshake_token_fails_unchecked() -> None:
    conn = ProviderConnection()
    actions = conn.start(Handshake("acionar.v1", "x" * 513), T0)
    closed_with(conn, actions, CloseCode.AUTH_FAILED)
    assert len(actions) == 1


def test_client_without_our_subprotocol_closes_4000() -> None:
    conn = ProviderConnection()
    closed_with(conn, conn.start(Handshake(None, "tok"), T0), CloseCode.UNSUPPORTED_PROTOCOL)


def test_messages_before_auth_get_an_error_and_the_connection_lives() -> None:
    conn = connect()
    error = only_error(conn.receive_frame(pos(5), T0 + 1, NOW_S))
    assert (error.code, error.seq) == (ErrorCode.NOT_AUTHENTICATED, 5)
    hello = frame({"type": "hello", "app_version": "1", "device_id": "d"})
    assert only_error(conn.receive_frame(hello, T0 + 1, NOW_S)).code is ErrorCode.NOT_AUTHENTICATED
    assert conn.state is S.AWAITING_AUTH
    assert conn.receive_frame(frame({"type": "auth", "token": "t"}), T0 + 2, NOW_S) == [
        CheckToken("t")
    ]


def test_messages_while_the_token_is_checked() -> None:
    conn = connect("tok")
    auth = frame({"type": "auth", "token": "again"})
    assert only_error(conn.receive_frame(auth, T0 + 1, NOW_S)).code is ErrorCode.AUTH_IN_PROGRESS
    assert only_error(conn.receive_frame(pos(), T0 + 1, NOW_S)).code is ErrorCode.NOT_AUTHENTICATED
    assert conn.state is S.AUTHENTICATING


def test_auth_after_authentication() -> None:
    conn = authenticated()
    error = only_error(conn.receive_frame(frame({"type": "auth", "token": "t"}), T0 + 1, NOW_S))
    assert error.code is ErrorCode.ALREADY_AUTHENTICATED
    assert conn.state is S.AUTHENTICATED


def test_invalid_auth_message_is_an_error_not_a_close() -> None:
    conn = connect()
    error = only_error(conn.receive_frame(frame({"type": "auth"}), T0 + 1, NOW_S))
    assert (error.code, error.field) == (ErrorCode.INVALID_FIELD, "token")
    assert conn.state is S.AWAITING_AUTH


@pytest.mark.parametrize("token", [None, "tok"])
def test_auth_deadline_closes_4002(token: str | None) -> None:
    conn = connect(token)
    assert conn.next_deadline() == T0 + CONFIG.auth_deadline_s
    assert conn.tick(T0 + CONFIG.auth_deadline_s - 0.01) == []
    actions = conn.tick(T0 + CONFIG.auth_deadline_s)
    assert len(actions) == 1
    closed_with(conn, actions, CloseCode.AUTH_TIMEOUT)
    assert conn.next_deadline() == math.inf


def test_a_token_check_that_returns_after_the_deadline_closes_4002() -> None:
    conn = connect("tok")
    actions = conn.token_checked(PROVIDER, T0 + CONFIG.auth_deadline_s + 1, NOW_S)
    closed_with(conn, actions, CloseCode.AUTH_TIMEOUT)
    assert not any(isinstance(a, ProviderOnline) for a in actions)


def test_frames_do_not_extend_the_auth_deadline() -> None:
    conn = connect()
    conn.receive_frame(b"{}", T0 + 4, NOW_S)
    closed_with(conn, conn.tick(T0 + 5), CloseCode.AUTH_TIMEOUT)


# -- frames ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{", ErrorCode.MALFORMED_JSON),
        (b"[1]", ErrorCode.NOT_AN_OBJECT),
        (b'{"type":"warp"}', ErrorCode.UNKNOWN_TYPE),
        (b'{"type":"pos","lat":"x"}', ErrorCode.INVALID_FIELD),
    ],
)
def test_bad_frames_get_an_error_and_the_connection_lives(data: bytes, code: ErrorCode) -> None:
    conn = authenticated()
    assert only_error(conn.receive_frame(data, T0 + 1, NOW_S)).code is code
    assert conn.state is S.AUTHENTICATED


def test_oversized_frame_closes_1009() -> None:
    small = ConnectionConfig(max_frame_bytes=100)
    conn = connect(config=small)
    closed_with(conn, conn.receive_frame(b" " * 101, T0 + 1, NOW_S), CloseCode.MESSAGE_TOO_BIG)


def test_oversized_text_is_measured_in_utf8_bytes() -> None:
    conn = authenticated(ConnectionConfig(max_frame_bytes=100))
    assert only_error(conn.receive_frame("ã" * 50, T0 + 1, NOW_S)).code is ErrorCode.MALFORMED_JSON
    actions = conn.receive_frame("ã" * 51, T0 + 1, NOW_S)  # 51 characters, 102 bytes
    assert actions[0] == ProviderOffline(PROVIDER)
    closed_with(conn, actions, CloseCode.MESSAGE_TOO_BIG)


def test_flood_gets_rate_limited_errors_then_4008() -> None:
    conn = authenticated()
    replies = [conn.receive_frame(b"{}", T0 + 1, NOW_S) for _ in range(CONFIG.rate_limit_burst)]
    assert all(only_error(r).code is ErrorCode.INVALID_FIELD for r in replies)
    for _ in range(CONFIG.flood_close_after - 1):
        error = only_error(conn.receive_frame(pos(3), T0 + 1, NOW_S))
        assert error.code is ErrorCode.RATE_LIMITED
    actions = conn.receive_frame(b"{}", T0 + 1, NOW_S)
    assert actions[0] == ProviderOffline(PROVIDER)
    closed_with(conn, actions, CloseCode.RATE_LIMITED)


def test_a_pause_resets_the_flood_count() -> None:
    conn = authenticated()
    for _ in range(CONFIG.rate_limit_burst + CONFIG.flood_close_after - 1):
        conn.receive_frame(b"{}", T0 + 1, NOW_S)
    after_pause = T0 + 1 + 1 / CONFIG.rate_limit_per_s
    assert only_error(conn.receive_frame(b"{}", after_pause, NOW_S)).code is ErrorCode.INVALID_FIELD
    for _ in range(CONFIG.flood_close_after - 1):
        conn.receive_frame(b"{}", after_pause, NOW_S)
    assert conn.state is S.AUTHENTICATED


def test_sending_at_the_allowed_rate_is_never_limited() -> None:
    conn = authenticated()
    for i in range(500):
        now = T0 + 1 + i / CONFIG.rate_limit_per_s
        assert only_error(conn.receive_frame(b"{}", now, NOW_S)).code is ErrorCode.INVALID_FIELD


# -- positions and hello ----------------------------------------------------------


def test_hello_is_recorded() -> None:
    conn = authenticated()
    hello = frame({"type": "hello", "app_version": "2.0.1", "device_id": "abc"})
    assert conn.receive_frame(hello, T0 + 1, NOW_S) == [RecordHello(PROVIDER, "2.0.1", "abc")]


def test_position_accepted_stored_and_acked() -> None:
    conn = authenticated()
    actions = conn.receive_frame(pos(11), T0 + 1, NOW_S)
    assert actions == [
        AcceptFixes(PROVIDER, (fix(),)),
        Send(AckMessage(seq=11, accepted=1, rejected={})),
    ]
    assert conn.last_accepted == fix()


def test_batch_out_of_order_is_sorted_and_filtered() -> None:
    conn = authenticated()
    batch = [
        wire_fix(time_ms=NOW_MS - 2000),
        wire_fix(time_ms=NOW_MS - 6000),
        wire_fix(time_ms=NOW_MS - 4000, mock=True),
        wire_fix(time_ms=NOW_MS - 2000),
        wire_fix(time_ms=NOW_MS - 1000, accuracy_m=250.0),
    ]
    actions = conn.receive_frame(pos(12, *batch), T0 + 1, NOW_S)
    assert actions == [
        AcceptFixes(PROVIDER, (fix(dt_s=-6), fix(dt_s=-2))),
        CountRejections(
            PROVIDER,
            {
                RejectReason.MOCK_LOCATION: 1,
                RejectReason.DUPLICATE: 1,
                RejectReason.POOR_ACCURACY: 1,
            },
        ),
        Send(
            AckMessage(12, 2, {"mock_location": 1, "duplicate": 1, "poor_accuracy": 1}),
        ),
    ]
    ack = sent(actions)[0]
    assert isinstance(ack, AckMessage)
    assert ack.accepted + sum(ack.rejected.values()) == len(batch)


def test_a_later_message_with_older_fixes_is_out_of_order() -> None:
    conn = authenticated()
    conn.receive_frame(pos(1, wire_fix()), T0 + 1, NOW_S)
    actions = conn.receive_frame(pos(2, wire_fix(time_ms=NOW_MS - 1)), T0 + 2, NOW_S)
    assert actions == [
        CountRejections(PROVIDER, {RejectReason.OUT_OF_ORDER: 1}),
        Send(AckMessage(2, 0, {"out_of_order": 1})),
    ]
    assert conn.last_accepted == fix()


def test_the_filter_continues_from_the_stored_last_fix() -> None:
    conn = authenticated(last_fix=fix(dt_s=-1))
    assert conn.last_accepted == fix(dt_s=-1)
    actions = conn.receive_frame(pos(None, wire_fix(time_ms=NOW_MS - 2000)), T0 + 1, NOW_S)
    assert sent(actions) == [AckMessage(None, 0, {"out_of_order": 1})]


def test_batch_too_large_is_an_error_and_nothing_is_stored() -> None:
    conn = authenticated(ConnectionConfig(max_batch_fixes=2))
    batch = [wire_fix(time_ms=NOW_MS - i) for i in range(3)]
    error = only_error(conn.receive_frame(pos(4, *batch), T0 + 1, NOW_S))
    assert (error.code, error.seq) == (ErrorCode.BATCH_TOO_LARGE, 4)
    assert conn.last_accepted is None


def test_every_client_message_type_has_a_handler() -> None:
    assert set(ProviderConnection()._handlers) == set(CLIENT_MESSAGES.values())


# -- idle, replacement and the other ends ------------------------------------------


def test_idle_app_is_disconnected_and_marked_offline() -> None:
    conn = authenticated()
    conn.receive_frame(pos(), T0 + 10, NOW_S)
    assert conn.next_deadline() == T0 + 10 + CONFIG.idle_timeout_s
    assert conn.tick(T0 + 10 + CONFIG.idle_timeout_s - 0.01) == []
    actions = conn.tick(T0 + 10 + CONFIG.idle_timeout_s)
    assert actions[0] == ProviderOffline(PROVIDER)
    closed_with(conn, actions, CloseCode.IDLE_TIMEOUT)


def test_replaced_closes_4003_without_going_offline() -> None:
    conn = authenticated()
    actions = conn.replaced(T0 + 3)
    assert len(actions) == 1
    closed_with(conn, actions, CloseCode.REPLACED)
    assert conn.closed_at == T0 + 3


def test_token_revoked_closes_4004_and_goes_offline() -> None:
    conn = authenticated()
    actions = conn.token_revoked(T0 + 3)
    assert actions[0] == ProviderOffline(PROVIDER)
    closed_with(conn, actions, CloseCode.TOKEN_REVOKED)


def test_a_blocked_provider_is_closed_4006_and_goes_offline() -> None:
    conn = authenticated()
    actions = conn.blocked(T0 + 3)
    assert actions[0] == ProviderOffline(PROVIDER)
    closed_with(conn, actions, CloseCode.PROVIDER_BLOCKED)


@pytest.mark.parametrize("authed", [False, True])
def test_shutdown_closes_1001(authed: bool) -> None:
    conn = authenticated() if authed else connect()
    actions = conn.shutdown(T0 + 3)
    assert (ProviderOffline(PROVIDER) in actions) is authed
    closed_with(conn, actions, CloseCode.GOING_AWAY)


def test_connection_lost() -> None:
    assert authenticated().connection_lost(T0 + 3) == [ProviderOffline(PROVIDER)]
    conn = connect("tok")
    assert conn.connection_lost(T0 + 3) == []
    assert (conn.state, conn.close_code) == (S.CLOSED, None)


# -- illegal transitions ------------------------------------------------------------


def test_a_closed_connection_takes_no_events() -> None:
    conn = authenticated()
    conn.replaced(T0 + 1)
    with pytest.raises(InvalidTransition):
        conn.receive_frame(pos(), T0 + 2, NOW_S)
    with pytest.raises(InvalidTransition):
        conn.tick(T0 + 2)
    with pytest.raises(InvalidTransition):
        conn.connection_lost(T0 + 2)
    with pytest.raises(InvalidTransition):
        conn.replaced(T0 + 2)


def test_events_out_of_place_raise() -> None:
    with pytest.raises(InvalidTransition):
        ProviderConnection().receive_frame(b"{}", T0, NOW_S)
    conn = connect()
    with pytest.raises(InvalidTransition):
        conn.start(Handshake("acionar.v1"), T0)
    with pytest.raises(InvalidTransition):
        conn.token_checked(PROVIDER, T0, NOW_S)  # no CheckToken asked for
    with pytest.raises(InvalidTransition):
        conn.replaced(T0)
    with pytest.raises(InvalidTransition):
        conn.token_revoked(T0)
    with pytest.raises(InvalidTransition):
        authenticated().token_checked(PROVIDER, T0, NOW_S)
    assert conn.state is S.AWAITING_AUTH


@pytest.mark.parametrize(
    "bad",
    [{"auth_deadline_s": 0}, {"idle_timeout_s": math.inf}, {"rate_limit_burst": 0}],
)
def test_config_bounds_must_be_finite_and_positive(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ConnectionConfig(**bad)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------

frames = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.sampled_from(
        [pos(1), pos(None, wire_fix(lat=91)), b'{"type":"auth","token":"t"}', b"{}", b"[]"]
    ),
)


@given(st.lists(st.tuples(frames, st.floats(0, 2)), max_size=60), st.booleans())
def test_no_sequence_of_frames_makes_the_connection_raise(
    steps: list[tuple[bytes | str, float]], authed: bool
) -> None:
    conn = authenticated() if authed else connect()
    now = T0 + 0.2
    for data, dt in steps:
        now += dt
        if conn.closed:
            break
        actions = conn.tick(now) or conn.receive_frame(data, now, NOW_S)
        closes = [a for a in actions if isinstance(a, Close)]
        assert closes in ([], [actions[-1]])
        assert conn.closed == bool(closes)
        for action in actions:
            if isinstance(action, Send):
                assert action.text.startswith('{"type":"')
