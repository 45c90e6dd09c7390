"""Links: the shared secret that signs them (made on first start unless
LINK_SECRET_KEY is set), every dispatch SMS and e-mail with its delivery result,
and the requesters' tracking links (revocable).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "tracking_links",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_tracking_links_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"],
            ["users.id"],
            name=op.f("fk_tracking_links_revoked_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_tracking_links")),
    )
    op.create_table(
        "dispatch_messages",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("gateway_id", sa.String(length=120), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "sent",
                "failed",
                "delivered",
                "undelivered",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_dispatch_messages_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_dispatch_messages_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_messages")),
    )
    op.create_index(
        "ix_dispatch_messages_gateway", "dispatch_messages", ["kind", "gateway_id"], unique=False
    )
    op.create_index(
        op.f("ix_dispatch_messages_job_id"), "dispatch_messages", ["job_id"], unique=False
    )
    op.create_index(
        op.f("ix_dispatch_messages_offer_id"), "dispatch_messages", ["offer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dispatch_messages_offer_id"), table_name="dispatch_messages")
    op.drop_index(op.f("ix_dispatch_messages_job_id"), table_name="dispatch_messages")
    op.drop_index("ix_dispatch_messages_gateway", table_name="dispatch_messages")
    op.drop_table("dispatch_messages")
    op.drop_table("tracking_links")
    op.drop_table("server_secrets")
