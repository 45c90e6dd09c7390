"""Create the registry (Negócio) tables.

Catalogues (service, incident types, cancellation and refusal reasons), clients with
contacts, contracts, plans and partner sites, beneficiaries with plans and vehicles,
providers with price tables and client partnerships, roles and users.

Enumerated columns are VARCHAR(20) with a CHECK listing their values (frozen here:
adding a value is a new migration). Geography columns have GiST indexes;
beneficiaries' names a trigram index for accent-insensitive search.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import SchemaItem

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM = sa.String(length=20)
MONEY = sa.Numeric(precision=12, scale=2)
RATE = sa.Numeric(precision=5, scale=4)
E164 = r"^\+[1-9][0-9]{7,14}$"
DOCUMENT_MATCHES_KIND = (
    "(person_kind = 'pf' AND document ~ '^[0-9]{11}$') "
    "OR (person_kind = 'pj' AND document ~ '^[0-9]{14}$')"
)

# Tables in creation order; downgrade drops them in reverse.
TABLES = [
    "service_types",
    "incident_types",
    "cancellation_reasons",
    "refusal_reasons",
    "clients",
    "client_contacts",
    "contracts",
    "plans",
    "contract_plans",
    "plan_services",
    "partner_sites",
    "beneficiaries",
    "beneficiary_plans",
    "vehicles",
    "providers",
    "provider_services",
    "provider_partnerships",
    "roles",
    "users",
]


def _id(table: str) -> list[SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)
        for name in ("created_at", "updated_at")
    ]


def _flag(name: str, default: bool) -> sa.Column:
    return sa.Column(
        name, sa.Boolean(), server_default=sa.text(str(default).lower()), nullable=False
    )


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def _one_of(table: str, column: str, *values: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return _check(table, column, f"{column} IN ({listed})")


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> SchemaItem:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _unique(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


def _point(name: str, nullable: bool) -> sa.Column:
    kind = geoalchemy2.Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    return sa.Column(name, kind, nullable=nullable)


def _address(table: str) -> list[SchemaItem]:
    return [
        sa.Column("street", sa.String(length=160), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("complement", sa.String(length=80), nullable=True),
        sa.Column("neighbourhood", sa.String(length=80), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("cep", sa.String(length=8), nullable=True),
        _check(table, "state_uf", "state ~ '^[A-Z]{2}$'"),
        _check(table, "cep_digits", "cep ~ '^[0-9]{8}$'"),
    ]


def _index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def _gist(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], postgresql_using="gist")


def _catalogues() -> None:
    op.create_table(
        "service_types",
        *_id("service_types"),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        _flag("needs_destination", False),
        sa.Column("target", ENUM, nullable=False),
        _flag("active", True),
        *_timestamps(),
        _check("service_types", "code_slug", "code ~ '^[a-z0-9_]+$'"),
        _one_of("service_types", "target", "vehicle", "home"),
        _unique("service_types", "code"),
        _unique("service_types", "name"),
    )
    for table in ("incident_types", "cancellation_reasons", "refusal_reasons"):
        op.create_table(
            table,
            *_id(table),
            sa.Column("name", sa.String(length=120), nullable=False),
            _flag("active", True),
            *_timestamps(),
            _unique(table, "name"),
        )


def _clients() -> None:
    op.create_table(
        "clients",
        *_id("clients"),
        sa.Column("cnpj", sa.String(length=14), nullable=False),
        sa.Column("state_registration", sa.String(length=20), nullable=True),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("trade_name", sa.String(length=120), nullable=False),
        sa.Column("legal_name", sa.String(length=160), nullable=False),
        *_address("clients"),
        _flag("vip", False),
        sa.Column("operator_script", sa.Text(), nullable=True),
        sa.Column("sla_dispatch_minutes", sa.Integer(), nullable=True),
        sa.Column("sla_arrival_minutes", sa.Integer(), nullable=True),
        sa.Column("ranking_weights", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        _flag("active", True),
        *_timestamps(),
        _check("clients", "cnpj_digits", "cnpj ~ '^[0-9]{14}$'"),
        _check("clients", "sla_dispatch_positive", "sla_dispatch_minutes > 0"),
        _check("clients", "sla_arrival_positive", "sla_arrival_minutes > 0"),
        _unique("clients", "cnpj"),
    )
    op.create_table(
        "client_contacts",
        *_id("client_contacts"),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("value", sa.String(length=160), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=True),
        *_timestamps(),
        _one_of("client_contacts", "kind", "phone", "email", "skype", "whatsapp"),
        _fk("client_contacts", "client_id", "clients", ondelete="CASCADE"),
        _unique("client_contacts", "client_id", "kind", "value"),
    )
    op.create_table(
        "contracts",
        *_id("contracts"),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        *_timestamps(),
        _fk("contracts", "client_id", "clients"),
        _unique("contracts", "client_id", "code"),
    )


def _plans() -> None:
    op.create_table(
        "plans",
        *_id("plans"),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        _flag("beneficiary_pays_excess_km", False),
        _flag("count_km_all_trips", False),
        _flag("active", True),
        *_timestamps(),
        _one_of("plans", "kind", "beneficiary", "vehicle"),
        _fk("plans", "client_id", "clients"),
        _unique("plans", "client_id", "code"),
    )
    op.create_table(
        "contract_plans",
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("contract_id", "plan_id", name=op.f("pk_contract_plans")),
        _fk("contract_plans", "contract_id", "contracts", ondelete="CASCADE"),
        _fk("contract_plans", "plan_id", "plans", ondelete="CASCADE"),
    )
    _index("contract_plans", "plan_id")
    op.create_table(
        "plan_services",
        *_id("plan_services"),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("service_type_id", sa.Integer(), nullable=False),
        sa.Column("covered_value", MONEY, nullable=False),
        sa.Column("uses_per_period", sa.Integer(), nullable=True),
        sa.Column("period", ENUM, server_default="year", nullable=False),
        sa.Column("km_per_use", sa.Integer(), nullable=True),
        sa.Column("max_value", MONEY, nullable=True),
        *_timestamps(),
        _check("plan_services", "covered_value_non_negative", "covered_value >= 0"),
        _check("plan_services", "uses_per_period_positive", "uses_per_period > 0"),
        _check("plan_services", "km_per_use_non_negative", "km_per_use >= 0"),
        _check("plan_services", "max_value_non_negative", "max_value >= 0"),
        _one_of("plan_services", "period", "month", "year", "contract_term"),
        _fk("plan_services", "plan_id", "plans", ondelete="CASCADE"),
        _fk("plan_services", "service_type_id", "service_types"),
        _unique("plan_services", "plan_id", "service_type_id"),
    )
    _index("plan_services", "service_type_id")


def _partner_sites() -> None:
    op.create_table(
        "partner_sites",
        *_id("partner_sites"),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        *_address("partner_sites"),
        _point("location", nullable=True),
        *_timestamps(),
        _fk("partner_sites", "client_id", "clients", ondelete="CASCADE"),
        _unique("partner_sites", "client_id", "name"),
    )
    _gist("partner_sites", "location")


def _person(table: str) -> list[SchemaItem]:
    """Columns and checks shared by beneficiaries and providers."""
    return [
        sa.Column("person_kind", ENUM, nullable=False),
        sa.Column("document", sa.String(length=14), nullable=False),
        _one_of(table, "person_kind", "pf", "pj"),
        _check(table, "document_matches_kind", DOCUMENT_MATCHES_KIND),
        _check(table, "phone_e164", f"phone ~ '{E164}'"),
        _check(table, "whatsapp_e164", f"whatsapp ~ '{E164}'"),
    ]


def _beneficiaries() -> None:
    op.create_table(
        "beneficiaries",
        *_id("beneficiaries"),
        sa.Column("client_id", sa.Integer(), nullable=False),
        *_person("beneficiaries"),
        sa.Column("rg", sa.String(length=20), nullable=True),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("sex", ENUM, nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        *_address("beneficiaries"),
        _point("location", nullable=True),
        sa.Column("email", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("whatsapp", sa.String(length=16), nullable=True),
        _flag("active", True),
        *_timestamps(),
        _one_of("beneficiaries", "sex", "female", "male"),
        _fk("beneficiaries", "client_id", "clients"),
        _unique("beneficiaries", "client_id", "document"),
    )
    _index("beneficiaries", "document")
    _gist("beneficiaries", "location")
    op.create_index(
        "ix_beneficiaries_name_trgm",
        "beneficiaries",
        [sa.literal_column("immutable_unaccent(lower(name))").label("name_unaccent")],
        postgresql_using="gin",
        postgresql_ops={"name_unaccent": "gin_trgm_ops"},
    )


def _beneficiary_plans_and_vehicles() -> None:
    op.create_table(
        "beneficiary_plans",
        *_id("beneficiary_plans"),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        *_timestamps(),
        _check("beneficiary_plans", "period_ordered", "ends_on >= starts_on"),
        _fk("beneficiary_plans", "beneficiary_id", "beneficiaries", ondelete="CASCADE"),
        _fk("beneficiary_plans", "plan_id", "plans"),
        _unique("beneficiary_plans", "beneficiary_id", "plan_id", "starts_on"),
    )
    _index("beneficiary_plans", "plan_id")
    op.create_table(
        "vehicles",
        *_id("vehicles"),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=7), nullable=False),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("make", sa.String(length=40), nullable=True),
        sa.Column("model", sa.String(length=60), nullable=True),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("colour", sa.String(length=30), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("plan_starts_on", sa.Date(), nullable=True),
        sa.Column("plan_ends_on", sa.Date(), nullable=True),
        _flag("active", True),
        *_timestamps(),
        _check("vehicles", "plate_format", "plate ~ '^[A-Z]{3}[0-9][A-Z0-9][0-9]{2}$'"),
        _check("vehicles", "vin_format", "vin ~ '^[A-HJ-NPR-Z0-9]{17}$'"),
        _check("vehicles", "year_range", "year BETWEEN 1900 AND 2100"),
        _check("vehicles", "plan_period_ordered", "plan_ends_on >= plan_starts_on"),
        _fk("vehicles", "beneficiary_id", "beneficiaries", ondelete="CASCADE"),
        _fk("vehicles", "plan_id", "plans"),
        _unique("vehicles", "plate"),
    )
    _index("vehicles", "beneficiary_id")
    _index("vehicles", "plan_id")


def _providers() -> None:
    op.create_table(
        "providers",
        *_id("providers"),
        *_person("providers"),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("trade_name", sa.String(length=160), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("whatsapp", sa.String(length=16), nullable=True),
        sa.Column("email", sa.String(length=160), nullable=True),
        *_address("providers"),
        _point("base_location", nullable=False),
        sa.Column("base_h3", sa.BigInteger(), nullable=False),
        sa.Column("working_radius_km", sa.Integer(), server_default=sa.text("30"), nullable=False),
        sa.Column("preference", sa.SmallInteger(), server_default=sa.text("3"), nullable=False),
        sa.Column("status", ENUM, server_default="active", nullable=False),
        sa.Column(
            "channels", postgresql.ARRAY(ENUM), server_default=sa.text("'{app}'"), nullable=False
        ),
        sa.Column("on_time_rate", RATE, nullable=True),
        sa.Column("acceptance_rate", RATE, nullable=True),
        sa.Column(
            "cities_served",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        *_timestamps(),
        _one_of("providers", "status", "active", "blocked"),
        _check("providers", "working_radius_positive", "working_radius_km > 0"),
        _check("providers", "preference_range", "preference BETWEEN 0 AND 5"),
        _check(
            "providers",
            "channels_known",
            "channels <@ ARRAY['app', 'web', 'link', 'verbal']::varchar[]",
        ),
        _check("providers", "on_time_rate_range", "on_time_rate BETWEEN 0 AND 1"),
        _check("providers", "acceptance_rate_range", "acceptance_rate BETWEEN 0 AND 1"),
        _unique("providers", "document"),
    )
    _gist("providers", "base_location")
    _index("providers", "base_h3")


def _provider_links() -> None:
    op.create_table(
        "provider_services",
        *_id("provider_services"),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("service_type_id", sa.Integer(), nullable=False),
        sa.Column("departure_fee", MONEY, nullable=False),
        sa.Column("included_km", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("price_per_km", MONEY, nullable=False),
        sa.Column("hourly_rate", MONEY, nullable=True),
        sa.Column(
            "night_holiday_surcharge_pct",
            sa.Numeric(precision=5, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        *_timestamps(),
        _check("provider_services", "departure_fee_non_negative", "departure_fee >= 0"),
        _check("provider_services", "included_km_non_negative", "included_km >= 0"),
        _check("provider_services", "price_per_km_non_negative", "price_per_km >= 0"),
        _check("provider_services", "hourly_rate_non_negative", "hourly_rate >= 0"),
        _check(
            "provider_services",
            "surcharge_pct_range",
            "night_holiday_surcharge_pct BETWEEN 0 AND 100",
        ),
        _fk("provider_services", "provider_id", "providers", ondelete="CASCADE"),
        _fk("provider_services", "service_type_id", "service_types"),
        _unique("provider_services", "provider_id", "service_type_id"),
    )
    _index("provider_services", "service_type_id")
    op.create_table(
        "provider_partnerships",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("provider_id", "client_id", name=op.f("pk_provider_partnerships")),
        _fk("provider_partnerships", "provider_id", "providers", ondelete="CASCADE"),
        _fk("provider_partnerships", "client_id", "clients", ondelete="CASCADE"),
    )
    _index("provider_partnerships", "client_id")


def _access() -> None:
    op.create_table(
        "roles",
        *_id("roles"),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column(
            "permissions",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        *_timestamps(),
        _unique("roles", "name"),
    )
    op.create_table(
        "users",
        *_id("users"),
        sa.Column("login", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=160), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("kind", ENUM, server_default="staff", nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        _flag("active", True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        _one_of("users", "kind", "staff", "client", "provider"),
        _check(
            "users",
            "kind_scope",
            "(kind = 'staff' AND client_id IS NULL AND provider_id IS NULL) "
            "OR (kind = 'client' AND client_id IS NOT NULL AND provider_id IS NULL) "
            "OR (kind = 'provider' AND provider_id IS NOT NULL AND client_id IS NULL)",
        ),
        _check("users", "login_not_empty", "login <> ''"),
        _fk("users", "role_id", "roles"),
        _fk("users", "client_id", "clients"),
        _fk("users", "provider_id", "providers"),
    )
    op.create_index(
        "ix_users_login_lower", "users", [sa.literal_column("lower(login)")], unique=True
    )
    for column in ("role_id", "client_id", "provider_id"):
        _index("users", column)


def upgrade() -> None:
    _catalogues()
    _clients()
    _plans()
    _partner_sites()
    _beneficiaries()
    _beneficiary_plans_and_vehicles()
    _providers()
    _provider_links()
    _access()


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
