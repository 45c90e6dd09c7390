"""Messages check themselves when built; SMS parts are counted as carriers count them;
the in-memory gateways keep what was sent."""

from __future__ import annotations

import pytest

from operations.errors import DeliveryError, InvalidInputError
from operations.gateways import Email, EmailGateway, MemoryMessages, Sms, SmsGateway, sms_segments
from operations.gateways.messages import (
    MAX_EMAIL_HTML_CHARS,
    MAX_EMAIL_SUBJECT_CHARS,
    MAX_EMAIL_TEXT_CHARS,
    MAX_SMS_CHARS,
    MAX_SMS_SEGMENTS,
)

PHONE = "+5511987654321"
ADDRESS = "prestador@guincho.com.br"


def _email(**fields: str | None) -> Email:
    values: dict[str, str | None] = {
        "to": ADDRESS,
        "subject": "Novo atendimento",
        "text": "Abra o link para aceitar.",
        "html": None,
    }
    values.update(fields)
    to, subject, text = values["to"], values["subject"], values["text"]
    assert to is not None and subject is not None and text is not None
    return Email(to=to, subject=subject, text=text, html=values["html"])


# --- SMS parts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("ã" * 70, 1),  # one character outside GSM-7 makes the whole SMS UCS-2
        ("ã" * 71, 2),
        ("a" * 201 + "ç", 4),  # 202 UCS-2 units, not 202 septets
        ("ã" * 201, 3),
        ("ã" * 202, 4),
        ("🚗" * 35, 1),  # astral characters take two UTF-16 units
        ("🚗" * 36, 2),
        ("Ação: é à Ç ü ñ @ £ ¥ §", 1),
    ],
)
def test_sms_segments(text: str, parts: int) -> None:
    assert sms_segments(text) == parts


def test_gsm7_characters_of_pt_br_stay_gsm7() -> None:
    # é, à, Ç and ü are in GSM-7's alphabet; 160 of them still fit one part.
    assert sms_segments("éàÇü" * 40) == 1
    assert sms_segments("éàÇüã" * 32) == 3


# --- Sms ---------------------------------------------------------------------------


def test_a_valid_sms_keeps_its_fields() -> None:
    sms = Sms(to=PHONE, text="Acionar: novo atendimento.\nAceite: https://a.example/l/x")
    assert sms.to == PHONE
    assert sms.text.startswith("Acionar")


def test_the_longest_sms_fits_its_parts() -> None:
    assert Sms(to=PHONE, text="a" * MAX_SMS_CHARS).text == "a" * MAX_SMS_CHARS
    ucs2 = "ã" * (MAX_SMS_SEGMENTS * 67)
    assert Sms(to=PHONE, text=ucs2).text == ucs2


