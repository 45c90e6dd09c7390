"""After the accept: a job's promised arrival (the provider's ETA), when it
arrived and how that was known (geofence, the provider's status, the operator);
the plate of the vehicle a provider sends (the requester's tracking page).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("promised_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("arrival_source", sa.String(length=20), nullable=True))
    op.add_column("providers", sa.Column("vehicle_plate", sa.String(length=7), nullable=True))


def downgrade() -> None:
    op.drop_column("providers", "vehicle_plate")
    op.drop_column("jobs", "arrival_source")
    op.drop_column("jobs", "arrived_at")
    op.drop_column("jobs", "promised_at")
