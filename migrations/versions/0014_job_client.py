"""A job's client, copied from its incident (which never changes client): panels
filter and group jobs by client without joining the incidents, and dispatch reads
the client's rules from the job it holds.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("client_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE jobs SET client_id = incidents.client_id FROM incidents "
        "WHERE incidents.id = jobs.incident_id"
    )
    op.alter_column("jobs", "client_id", nullable=False)
    op.create_foreign_key(
        op.f("fk_jobs_client_id_clients"), "jobs", "clients", ["client_id"], ["id"]
    )
    op.create_index(op.f("ix_jobs_client_id"), "jobs", ["client_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_client_id"), table_name="jobs")
    op.drop_constraint(op.f("fk_jobs_client_id_clients"), "jobs", type_="foreignkey")
    op.drop_column("jobs", "client_id")
