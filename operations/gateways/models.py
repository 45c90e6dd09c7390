"""The table behind :class:`operations.gateways.stored.StoredMessages`.

One table for both kinds of message, so that "what did we send to this person"
is one query and ids are one sequence (they are the gateway's message ids).
Columns are as wide as the message checks allow (see
:mod:`operations.gateways.messages`); the CHECKs keep e-mail-only fields off SMS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from operations.gateways.messages import (
    MAX_EMAIL_ADDRESS_CHARS,
    MAX_EMAIL_SUBJECT_CHARS,
    MessageKind,
)
from registry.db import Base
from registry.models.columns import IdPk, str_enum


class ServerSecret(Base):
    """A secret every node must share and no one typed in (the key that signs
    links, when ``LINK_SECRET_KEY`` is not set): made once, on first start."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SentMessage(IdPk, Base):
    """An SMS or e-mail handed to the offline gateway.

    ``recipient`` is the E.164 phone of an SMS or the address of an e-mail;
    ``subject`` and ``html`` are for e-mail only (``subject`` required there).
    """

    __tablename__ = "sent_messages"
    __table_args__ = (
        CheckConstraint("kind = 'email' OR (subject IS NULL AND html IS NULL)", name="sms_fields"),
        CheckConstraint("kind = 'sms' OR subject IS NOT NULL", name="email_subject"),
        Index("ix_sent_messages_recipient_created_at", "recipient", "created_at"),
    )

    kind: Mapped[MessageKind] = mapped_column(str_enum(MessageKind, "kind"))
    recipient: Mapped[str] = mapped_column(String(MAX_EMAIL_ADDRESS_CHARS))
    subject: Mapped[str | None] = mapped_column(String(MAX_EMAIL_SUBJECT_CHARS))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