@pytest.mark.parametrize(
    "to",
    [
        "11987654321",
        "+55 11 98765-4321",
        "(11) 98765-4321",
        "+0511987654321",
        "+5511987654321\n",
        "+551198765432109876",
        "+5511９87654321",  # a full-width digit is not a digit here
        "",
    ],
)
def test_sms_refuses_a_recipient_not_in_e164(to: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Sms(to=to, text="oi")
    assert caught.value.field == "to"
    assert "+5511987654321" in caught.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Informe"),
        ("  \n ", "Informe"),
        ("a" * (MAX_SMS_CHARS + 1), f"até {MAX_SMS_CHARS}"),
        ("ã" * (MAX_SMS_SEGMENTS * 67 + 1), "4 partes"),
        ("oi\x00", "não permitidos"),
        ("oi\x1b", "não permitidos"),
        ("oi\ud800", "não permitidos"),
    ],
)
def test_sms_refuses_a_bad_text(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        Sms(to=PHONE, text=text)
    assert caught.value.field == "text"
    assert fragment in caught.value.message


def test_messages_are_frozen() -> None:
    sms = Sms(to=PHONE, text="oi")
    with pytest.raises(AttributeError):
        sms.text = "outro"  # type: ignore[misc]


# --- Email -------------------------------------------------------------------------


def test_a_valid_email_keeps_its_fields_and_normalises_the_address() -> None:
    email = _email(to="  Ana.Souza@Guincho.COM.br ", html="<p>Olá</p>")
    assert email.to == "Ana.Souza@guincho.com.br"
    assert email.subject == "Novo atendimento"
    assert email.html == "<p>Olá</p>"
    assert _email().html is None


def test_email_bodies_may_have_tabs_and_line_breaks() -> None:
    email = _email(text="linha 1\r\n\tlinha 2", html="<p>\n</p>")
    assert "\t" in email.text


@pytest.mark.parametrize(
    "to", ["", "ana", "ana@", "ana@guincho", "a b@guincho.com", "ana@guincho.com\x00", "a" * 161]
)
def test_email_refuses_a_malformed_address(to: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _email(to=to)
    assert caught.value.field == "to"


@pytest.mark.parametrize(
    ("subject", "fragment"),
    [
        ("", "Informe"),
        ("   ", "Informe"),
        ("a" * (MAX_EMAIL_SUBJECT_CHARS + 1), f"até {MAX_EMAIL_SUBJECT_CHARS}"),
        ("Oi\r\nBcc: todos@exemplo.com", "quebras de linha"),
        ("Oi\nmais", "quebras de linha"),
        ("Oi\u2028mais", "quebras de linha"),
        ("Oi\x7f", "quebras de linha"),
    ],
)
def test_email_refuses_a_bad_subject(subject: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _email(subject=subject)
    assert caught.value.field == "subject"
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("text", "", "Informe"),
        ("text", "a" * (MAX_EMAIL_TEXT_CHARS + 1), f"até {MAX_EMAIL_TEXT_CHARS}"),
        ("text", "a\x00b", "não permitidos"),
        ("html", " ", "Informe"),
        ("html", "a" * (MAX_EMAIL_HTML_CHARS + 1), f"até {MAX_EMAIL_HTML_CHARS}"),
        ("html", "<p>\x0c</p>", "não permitidos"),
    ],
)
def test_email_refuses_a_bad_body(field: str, value: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _email(**{field: value})
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_the_longest_email_is_accepted() -> None:
    email = _email(
        subject="a" * MAX_EMAIL_SUBJECT_CHARS,
        text="a" * MAX_EMAIL_TEXT_CHARS,
        html="a" * MAX_EMAIL_HTML_CHARS,
    )
    assert len(email.html or "") == MAX_EMAIL_HTML_CHARS


# --- MemoryMessages ----------------------------------------------------------------


async def test_memory_messages_keeps_both_kinds_in_order_with_distinct_ids() -> None:
    messages = MemoryMessages()
    sms_gateway: SmsGateway = messages
    email_gateway: EmailGateway = messages
    sms = Sms(to=PHONE, text="oi")
    email = _email()
    first = await sms_gateway.send_sms(sms)
    second = await email_gateway.send_email(email)
    assert first != second
    assert messages.sent == [sms, email]
    assert messages.sms == [sms]
    assert messages.emails == [email]
    assert messages.get(first) is sms
    assert messages.get(second) is email
    assert list(messages) == [(first, sms), (second, email)]


async def test_memory_messages_drops_the_oldest_past_its_bound() -> None:
    messages = MemoryMessages(max_kept=2)
    ids = [await messages.send_sms(Sms(to=PHONE, text=f"sms {n}")) for n in range(3)]
    assert len(set(ids)) == 3
    assert [m.text for m in messages.sms] == ["sms 1", "sms 2"]
    with pytest.raises(KeyError):
        messages.get(ids[0])


def test_memory_messages_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryMessages(max_kept=0)


async def test_memory_messages_down_raises_delivery_errors_and_keeps_nothing() -> None:
    messages = MemoryMessages()
    messages.down = True
    with pytest.raises(DeliveryError) as sms_error:
        await messages.send_sms(Sms(to=PHONE, text="oi"))
    with pytest.raises(DeliveryError) as email_error:
        await messages.send_email(_email())
    assert sms_error.value.channel == "sms"
    assert email_error.value.channel == "email"
    assert "SMS" in sms_error.value.message
    assert "e-mail" in email_error.value.message
    assert messages.sent == []
    messages.down = False
    assert await messages.send_sms(Sms(to=PHONE, text="oi")) == "1"
