"""A job's timeline says who acted (operator, provider, system) apart from the
dispatch channel (app, web, verbal, link), which is now optional.

Until now one ``channel`` column held both: ``operator`` and ``system`` were
actors, the others channels of a provider. Lines move as follows: ``operator`` →
actor operator, no channel; ``system`` → actor system, no channel; ``verbal`` →
actor operator, channel verbal (the operator recorded a phone call); ``app``,
``web``, ``link`` → actor provider, the same channel. Downgrading folds them back
(an operator's line with a channel other than verbal keeps the channel).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "job_transitions"
ACTOR_CHECK = "ck_job_transitions_actor"
CHANNEL_CHECK = "ck_job_transitions_channel"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("actor", sa.String(length=20), nullable=True))
    op.drop_constraint(op.f(CHANNEL_CHECK), TABLE, type_="check")
    op.execute(
        f"""
        UPDATE {TABLE} SET
          actor = CASE
            WHEN channel IN ('operator', 'verbal') THEN 'operator'
            WHEN channel = 'system' THEN 'system'
            ELSE 'provider' END,
          channel = CASE WHEN channel IN ('operator', 'system') THEN NULL ELSE channel END
        """
    )
    op.alter_column(TABLE, "actor", nullable=False)
    op.alter_column(TABLE, "channel", nullable=True)
    op.create_check_constraint(
        op.f(ACTOR_CHECK), TABLE, "actor IN ('operator', 'provider', 'system')"
    )
    op.create_check_constraint(
        op.f(CHANNEL_CHECK), TABLE, "channel IN ('app', 'web', 'link', 'verbal')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f(CHANNEL_CHECK), TABLE, type_="check")
    op.drop_constraint(op.f(ACTOR_CHECK), TABLE, type_="check")
    op.execute(
        f"""
        UPDATE {TABLE} SET channel = COALESCE(
          CASE WHEN actor = 'operator' AND channel = 'verbal' THEN 'verbal' END,
          CASE WHEN actor = 'operator' AND channel IS NULL THEN 'operator' END,
          CASE WHEN actor = 'system' THEN 'system' END,
          channel,
          'operator')
        """
    )
    op.alter_column(TABLE, "channel", nullable=False)
    op.drop_column(TABLE, "actor")
    op.create_check_constraint(
        op.f(CHANNEL_CHECK),
        TABLE,
        "channel IN ('operator', 'app', 'web', 'link', 'verbal', 'system')",
    )
