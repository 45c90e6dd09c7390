"""Registry search: a stored search key of beneficiaries' names and its indexes.

``beneficiaries.name_search`` is the name unaccented, lower case, with every run of
other characters collapsed to one space and a leading space (so that "a word starts
with tok" is ``LIKE '% tok%'``), in the "C" collation (byte order). A btree on it
serves "the name starts with the query" as an ordered index range that stops at the
limit; a trigram GIN on it serves "some word starts with each token".

Adding a stored generated column rewrites the table: on a large registry, run it in
a maintenance window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_SEARCH_SQL = (
    "' ' || btrim(regexp_replace(lower(immutable_unaccent(name)), '[^a-z0-9]+', ' ', 'g'))"
)


def upgrade() -> None:
    op.add_column(
        "beneficiaries",
        sa.Column(
            "name_search",
            sa.Text(collation="C"),
            sa.Computed(NAME_SEARCH_SQL, persisted=True),
            nullable=False,
        ),
    )
    op.create_index(op.f("ix_beneficiaries_name_search"), "beneficiaries", ["name_search"])
    op.create_index(
        "ix_beneficiaries_name_search_trgm",
        "beneficiaries",
        ["name_search"],
        postgresql_using="gin",
        postgresql_ops={"name_search": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_name_search_trgm", table_name="beneficiaries")
    op.drop_index(op.f("ix_beneficiaries_name_search"), table_name="beneficiaries")
    op.drop_column("beneficiaries", "name_search")
