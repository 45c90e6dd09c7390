"""The offline message gateway: every SMS and e-mail is stored in PostgreSQL.

A deployment with no SMS provider or mail server yet (a developer's machine, a
demo, a test environment) still dispatches by link: the messages land in the
``sent_messages`` table, where they can be read and the links followed by hand.
The real adapters (SMTP, an HTTP SMS provider) implement the same two interfaces.

This is not the event outbox (:mod:`operations.outbox`) that relays job changes
to the bus: nothing reads these rows to send them on.

Each message is written in its own short transaction, committed before the id is
returned, so the id always names a stored row. Database and network failures
become :class:`~operations.errors.DeliveryError`, as a real gateway's would.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from operations.gateways.clock import Clock
from operations.gateways.messages import Email, MessageKind, Sms, unavailable
from operations.gateways.models import SentMessage
from registry.db import transaction


class StoredMessages:
    """Both gateways (:class:`~operations.gateways.messages.SmsGateway`,
    :class:`~operations.gateways.messages.EmailGateway`) over the ``sent_messages``
    table.

    Args:
        sessions: the session factory of the database to write to.
        clock: stamps each row's ``created_at``.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def send_sms(self, message: Sms) -> str:
        """Store ``message``.

        Returns:
            The row's id, as text.

        Raises:
            DeliveryError: the database could not be reached or refused the row
                (``channel`` ``sms``).
        """
        row = SentMessage(kind=MessageKind.SMS, recipient=message.to, body=message.text)
        return await self._store(row)

    async def send_email(self, message: Email) -> str:
        """Store ``message``.

        Returns:
            The row's id, as text.

        Raises:
            DeliveryError: the database could not be reached or refused the row
                (``channel`` ``email``).
        """
        row = SentMessage(
            kind=MessageKind.EMAIL,
            recipient=message.to,
            subject=message.subject,
            body=message.text,
            html=message.html,
        )
        return await self._store(row)

    async def _store(self, row: SentMessage) -> str:
        row.created_at = self._clock.now()
        try:
            async with transaction(self._sessions) as session:
                session.add(row)
                await session.flush()
                message_id = row.id
        except (SQLAlchemyError, OSError) as exc:
            raise unavailable(row.kind) from exc
        return str(message_id)
