"""Registry extras: representatives, suppliers, extra items, ledger categories,
client bank accounts and responsible persons, the beneficiary's representative and
second phone, the audit log, attachments, API/device tokens and web sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "extra_items",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.CheckConstraint("price >= 0", name=op.f("ck_extra_items_price_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extra_items")),
        sa.UniqueConstraint("name", name=op.f("uq_extra_items_name")),
    )
    op.create_table(
        "ledger_categories",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "expense",
                "revenue",
                name="kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_categories")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_ledger_categories_kind_name")),
    )
    op.create_table(
        "representatives",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("document", sa.String(length=14), nullable=True),
        sa.Column("email", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("whatsapp", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
            "document ~ '^([0-9]{11}|[0-9]{14})$'", name=op.f("ck_representatives_document_digits")
        ),
        sa.CheckConstraint(
            "phone ~ '^\\+[1-9][0-9]{7,14}$'", name=op.f("ck_representatives_phone_e164")
        ),
        sa.CheckConstraint(
            "whatsapp ~ '^\\+[1-9][0-9]{7,14}$'", name=op.f("ck_representatives_whatsapp_e164")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_representatives")),
        sa.UniqueConstraint("document", name=op.f("uq_representatives_document")),
    )
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "person_kind",
            sa.Enum(
                "pf", "pj", name="person_kind", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("document", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("trade_name", sa.String(length=160), nullable=True),
        sa.Column("email", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("street", sa.String(length=160), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("complement", sa.String(length=80), nullable=True),
        sa.Column("neighbourhood", sa.String(length=80), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("cep", sa.String(length=8), nullable=True),
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
            "(person_kind = 'pf' AND document ~ '^[0-9]{11}$') OR (person_kind = 'pj' AND document ~ '^[0-9]{14}$')",
            name=op.f("ck_suppliers_document_matches_kind"),
        ),
        sa.CheckConstraint("phone ~ '^\\+[1-9][0-9]{7,14}$'", name=op.f("ck_suppliers_phone_e164")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("document", name=op.f("uq_suppliers_document")),
    )
    op.create_table(
        "client_bank_accounts",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("bank_code", sa.String(length=3), nullable=False),
        sa.Column("branch", sa.String(length=10), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column(
            "account_type",
            sa.Enum(
                "checking",
                "savings",
                name="account_type",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            server_default="checking",
            nullable=False,
        ),
        sa.Column("holder_name", sa.String(length=160), nullable=True),
        sa.Column("pix_key", sa.String(length=120), nullable=True),
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
            "bank_code ~ '^[0-9]{3}$'", name=op.f("ck_client_bank_accounts_bank_code_digits")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_bank_accounts_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_bank_accounts")),
        sa.UniqueConstraint(
            "client_id",
            "bank_code",
            "branch",
            "account",
            name=op.f("uq_client_bank_accounts_client_id_bank_code_branch_account"),
        ),
    )
    op.create_table(
        "client_responsibles",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("position", sa.String(length=80), nullable=True),
        sa.Column("email", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_responsibles_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_responsibles")),
    )
    op.create_index(
        op.f("ix_client_responsibles_client_id"), "client_responsibles", ["client_id"], unique=False
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "api", "device", name="kind", native_enum=False, create_constraint=True, length=20
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("owner_kind", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "owner_kind IN ('client', 'beneficiary', 'provider')", name=op.f("ck_attachments_owner")
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_attachments_sha256_hex")),
        sa.CheckConstraint("size >= 0", name=op.f("ck_attachments_size_non_negative")),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_attachments_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_owner", "attachments", ["owner_kind", "owner_id"], unique=False)
    op.create_index(op.f("ix_attachments_sha256"), "attachments", ["sha256"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_login", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_entity", sa.String(length=40), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "create",
                "update",
                "delete",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id", "id"], unique=False)
    op.create_index(
        "ix_audit_log_parent", "audit_log", ["parent_entity", "parent_id", "id"], unique=False
    )
    op.create_table(
        "user_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_user_sessions")),
    )
    op.create_index(
        op.f("ix_user_sessions_expires_at"), "user_sessions", ["expires_at"], unique=False
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"], unique=False)
    op.add_column(
        "beneficiaries", sa.Column("phone_secondary", sa.String(length=16), nullable=True)
    )
    op.add_column("beneficiaries", sa.Column("representative_id", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_beneficiaries_representative_id"),
        "beneficiaries",
        ["representative_id"],
        unique=False,
    )
    op.create_foreign_key(
        op.f("fk_beneficiaries_representative_id_representatives"),
        "beneficiaries",
        "representatives",
        ["representative_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_beneficiaries_phone_secondary_e164"),
        "beneficiaries",
        "phone_secondary ~ '^\\+[1-9][0-9]{7,14}$'",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_beneficiaries_phone_secondary_e164"), "beneficiaries", type_="check"
    )
    op.drop_constraint(
        op.f("fk_beneficiaries_representative_id_representatives"),
        "beneficiaries",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_beneficiaries_representative_id"), table_name="beneficiaries")
    op.drop_column("beneficiaries", "representative_id")
    op.drop_column("beneficiaries", "phone_secondary")
    op.drop_index(op.f("ix_user_sessions_user_id"), table_name="user_sessions")
    op.drop_index(op.f("ix_user_sessions_expires_at"), table_name="user_sessions")
    op.drop_table("user_sessions")
    op.drop_index("ix_audit_log_parent", table_name="audit_log")
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_attachments_sha256"), table_name="attachments")
    op.drop_index("ix_attachments_owner", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_client_responsibles_client_id"), table_name="client_responsibles")
    op.drop_table("client_responsibles")
    op.drop_table("client_bank_accounts")
    op.drop_table("suppliers")
    op.drop_table("representatives")
    op.drop_table("ledger_categories")
    op.drop_table("extra_items")
