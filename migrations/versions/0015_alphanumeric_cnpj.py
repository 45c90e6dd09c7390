"""The alphanumeric CNPJ (valid from July 2026): a CNPJ's first 12 characters may be
upper-case letters as well as digits (its 2 check digits stay digits), so the checks
that held CNPJs to 14 digits accept them. The columns are 14 characters wide
already. Downgrading fails while an alphanumeric CNPJ is stored.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CNPJ = "[0-9A-Z]{12}[0-9]{2}"
OLD_CNPJ = "[0-9]{14}"
PERSON_TABLES = ("beneficiaries", "providers", "suppliers")


def _matches_kind(cnpj: str) -> str:
    return (
        "(person_kind = 'pf' AND document ~ '^[0-9]{11}$') "
        f"OR (person_kind = 'pj' AND document ~ '^{cnpj}$')"
    )


def _replace(table: str, old: str, new: str, sql: str) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{old}"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{new}"), table, sql)


def upgrade() -> None:
    for table in PERSON_TABLES:
        _replace(table, "document_matches_kind", "document_matches_kind", _matches_kind(CNPJ))
    _replace("clients", "cnpj_digits", "cnpj_format", f"cnpj ~ '^{CNPJ}$'")
    _replace(
        "representatives",
        "document_digits",
        "document_format",
        f"document ~ '^([0-9]{{11}}|{CNPJ})$'",
    )


def downgrade() -> None:
    _replace(
        "representatives",
        "document_format",
        "document_digits",
        f"document ~ '^([0-9]{{11}}|{OLD_CNPJ})$'",
    )
    _replace("clients", "cnpj_format", "cnpj_digits", f"cnpj ~ '^{OLD_CNPJ}$'")
    for table in PERSON_TABLES:
        _replace(table, "document_matches_kind", "document_matches_kind", _matches_kind(OLD_CNPJ))
