"""The event outbox: events that may not be lost (job changes), written in the
transaction of the change and relayed to the bus by any node, numbered in the
order they were published so that panels resynchronise from the last they saw.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "outbox_events"
SEQUENCE = "outbox_events_publication_seq"


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence(SEQUENCE)))
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_outbox_events_seq")),
    )
    op.create_index(
        "ix_outbox_events_pending", TABLE, ["id"], postgresql_where=sa.text("seq IS NULL")
    )
    op.create_index(op.f("ix_outbox_events_published_at"), TABLE, ["published_at"])
    # Owned by the column: it goes with the table, and TRUNCATE ... RESTART IDENTITY
    # restarts it.
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {TABLE}.seq")


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_events_published_at"), table_name=TABLE)
    op.drop_index("ix_outbox_events_pending", table_name=TABLE)
    op.drop_table(TABLE)  # and its sequence
