"""Dispatch: offers (one provider asked to take one job over one channel) and
their history, the dispatch settings (the deployment's row and clients'
overrides), and how many jobs a provider may be on at once.

Exactly one accepted offer per job and at most one open offer per job and
provider are partial unique indexes: PostgreSQL itself holds them, whichever node
or channel answers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch_settings",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("auto_enabled", sa.Boolean(), nullable=True),
        sa.Column("radius_steps_km", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("offer_timeout_s", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=20)), nullable=True),
        sa.Column("partners_first", sa.Boolean(), nullable=True),
        sa.Column("schedule_lead_min", sa.Integer(), nullable=True),
        sa.Column("max_eta_min", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channels <@ ARRAY['app', 'web', 'link', 'verbal']::varchar[]",
            name=op.f("ck_dispatch_settings_channels_known"),
        ),
        sa.CheckConstraint(
            "batch_size BETWEEN 1 AND 20", name=op.f("ck_dispatch_settings_batch_size_range")
        ),
        sa.CheckConstraint(
            "max_attempts BETWEEN 1 AND 100", name=op.f("ck_dispatch_settings_max_attempts_range")
        ),
        sa.CheckConstraint(
            "max_eta_min BETWEEN 1 AND 1440", name=op.f("ck_dispatch_settings_max_eta_range")
        ),
        sa.CheckConstraint(
            "offer_timeout_s BETWEEN 10 AND 3600",
            name=op.f("ck_dispatch_settings_offer_timeout_range"),
        ),
        sa.CheckConstraint(
            "schedule_lead_min BETWEEN 0 AND 1440",
            name=op.f("ck_dispatch_settings_schedule_lead_range"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_dispatch_settings_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_settings")),
    )
    op.create_index(
        "uq_dispatch_settings_client",
        "dispatch_settings",
        ["client_id"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "app",
                "web",
                "link",
                "verbal",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "accepted",
                "refused",
                "expired",
                "withdrawn",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason_id", sa.Integer(), nullable=True),
        sa.Column(
            "withdraw_reason",
            sa.Enum(
                "taken",
                "cancelled",
                "assigned",
                "operator",
                "redispatch",
                name="withdraw_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("eta_minutes", sa.Integer(), nullable=True),
        sa.Column(
            "awaiting_confirmation", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status <> 'refused' OR refusal_reason_id IS NOT NULL",
            name=op.f("ck_offers_refused_has_reason"),
        ),
        sa.CheckConstraint(
            "status <> 'withdrawn' OR withdraw_reason IS NOT NULL",
            name=op.f("ck_offers_withdrawn_has_reason"),
        ),
        sa.CheckConstraint(
            "eta_minutes BETWEEN 1 AND 1440", name=op.f("ck_offers_eta_minutes_range")
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_offers_version_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_offers_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_offers_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_offers_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["refusal_reason_id"],
            ["refusal_reasons.id"],
            name=op.f("fk_offers_refusal_reason_id_refusal_reasons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    op.create_index(op.f("ix_offers_job_id"), "offers", ["job_id"], unique=False)
    op.create_index(
        "ix_offers_open_expiry",
        "offers",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.create_index("ix_offers_provider_status", "offers", ["provider_id", "status"], unique=False)
    op.create_index(
        "uq_offers_accepted_per_job",
        "offers",
        ["job_id"],
        unique=True,
        postgresql_where=sa.text("status = 'accepted'"),
    )
    op.create_index(
        "uq_offers_open_per_provider",
        "offers",
        ["job_id", "provider_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.create_table(
        "offer_transitions",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column(
            "from_status",
            sa.Enum(
                "pending",
                "delivered",
                "accepted",
                "refused",
                "expired",
                "withdrawn",
                "failed",
                name="from_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            sa.Enum(
                "pending",
                "delivered",
                "accepted",
                "refused",
                "expired",
                "withdrawn",
                "failed",
                name="to_status",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor",
            sa.Enum(
                "operator",
                "provider",
                "system",
                name="actor",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "app",
                "web",
                "link",
                "verbal",
                name="channel",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("refusal_reason_id", sa.Integer(), nullable=True),
        sa.Column(
            "withdraw_reason",
            sa.Enum(
                "taken",
                "cancelled",
                "assigned",
                "operator",
                "redispatch",
                name="withdraw_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_offer_transitions_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_offer_transitions_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["offers.id"],
            name=op.f("fk_offer_transitions_offer_id_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_offer_transitions_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["refusal_reason_id"],
            ["refusal_reasons.id"],
            name=op.f("fk_offer_transitions_refusal_reason_id_refusal_reasons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_transitions")),
    )
    op.create_index(
        op.f("ix_offer_transitions_job_id"), "offer_transitions", ["job_id"], unique=False
    )
    op.create_index(
        op.f("ix_offer_transitions_offer_id"), "offer_transitions", ["offer_id"], unique=False
    )
    op.add_column(
        "providers",
        sa.Column(
            "max_active_jobs", sa.SmallInteger(), server_default=sa.text("1"), nullable=False
        ),
    )
    op.create_check_constraint(
        op.f("ck_providers_max_active_jobs_range"), "providers", "max_active_jobs BETWEEN 1 AND 20"
    )
    # The deployment's row: manual dispatch only until an administrator turns it on.
    op.execute(
        """
        INSERT INTO dispatch_settings (client_id, auto_enabled, radius_steps_km,
          offer_timeout_s, max_attempts, batch_size, channels, partners_first,
          schedule_lead_min, max_eta_min)
        VALUES (NULL, false, '{10,20,40}', 60, 5, 1, '{app}', true, 30, NULL)
        """
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_providers_max_active_jobs_range"), "providers", type_="check")
    op.drop_column("providers", "max_active_jobs")
    op.drop_index(op.f("ix_offer_transitions_offer_id"), table_name="offer_transitions")
    op.drop_index(op.f("ix_offer_transitions_job_id"), table_name="offer_transitions")
    op.drop_table("offer_transitions")
    op.drop_index(
        "uq_offers_open_per_provider",
        table_name="offers",
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.drop_index(
        "uq_offers_accepted_per_job",
        table_name="offers",
        postgresql_where=sa.text("status = 'accepted'"),
    )
    op.drop_index("ix_offers_provider_status", table_name="offers")
    op.drop_index(
        "ix_offers_open_expiry",
        table_name="offers",
        postgresql_where=sa.text("status IN ('pending', 'delivered')"),
    )
    op.drop_index(op.f("ix_offers_job_id"), table_name="offers")
    op.drop_table("offers")
    op.drop_index(
        "uq_dispatch_settings_client",
        table_name="dispatch_settings",
        postgresql_nulls_not_distinct=True,
    )
    op.drop_table("dispatch_settings")
