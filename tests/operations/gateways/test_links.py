"""Signed links: a round trip works; expiry follows the injected clock; tampering,
another key, another purpose and any text that is not our token are refused."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from operations.errors import ExpiredLinkError, InvalidInputError, InvalidLinkError
from operations.gateways import ItsdangerousLinkSigner, LinkPurpose, LinkSigner, ManualClock
from operations.gateways.links import (
    MAX_LINK_LIFETIME,
    MAX_SUBJECT_ID,
    MAX_TOKEN_CHARS,
    MIN_SECRET_KEY_BYTES,
    SALT_PREFIX,
)

START = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
KEY = "k" * MIN_SECRET_KEY_BYTES
OTHER_KEY = "o" * MIN_SECRET_KEY_BYTES
URL_SAFE = re.compile(r"[A-Za-z0-9_\-.]+")
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def _signer(key: str | bytes = KEY, start: datetime = START) -> tuple[LinkSigner, ManualClock]:
    clock = ManualClock(start)
    return ItsdangerousLinkSigner(key, clock), clock


SIGNER, _ = _signer()
TOKEN = SIGNER.sign(LinkPurpose.OFFER, 42, START + timedelta(minutes=5))


def _verify_fails_cleanly(signer: LinkSigner, token: str) -> None:
    with pytest.raises(InvalidLinkError) as caught:
        signer.verify(token, LinkPurpose.OFFER)
    assert caught.value.message == "Link inválido."


# --- round trip and expiry -----------------------------------------------------------


@pytest.mark.parametrize("purpose", list(LinkPurpose))
@pytest.mark.parametrize("subject_id", [1, 42, 2**31 - 1, MAX_SUBJECT_ID])
def test_round_trip(purpose: LinkPurpose, subject_id: int) -> None:
    signer, _ = _signer()
    expires_at = START + MAX_LINK_LIFETIME
    token = signer.sign(purpose, subject_id, expires_at)
    assert URL_SAFE.fullmatch(token)
    assert len(token) <= MAX_TOKEN_CHARS
    link = signer.verify(token, purpose)
    assert (link.purpose, link.subject_id, link.expires_at) == (purpose, subject_id, expires_at)


def test_expiry_is_whole_seconds_rounded_down_and_in_utc() -> None:
    signer, _ = _signer()
    sao_paulo = timezone(timedelta(hours=-3))
    asked = datetime(2026, 12, 7, 12, 1, 30, 999_999, tzinfo=sao_paulo)
    link = signer.verify(signer.sign(LinkPurpose.TRACKING, 7, asked), LinkPurpose.TRACKING)
    assert link.expires_at == datetime(2026, 12, 7, 15, 1, 30, tzinfo=UTC)
    assert link.expires_at.tzinfo is UTC


def test_a_link_expires_when_the_clock_reaches_its_expiry() -> None:
    signer, clock = _signer()
    token = signer.sign(LinkPurpose.OFFER, 42, START + timedelta(seconds=90))
    clock.advance(timedelta(seconds=89, microseconds=999_999))
    assert signer.verify(token, LinkPurpose.OFFER).subject_id == 42
    clock.advance(timedelta(microseconds=1))
    with pytest.raises(ExpiredLinkError) as caught:
        signer.verify(token, LinkPurpose.OFFER)
    assert caught.value.message == "Este link expirou."
    clock.advance(timedelta(days=365))
    with pytest.raises(ExpiredLinkError):
        signer.verify(token, LinkPurpose.OFFER)


def test_a_tampered_expired_link_is_invalid_not_expired() -> None:
    signer, clock = _signer()
    token = signer.sign(LinkPurpose.OFFER, 42, START + timedelta(seconds=90))
    clock.advance(timedelta(hours=1))
    _verify_fails_cleanly(signer, token[:-1] + ("A" if token[-1] != "A" else "B"))


# --- what sign refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    "expires_at",
    [
        START,  # not in the future
        START - timedelta(seconds=1),
        START + timedelta(microseconds=999_999),  # rounds down to now
        START + MAX_LINK_LIFETIME + timedelta(seconds=1),
        datetime(2026, 12, 7, 16, 0),  # naive
    ],
)
def test_sign_refuses_a_bad_expiry(expires_at: datetime) -> None:
    signer, _ = _signer()
    with pytest.raises(InvalidInputError) as caught:
        signer.sign(LinkPurpose.OFFER, 42, expires_at)
    assert caught.value.field == "expires_at"


@pytest.mark.parametrize("subject_id", [0, -1, MAX_SUBJECT_ID + 1, True])
def test_sign_refuses_a_bad_subject(subject_id: int) -> None:
    signer, _ = _signer()
    with pytest.raises(InvalidInputError) as caught:
        signer.sign(LinkPurpose.OFFER, subject_id, START + timedelta(minutes=1))
    assert caught.value.field == "subject_id"


@pytest.mark.parametrize(
    "key", ["", b"", "k" * (MIN_SECRET_KEY_BYTES - 1), b"k" * (MIN_SECRET_KEY_BYTES - 1)]
)
def test_a_short_secret_key_is_refused(key: str | bytes) -> None:
    with pytest.raises(InvalidInputError) as caught:
        ItsdangerousLinkSigner(key, ManualClock(START))
    assert caught.value.field == "secret_key"


def test_a_secret_key_counts_utf8_bytes_and_may_be_bytes() -> None:
    # 16 "ç" are 32 UTF-8 bytes: long enough.
    for key in ("ç" * (MIN_SECRET_KEY_BYTES // 2), b"\x00" * MIN_SECRET_KEY_BYTES):
        signer, _ = _signer(key)
        token = signer.sign(LinkPurpose.OFFER, 1, START + timedelta(minutes=1))
        assert signer.verify(token, LinkPurpose.OFFER).subject_id == 1


# --- what verify refuses ---------------------------------------------------------------


def test_every_one_character_change_is_refused() -> None:
    for position, original in enumerate(TOKEN):
        for replacement in TOKEN_ALPHABET:
            if replacement != original:
                tampered = TOKEN[:position] + replacement + TOKEN[position + 1 :]
                _verify_fails_cleanly(SIGNER, tampered)


def test_a_truncated_or_extended_token_is_refused() -> None:
    for end in range(len(TOKEN)):
        _verify_fails_cleanly(SIGNER, TOKEN[:end])
    for extra in ("A", "=", ".", "==", " ", "\n"):
        _verify_fails_cleanly(SIGNER, TOKEN + extra)


def test_another_purpose_is_refused() -> None:
    assert SIGNER.verify(TOKEN, LinkPurpose.OFFER).subject_id == 42
    with pytest.raises(InvalidLinkError):
        SIGNER.verify(TOKEN, LinkPurpose.TRACKING)


def test_another_key_is_refused_both_ways() -> None:
    other, _ = _signer(OTHER_KEY)
    _verify_fails_cleanly(other, TOKEN)
    foreign = other.sign(LinkPurpose.OFFER, 42, START + timedelta(minutes=5))
    _verify_fails_cleanly(SIGNER, foreign)


def test_bound_ids_are_signed_and_cannot_be_changed() -> None:
    token = SIGNER.sign(LinkPurpose.OFFER, 42, START + timedelta(minutes=5), (7, 3))
    link = SIGNER.verify(token, LinkPurpose.OFFER)
    assert (link.subject_id, link.bound) == (42, (7, 3))
    other = SIGNER.sign(LinkPurpose.OFFER, 42, START + timedelta(minutes=5), (7, 4))
    assert other != token
    with pytest.raises(InvalidInputError):
        SIGNER.sign(LinkPurpose.OFFER, 42, START + timedelta(minutes=5), (1, 2, 3, 4, 5))


def test_a_payload_our_key_signed_in_another_shape_is_refused() -> None:
    def forged(payload: object) -> str:
        serializer = URLSafeSerializer(
            KEY,
            salt=SALT_PREFIX + LinkPurpose.OFFER,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        return serializer.dumps(payload)

    expiry = int((START + timedelta(minutes=5)).timestamp())
    assert SIGNER.verify(forged([42, expiry]), LinkPurpose.OFFER).subject_id == 42
    assert SIGNER.verify(forged([42, expiry, 7, 3]), LinkPurpose.OFFER).bound == (7, 3)
    for payload in (
        {"id": 42},
        [42],
        [42, expiry, 1, 2, 3, 4, 5],  # more bound ids than any link has
        [42, expiry, -1],
        [42, expiry, "7"],
        ["42", expiry],
        [True, expiry],
        [0, expiry],
        [42, float(expiry)],
        [42, 10**18],  # past what datetime can hold
        None,
    ):
        _verify_fails_cleanly(SIGNER, forged(payload))


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c",
        "." + TOKEN,
        ".eJwzNDJQ.abc",  # the compressed-payload marker with a garbage body
        "ação.ção",
        "😀" * 10,
        "\x00" * 10,
        "A" * MAX_TOKEN_CHARS,
        TOKEN + "A" * (MAX_TOKEN_CHARS - len(TOKEN) + 1),
        "A" * 10_000_000,
    ],
    ids=lambda t: repr(t[:20]) + f"…({len(t)})",
)
def test_garbage_is_refused(token: str) -> None:
    _verify_fails_cleanly(SIGNER, token)


@given(st.text())
def test_verify_refuses_arbitrary_text(token: str) -> None:
    _verify_fails_cleanly(SIGNER, token)


@given(st.text(alphabet=TOKEN_ALPHABET, max_size=MAX_TOKEN_CHARS))
def test_verify_refuses_arbitrary_token_shaped_text(token: str) -> None:
    _verify_fails_cleanly(SIGNER, token)


@given(
    st.integers(min_value=0, max_value=len(TOKEN)),
    st.integers(min_value=0, max_value=3),
    st.text(alphabet=TOKEN_ALPHABET, max_size=3),
)
def test_any_splice_into_a_genuine_token_is_refused(start: int, cut: int, insert: str) -> None:
    spliced = TOKEN[:start] + insert + TOKEN[start + cut :]
    if spliced == TOKEN:
        assert SIGNER.verify(spliced, LinkPurpose.OFFER).subject_id == 42
    else:
        _verify_fails_cleanly(SIGNER, spliced)
