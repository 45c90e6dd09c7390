"""Registry search: a stored search key of beneficiaries' names and its indexes.

``beneficiaries.name_search`` is the name unaccented, lower case, a space before
each word (" joao da silva"), in the "C" collation (byte order). Two indexes serve
registry.search:

* a btree on it, covering id and client_id: "the name (or its first word) starts
  with ..." is an ordered, index-only range scan that stops at the limit;
* a GIN on ``word_prefixes(name_search)``, the first 3 to 8 characters of each word
  ({joa, joao, sil, silv, silva}): "a word starts with each token" is one exact key
  per token. A trigram index answers the same question about five times slower for
  common surnames: their trigrams ("  s", " si", "sil"...) are in most names.

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
# registry.search.MIN_NAME_TOKEN_CHARS and WORD_KEY_CHARS must agree with 3 and 8.
WORD_PREFIXES = """
    CREATE FUNCTION word_prefixes(text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
        SELECT coalesce(array_agg(DISTINCT left(word, n)), '{}')
        FROM regexp_split_to_table(btrim($1), ' +') AS word,
             generate_series(3, least(length(word), 8)) AS n
    $$
"""


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
    op.create_index(
        "ix_beneficiaries_name_search",
        "beneficiaries",
        ["name_search"],
        postgresql_include=["id", "client_id"],
    )
    op.execute(WORD_PREFIXES)
    op.create_index(
        "ix_beneficiaries_name_words",
        "beneficiaries",
        [sa.literal_column("word_prefixes(name_search)")],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_name_words", table_name="beneficiaries")
    op.execute("DROP FUNCTION word_prefixes(text)")
    op.drop_index("ix_beneficiaries_name_search", table_name="beneficiaries")
    op.drop_column("beneficiaries", "name_search")
