"""The offline message gateway on real PostgreSQL: each message becomes a row whose
id is the message id; a database that cannot be reached is a DeliveryError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.errors import DeliveryError
from operations.gateways import (
    Email,
    EmailGateway,
    ManualClock,
    MessageKind,
    Sms,
    SmsGateway,
    StoredMessages,
)
from operations.gateways.messages import (
    MAX_EMAIL_ADDRESS_CHARS,
    MAX_EMAIL_HTML_CHARS,
    MAX_EMAIL_SUBJECT_CHARS,
    MAX_EMAIL_TEXT_CHARS,
    MAX_SMS_CHARS,
)
from operations.gateways.models import SentMessage
from registry.db import make_engine, make_sessionmaker
from tests.conftest import unit

Sessions = async_sessionmaker[AsyncSession]
START = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
PHONE = "+5511987654321"


async def _rows(db: Sessions) -> list[SentMessage]:
    async with db() as session:
        return list((await session.scalars(select(SentMessage).order_by(SentMessage.id))).all())


async def test_sms_and_email_are_stored_with_their_ids(db: Sessions) -> None:
    clock = ManualClock(START)
    gateway = StoredMessages(db, clock)
    sms_gateway: SmsGateway = gateway
    email_gateway: EmailGateway = gateway
    sms_id = await sms_gateway.send_sms(Sms(to=PHONE, text="Aceite: https://a.example/l/x"))
    clock.advance(timedelta(seconds=30))
    email = Email(to="Ana@Guincho.COM", subject="Novo atendimento", text="Olá", html="<p>Olá</p>")
    email_id = await email_gateway.send_email(email)

    sms_row, email_row = await _rows(db)
    assert (sms_id, email_id) == (str(sms_row.id), str(email_row.id))
    assert sms_id != email_id
    assert (sms_row.kind, sms_row.recipient, sms_row.body) == (
        MessageKind.SMS,
        PHONE,
        "Aceite: https://a.example/l/x",
    )
    assert (sms_row.subject, sms_row.html, sms_row.created_at) == (None, None, START)
    assert (email_row.kind, email_row.recipient, email_row.subject) == (
        MessageKind.EMAIL,
        "Ana@guincho.com",
        "Novo atendimento",
    )
    assert (email_row.body, email_row.html) == ("Olá", "<p>Olá</p>")
    assert email_row.created_at == START + timedelta(seconds=30)


async def test_the_longest_messages_fit_their_columns(db: Sessions) -> None:
    gateway = StoredMessages(db, ManualClock(START))
    domain = "@guincho.com.br"
    address = "a" * (MAX_EMAIL_ADDRESS_CHARS - len(domain)) + domain
    await gateway.send_sms(Sms(to="+551198765432109", text="ç" * 201))
    await gateway.send_sms(Sms(to=PHONE, text="a" * MAX_SMS_CHARS))
    await gateway.send_email(
        Email(
            to=address,
            subject="s" * MAX_EMAIL_SUBJECT_CHARS,
            text="t" * MAX_EMAIL_TEXT_CHARS,
            html="h" * MAX_EMAIL_HTML_CHARS,
        )
    )
    rows = await _rows(db)
    assert [len(row.body) for row in rows] == [201, MAX_SMS_CHARS, MAX_EMAIL_TEXT_CHARS]
    assert rows[2].recipient == address


async def test_ids_keep_counting_across_sends(db: Sessions) -> None:
    gateway = StoredMessages(db, ManualClock(START))
    ids = [await gateway.send_sms(Sms(to=PHONE, text=f"sms {n}")) for n in range(3)]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    ("kind", "subject", "html"),
    [("sms", "assunto", None), ("sms", None, "<p>"), ("email", None, None), ("fax", None, None)],
)
async def test_the_table_refuses_fields_of_the_other_kind(
    db: Sessions, kind: str, subject: str | None, html: str | None
) -> None:
    insert = text(
        "INSERT INTO sent_messages (kind, recipient, subject, body, html) "
        "VALUES (:kind, :recipient, :subject, 'corpo', :html)"
    )
    async with db() as session:
        with pytest.raises(IntegrityError):
            await session.execute(
                insert, {"kind": kind, "recipient": PHONE, "subject": subject, "html": html}
            )


async def test_an_unreachable_database_is_a_delivery_error() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    engine = make_engine(
        "postgresql://acionar@127.0.0.1:1/acionar", null_pool=True, connect_timeout_s=unit(2)
    )
    try:
        gateway = StoredMessages(make_sessionmaker(engine), ManualClock(START))
        with pytest.raises(DeliveryError) as sms_error:
            await gateway.send_sms(Sms(to=PHONE, text="oi"))
        with pytest.raises(DeliveryError) as email_error:
            await gateway.send_email(Email(to="a@b.com", subject="s", text="t"))
    finally:
        await engine.dispose()
    assert sms_error.value.channel == "sms"
    assert email_error.value.channel == "email"
    assert "indisponível" in sms_error.value.message
    assert isinstance(sms_error.value.__cause__, (SQLAlchemyError, OSError))
