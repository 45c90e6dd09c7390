"""Operations: incidents, jobs, their places and timeline; plans say how cancelled
jobs count against usage limits.

Enum values are written out (a migration is a snapshot: adding a value is a new
migration).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUM = sa.String(length=20)
MONEY = sa.Numeric(precision=12, scale=2)
E164 = r"^\+[1-9][0-9]{7,14}$"
JOB_STATUSES = (
    "scheduled",
    "open",
    "dispatching",
    "attempts_exceeded",
    "assigned",
    "en_route",
    "on_site",
    "in_transit",
    "completed",
    "closed",
    "cancelled",
)
JOB_KINDS = ("assistance", "inquiry", "theft")
CHANNELS = ("operator", "app", "web", "link", "verbal", "system")
CANCELLED_JOB_COUNTS = ("never", "after_dispatch", "always")

TABLES = ["incidents", "jobs", "job_places", "job_transitions", "job_track_points"]


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


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _int(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def _one_of(
    table: str, column: str, values: Sequence[str], *, nullable: bool = False
) -> SchemaItem:
    listed = ", ".join(f"'{value}'" for value in values)
    return _check(table, column, f"{column} IN ({listed})")


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> SchemaItem:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, *columns: str, name: str | None = None) -> None:
    op.create_index(name or op.f(f"ix_{table}_{columns[0]}"), table, list(columns))


def _incidents() -> None:
    t = "incidents"
    op.create_table(
        t,
        *_id(t),
        _int("client_id", nullable=False),
        _int("beneficiary_id"),
        _int("vehicle_id"),
        _int("incident_type_id", nullable=False),
        _time("opened_at", nullable=False),
        _int("handling_time_s"),
        sa.Column("notes", sa.Text(), nullable=True),
        _int("created_by"),
        *_timestamps(),
        _check(t, "handling", "handling_time_s IS NULL OR handling_time_s >= 0"),
        _fk(t, "beneficiary_id", "beneficiaries"),
        _fk(t, "client_id", "clients"),
        _fk(t, "created_by", "users", "SET NULL"),
        _fk(t, "incident_type_id", "incident_types"),
        _fk(t, "vehicle_id", "vehicles"),
    )
    for column in ("beneficiary_id", "client_id", "vehicle_id"):
        _index(t, column)


def _jobs() -> None:
    t = "jobs"
    op.create_table(
        t,
        *_id(t),
        _int("incident_id", nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        _int("service_type_id"),
        _int("plan_id"),
        _int("plan_service_id"),
        sa.Column("ad_hoc", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("chargeable", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("coverage_note", sa.Text(), nullable=True),
        sa.Column("covered_value", MONEY, nullable=True),
        _int("km_per_use"),
        sa.Column("requester_name", sa.String(length=120), nullable=False),
        sa.Column("requester_phone", sa.String(length=16), nullable=False),
        _time("requested_at", nullable=False),
        sa.Column("notes_for_provider", sa.Text(), nullable=True),
        _time("scheduled_for", nullable=True),
        _int("provider_id"),
        _int("cancellation_reason_id"),
        _time("dispatch_due_at", nullable=True),
        _time("arrival_due_at", nullable=True),
        _time("status_changed_at", nullable=False),
        _int("handling_time_s", nullable=False),
        _int("created_by"),
        *_timestamps(),
        _one_of(t, "kind", JOB_KINDS),
        _one_of(t, "status", JOB_STATUSES),
        _check(t, "assistance_service", "kind <> 'assistance' OR service_type_id IS NOT NULL"),
        _check(
            t,
            "covered_or_ad_hoc",
            "ad_hoc OR kind <> 'assistance' OR plan_service_id IS NOT NULL",
        ),
        _check(t, "requester_phone_e164", f"requester_phone ~ '{E164}'"),
        _check(
            t,
            "cancelled_has_reason",
            "status <> 'cancelled' OR cancellation_reason_id IS NOT NULL",
        ),
        _fk(t, "cancellation_reason_id", "cancellation_reasons"),
        _fk(t, "created_by", "users", "SET NULL"),
        _fk(t, "incident_id", "incidents", "CASCADE"),
        _fk(t, "plan_id", "plans"),
        _fk(t, "plan_service_id", "plan_services"),
        _fk(t, "provider_id", "providers"),
        _fk(t, "service_type_id", "service_types"),
    )
    _index(t, "incident_id")
    _index(t, "provider_id", "status", name="ix_jobs_provider_status")
    _index(t, "status", "dispatch_due_at", name="ix_jobs_status_due")


def _job_places() -> None:
    t = "job_places"
    point = geoalchemy2.Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    op.create_table(
        t,
        *_id(t),
        _int("job_id", nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=160), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("location", point, nullable=False),
        sa.Column("street", sa.String(length=160), nullable=True),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("complement", sa.String(length=80), nullable=True),
        sa.Column("neighbourhood", sa.String(length=80), nullable=True),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("cep", sa.String(length=8), nullable=True),
        _check(t, "state_uf", "state ~ '^[A-Z]{2}$'"),
        _check(t, "cep_digits", "cep ~ '^[0-9]{8}$'"),
        _check(t, "role", "role IN ('origin', 'destination')"),
        _fk(t, "job_id", "jobs", "CASCADE"),
        sa.UniqueConstraint("job_id", "role", name=op.f("uq_job_places_job_id_role")),
    )
    op.create_index("ix_job_places_location", t, ["location"], postgresql_using="gist")


def _job_transitions() -> None:
    t = "job_transitions"
    op.create_table(
        t,
        *_id(t),
        _int("job_id", nullable=False),
        sa.Column("from_status", ENUM, nullable=True),
        sa.Column("to_status", ENUM, nullable=False),
        _time("at", nullable=False),
        sa.Column("channel", ENUM, nullable=False),
        _int("actor_user_id"),
        _int("provider_id"),
        _int("cancellation_reason_id"),
        sa.Column("note", sa.Text(), nullable=True),
        _one_of(t, "from_status", JOB_STATUSES),
        _one_of(t, "to_status", JOB_STATUSES),
        _one_of(t, "channel", CHANNELS),
        _fk(t, "actor_user_id", "users", "SET NULL"),
        _fk(t, "cancellation_reason_id", "cancellation_reasons"),
        _fk(t, "job_id", "jobs", "CASCADE"),
        _fk(t, "provider_id", "providers"),
    )
    _index(t, "job_id")


def _job_track_points() -> None:
    t = "job_track_points"
    point = geoalchemy2.Geography(geometry_type="POINT", srid=4326, spatial_index=False)
    op.create_table(
        t,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        _int("job_id", nullable=False),
        _int("provider_id", nullable=False),
        _time("at", nullable=False),
        sa.Column("location", point, nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        _fk(t, "job_id", "jobs", "CASCADE"),
        _fk(t, "provider_id", "providers"),
    )
    _index(t, "job_id", "at", name="ix_job_track_points_job_id_at")


def upgrade() -> None:
    _incidents()
    _jobs()
    _job_places()
    _job_transitions()
    _job_track_points()
    op.add_column(
        "plans",
        sa.Column("cancelled_jobs_count", ENUM, server_default="after_dispatch", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_plans_cancelled_jobs_count"),
        "plans",
        "cancelled_jobs_count IN ('never', 'after_dispatch', 'always')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_plans_cancelled_jobs_count"), "plans", type_="check")
    op.drop_column("plans", "cancelled_jobs_count")
    for table in reversed(TABLES):
        op.drop_table(table)
