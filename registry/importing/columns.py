"""The CSV columns, their pt-BR aliases, and reading the header (pure).

Header names are matched loosely: case, accents, spaces, dots, dashes and slashes
do not matter, nor do the words "de", "do", "da" (``Data de Nascimento`` is
``data_nascimento``, ``CPF/CNPJ`` is ``cpf_cnpj``). Unknown columns are ignored and
listed in the report; blank header cells (trailing separators) are ignored silently.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from registry.importing.errors import ImportFileError

DELIMITERS = (";", ",", "\t")

# English name → pt-BR aliases (already in the normalised form of _key()).
ALIASES: dict[str, tuple[str, ...]] = {
    "document": ("cpf_cnpj", "cpf", "cnpj", "documento", "cnpj_cpf"),
    "person_kind": ("tipo_pessoa", "tipo_cadastro", "tipo", "pessoa"),
    "name": ("nome", "nome_completo", "razao_social", "beneficiario", "associado"),
    "rg": ("identidade",),
    "sex": ("sexo",),
    "birth_date": ("data_nascimento", "nascimento", "dt_nascimento"),
    "email": ("e_mail",),
    "phone": ("telefone", "fone", "celular", "telefone_1"),
    "phone_secondary": ("telefone_2", "telefone_secundario", "telefone2", "fone_2"),
    "whatsapp": ("whats", "zap"),
    "street": ("logradouro", "endereco", "rua"),
    "number": ("numero", "num", "no", "n"),
    "complement": ("complemento",),
    "neighbourhood": ("bairro", "neighborhood"),
    "city": ("cidade", "municipio"),
    "state": ("uf", "estado"),
    "cep": ("zip", "postal_code"),
    "lat": ("latitude",),
    "lng": ("longitude", "lon", "long"),
    "representative_document": (
        "representante",
        "cpf_cnpj_representante",
        "documento_representante",
    ),
    "plan_codes": ("planos", "codigos_planos", "plano", "codigo_plano"),
    "plan_starts_on": ("inicio_plano", "data_contrato", "inicio_planos", "inicio_vigencia"),
    "plan_ends_on": ("fim_plano", "fim_planos", "fim_vigencia"),
    "plate": ("placa",),
    "vin": ("chassi",),
    "make": ("marca", "fabricante"),
    "model": ("modelo",),
    "year": ("ano", "ano_modelo"),
    "colour": ("cor", "color"),
    "vehicle_plan_code": ("plano_veiculo", "codigo_plano_veiculo"),
    "vehicle_plan_starts_on": ("inicio_plano_veiculo", "data_contrato_veiculo"),
    "vehicle_plan_ends_on": ("fim_plano_veiculo",),
}
REQUIRED = ("document", "name")
VEHICLE_COLUMNS = (
    "plate",
    "vin",
    "make",
    "model",
    "year",
    "colour",
    "vehicle_plan_code",
    "vehicle_plan_starts_on",
    "vehicle_plan_ends_on",
)
# A column that makes no sense without another one: (column, needs).
NEEDS = (
    *((column, "plate") for column in VEHICLE_COLUMNS[1:]),
    ("plan_codes", "plan_starts_on"),
    ("plan_starts_on", "plan_codes"),
    ("plan_ends_on", "plan_codes"),
    ("lat", "lng"),
    ("lng", "lat"),
)
_BY_KEY = {key: name for name, aliases in ALIASES.items() for key in (name, *aliases)}
_FILLER_WORDS = {"de", "do", "da", "dos", "das"}


def _key(header: str) -> str:
    """A header cell reduced for matching: ``Data de Nascimento`` → ``data_nascimento``."""
    bare = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.split(r"[^a-z0-9]+", bare) if w and w not in _FILLER_WORDS]
    return "_".join(words)


def column_for(header: str) -> str | None:
    """The English column name a header cell stands for, or None if unknown."""
    return _BY_KEY.get(_key(header))


@dataclass(frozen=True, slots=True)
class Header:
    """The file's header: which field index holds which column.

    Attributes:
        delimiter: the field separator.
        positions: ``(index, column)`` for every known column, in file order.
        ignored: the header cells that are no known column.
        width: the number of header cells.
    """

    delimiter: str
    positions: tuple[tuple[int, str], ...]
    ignored: tuple[str, ...]
    width: int

    @property
    def present(self) -> frozenset[str]:
        """The columns the file has."""
        return frozenset(column for _, column in self.positions)


def _split(lines: Sequence[str], delimiter: str) -> list[str]:
    return next(csv.reader(lines, delimiter=delimiter), [])


def _sniff(lines: Sequence[str]) -> tuple[str, list[str]]:
    """The delimiter that makes the most known columns (then the most cells)."""
    candidates = [(delimiter, _split(lines, delimiter)) for delimiter in DELIMITERS]

    def score(candidate: tuple[str, list[str]]) -> tuple[int, int]:
        cells = candidate[1]
        return sum(column_for(cell) is not None for cell in cells), len(cells)

    return max(candidates, key=score)


def read_header(lines: Sequence[str]) -> Header:
    """The header from the lines of the file's first record.

    Raises:
        ImportFileError: a required column is missing (``missing_columns``), a
            column appears twice (``duplicate_column``), or a column is present
            without the one it needs (``dependent_column``).
    """
    delimiter, cells = _sniff(lines)
    positions: list[tuple[int, str]] = []
    ignored: list[str] = []
    for index, cell in enumerate(cells):
        column = column_for(cell)
        if column is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if column in (c for _, c in positions):
            raise ImportFileError(
                "duplicate_column", f"coluna repetida no cabeçalho: {cell.strip()} ({column})", 1
            )
        positions.append((index, column))
    header = Header(delimiter, tuple(positions), tuple(ignored), len(cells))
    _check_columns(header)
    return header


def _describe(column: str) -> str:
    return f"{column} ({ALIASES[column][0]})"


def _check_columns(header: Header) -> None:
    missing = [column for column in REQUIRED if column not in header.present]
    if missing:
        names = ", ".join(_describe(column) for column in missing)
        raise ImportFileError("missing_columns", f"colunas obrigatórias ausentes: {names}", 1)
    for column, needs in NEEDS:
        if column in header.present and needs not in header.present:
            raise ImportFileError(
                "dependent_column",
                f"a coluna {_describe(column)} exige a coluna {_describe(needs)}",
                1,
            )
