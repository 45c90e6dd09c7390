"""The real gateway adapters: SMTP against a real local SMTP server (aiosmtpd), the
HTTP SMS adapter's request and answers, and what a failing gateway does to a link
offer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email import message_from_bytes

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from operations.errors import DeliveryError, InvalidInputError
from operations.gateways import Email, Sms
from operations.gateways.http_sms import HttpSms, HttpSmsConfig
from operations.gateways.smtp import SmtpConfig, SmtpEmail, SmtpSecurity


class Sink:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


async def test_smtp_sends_text_and_html(smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    gateway = SmtpEmail(
        SmtpConfig("127.0.0.1", port, "acionar@example.com", SmtpSecurity.NONE, timeout_s=5)
    )
    message_id = await gateway.send_email(
        Email("Guincho@Example.COM", "Oferta de reboque", "Responda: http://x/l/o/abc", "<p>oi</p>")
    )
    [envelope] = sink.received
    assert envelope.rcpt_tos == ["Guincho@example.com"]
    assert envelope.content is not None
    mail = message_from_bytes(envelope.content if isinstance(envelope.content, bytes) else b"")
    assert mail["Subject"] == "Oferta de reboque" and mail["Message-ID"] == message_id
    assert mail.is_multipart()


async def test_smtp_down_is_a_delivery_error() -> None:
    gateway = SmtpEmail(
        SmtpConfig("127.0.0.1", _free_port(), "a@example.com", SmtpSecurity.NONE, timeout_s=2)
    )
    with pytest.raises(DeliveryError) as caught:
        await gateway.send_email(Email("b@example.com", "Assunto", "Texto"))
    assert caught.value.channel == "email"


TEMPLATE = '{"from": "Acionar", "to": "{to_digits}", "contents": [{"text": "{text}"}]}'


def _sms(handler: httpx.MockTransport, **config: object) -> HttpSms:
    settings: dict[str, object] = {
        "url": "https://sms.example.com/v1/send",
        "body_template": TEMPLATE,
        "auth_header": "X-API-TOKEN: s3cr3t",
        "id_field": "messages.0.id",
    }
    settings.update(config)
    return HttpSms(HttpSmsConfig(**settings), httpx.AsyncClient(transport=handler))  # type: ignore[arg-type]


async def test_http_sms_fills_the_template_and_reads_the_id() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"messages": [{"id": "zv-991"}]})

    gateway = _sms(httpx.MockTransport(answer))
    text = 'Reboque a 3,4 km: "urgente" http://x/l/o/abc'
    assert await gateway.send_sms(Sms("+5511912345678", text)) == "zv-991"
    [request] = seen
    assert request.headers["X-API-TOKEN"] == "s3cr3t"
    body = json.loads(request.content)
    assert body == {"from": "Acionar", "to": "5511912345678", "contents": [{"text": text}]}
    await gateway.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(503, text="busy"),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused", request=r)),
    ],
)
async def test_http_sms_failures_are_delivery_errors(answer: object) -> None:
    gateway = _sms(httpx.MockTransport(answer))  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as caught:
        await gateway.send_sms(Sms("+5511912345678", "oi"))
    assert caught.value.channel == "sms"
    await gateway.aclose()


def test_a_template_without_the_text_or_not_json_is_refused() -> None:
    for template in ('{"to": "{to}"}', "not json {text}", '["{text}"]'):
        with pytest.raises(InvalidInputError):
            HttpSms(HttpSmsConfig("https://x", template))
