"""What one import has already met, kept in a temporary table (async).

Memory must not grow with the file, yet a later batch must know whether a
beneficiary or a plate already appeared earlier in the file: to count each record
once, and to refuse a plate given to two beneficiaries. That knowledge lives in
PostgreSQL, in a temporary table private to the session and dropped at commit.

Each record met has a ``status``: ``c`` created, ``u`` updated, ``n`` unchanged
(by this import). For a plate, ``document`` and ``line`` say where it first
appeared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TABLE = "pg_temp.acionar_import_seen"
BENEFICIARY, VEHICLE = "b", "v"
CREATED, UPDATED, UNCHANGED = "c", "u", "n"

_CREATE = f"""
CREATE TEMPORARY TABLE {TABLE} (
    kind char(1) NOT NULL,
    key varchar(14) NOT NULL,
    document varchar(14) NOT NULL,
    line integer NOT NULL,
    status char(1) NOT NULL,
    PRIMARY KEY (kind, key)
) ON COMMIT DROP
"""
# A join rather than "key = ANY(:keys)": see registry.importing.batch._keys.
_LOOKUP = text(
    f"SELECT seen.key, seen.document, seen.line"
    f" FROM unnest(CAST(:keys AS varchar[])) AS keys (key)"
    f" JOIN {TABLE} AS seen ON seen.kind = :kind AND seen.key = keys.key"
)
_RECORD = text(
    f"INSERT INTO {TABLE} (kind, key, document, line, status)"
    " SELECT :kind, * FROM unnest(CAST(:keys AS varchar[]), CAST(:documents AS varchar[]),"
    " CAST(:lines AS integer[]), CAST(:statuses AS char[]))"
    " ON CONFLICT (kind, key) DO NOTHING RETURNING key"
)
_UPGRADE = text(
    f"UPDATE {TABLE} AS seen SET status = '{UPDATED}'"
    " FROM unnest(CAST(:keys AS varchar[])) AS keys (key)"
    f" WHERE seen.kind = :kind AND seen.key = keys.key AND seen.status = '{UNCHANGED}'"
    " RETURNING seen.key"
)

Met = tuple[str, str, int, str]  # (key, document, line, status)


class Seen:
    """The temporary table of one import, on the import's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self) -> None:
        """Create the table (replacing one left by an earlier import in this transaction)."""
        await self.drop()
        await self.session.execute(text(_CREATE))

    async def drop(self) -> None:
        """Drop the table now rather than at commit."""
        await self.session.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))

    async def lookup(self, kind: str, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        """``{key: (document, line)}`` for the ``keys`` already met."""
        if not keys:
            return {}
        result = await self.session.execute(_LOOKUP, {"kind": kind, "keys": list(keys)})
        return {key: (document, line) for key, document, line in result}

    async def record(self, kind: str, met: Iterable[Met]) -> set[str]:
        """Remember records met; the keys met for the first time.

        Records already met are kept as they were.
        """
        rows = list(met)
        if not rows:
            return set()
        keys, documents, lines, statuses = (list(column) for column in zip(*rows, strict=True))
        result = await self.session.execute(
            _RECORD,
            {
                "kind": kind,
                "keys": keys,
                "documents": documents,
                "lines": lines,
                "statuses": statuses,
            },
        )
        return set(result.scalars())

    async def upgrade(self, kind: str, keys: Sequence[str]) -> int:
        """Mark met-as-unchanged ``keys`` as updated; how many were."""
        if not keys:
            return 0
        result = await self.session.execute(_UPGRADE, {"kind": kind, "keys": list(keys)})
        return len(result.all())
