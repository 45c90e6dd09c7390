"""Sent messages: the SMS and e-mails the offline message gateway stores.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "sent_messages"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=160), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_messages")),
        sa.CheckConstraint("kind IN ('sms', 'email')", name=op.f("ck_sent_messages_kind")),
        sa.CheckConstraint(
            "kind = 'email' OR (subject IS NULL AND html IS NULL)",
            name=op.f("ck_sent_messages_sms_fields"),
        ),
        sa.CheckConstraint(
            "kind = 'sms' OR subject IS NOT NULL", name=op.f("ck_sent_messages_email_subject")
        ),
    )
    op.create_index(op.f("ix_sent_messages_created_at"), TABLE, ["created_at"])
    op.create_index("ix_sent_messages_recipient_created_at", TABLE, ["recipient", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_sent_messages_recipient_created_at", table_name=TABLE)
    op.drop_index(op.f("ix_sent_messages_created_at"), table_name=TABLE)
    op.drop_table(TABLE)
