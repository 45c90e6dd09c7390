"""Parsers of single CSV cells (pure): each takes the trimmed, non-empty text of a
cell and returns the stored value, or raises
:class:`registry.errors.ValidationError` with a pt-BR message.

Spreadsheets mangle some values on the way; the parsers undo what is safe to
undo: leading zeros dropped from CPF, CNPJ and CEP (``1310200`` is the CEP
``01310200``; check digits decide for documents), decimal commas
(``-23,5505``), a ``00:00:00`` time after a date. Brazilian identifiers go through
:mod:`registry.validation`.
"""

from __future__ import annotations

import math
import re
from datetime import date

from registry.enums import PersonKind, Sex
from registry.errors import ValidationError
from registry.validation import (
    cnpj_is_valid,
    cpf_is_valid,
    document_characters,
    normalize_document,
    only_digits,
)

CPF_LENGTH, CNPJ_LENGTH, CEP_LENGTH = 11, 14, 8
PLAN_CODE_MAX = 40  # plans.code
PLAN_SEPARATOR = "|"
# A loose box around Brazil and its islands (Trindade, Fernando de Noronha):
# swapped latitude and longitude fall outside it.
LAT_RANGE, LNG_RANGE = (-34.0, 6.0), (-74.5, -28.5)
FIRST_YEAR = 1900

_DOCUMENT_CHARS = re.compile(r"[0-9A-Za-z.\-/\s]+")  # letters: the alphanumeric CNPJ
# re.ASCII: ``\d`` is 0-9 only, not every script's digits (``int()`` reads those too).
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?", re.ASCII)
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T\s]\d{1,2}:\d{2}(?::\d{2})?)?", re.ASCII)
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")

PERSON_KINDS: dict[str, PersonKind] = {
    **dict.fromkeys(
        ("pf", "f", "fisica", "física", "pessoa fisica", "pessoa física"), PersonKind.PF
    ),
    **dict.fromkeys(
        ("pj", "j", "juridica", "jurídica", "pessoa juridica", "pessoa jurídica"), PersonKind.PJ
    ),
}
SEXES: dict[str, Sex] = {
    **dict.fromkeys(("female", "f", "fem", "feminino", "mulher"), Sex.FEMALE),
    **dict.fromkeys(("male", "m", "masc", "masculino", "homem"), Sex.MALE),
}


def text(value: str, field: str, max_length: int) -> str:
    """A one-line text: inner runs of blanks (line breaks too) become one space.

    Raises:
        ValidationError: longer than ``max_length`` characters.
    """
    single = " ".join(value.split())
    if len(single) > max_length:
        raise ValidationError(field, f"texto longo demais (máximo {max_length} caracteres)")
    return single


def person_kind(value: str, field: str = "person_kind") -> PersonKind:
    """``pf``/``pj`` (also ``F``/``J``, ``física``/``jurídica``)."""
    kind = PERSON_KINDS.get(" ".join(value.lower().split()))
    if kind is None:
        raise ValidationError(field, "tipo de pessoa inválido: use PF ou PJ")
    return kind


def sex(value: str, field: str = "sex") -> Sex:
    """``female``/``male`` (also ``F``/``M``, ``feminino``/``masculino``)."""
    found = SEXES.get(value.lower())
    if found is None:
        raise ValidationError(field, "sexo inválido: use F ou M")
    return found


def ascii_digits(value: str) -> bool:
    """Whether ``value`` is one or more of the digits 0-9.

    ``str.isdigit()`` alone is not enough: it is True for ``²`` and other scripts'
    digits, which ``int()`` then refuses (or reads as another number).
    """
    return value.isascii() and value.isdigit()


def _restore_zeros(value: str, length: int) -> str:
    """Leading zeros a spreadsheet dropped from a bare number (formatted ones keep them)."""
    return value.zfill(length) if ascii_digits(value) and len(value) < length else value


def document(
    value: str, kind: PersonKind | None, field: str = "document"
) -> tuple[str, PersonKind]:
    """A beneficiary's CPF (digits) or CNPJ (digits, or letters and digits), with
    its person kind.

    Without ``kind``, up to 11 digits is a CPF and more is a CNPJ.

    Raises:
        ValidationError: ``CPF inválido`` / ``CNPJ inválido`` / not a document.
    """
    if not _DOCUMENT_CHARS.fullmatch(value):
        raise ValidationError(field, "CPF/CNPJ inválido")
    if kind is None:
        kind = PersonKind.PF if len(document_characters(value)) <= CPF_LENGTH else PersonKind.PJ
    length = CPF_LENGTH if kind is PersonKind.PF else CNPJ_LENGTH
    return normalize_document(_restore_zeros(value, length), kind, field), kind


def any_document(value: str, field: str) -> str:
    """A CPF or a CNPJ (told apart by length) as digits.

    Raises:
        ValidationError: neither a valid CPF nor a valid CNPJ.
    """
    cpf = _restore_zeros(value, CPF_LENGTH)
    if cpf_is_valid(cpf):
        return only_digits(cpf)
    cnpj = _restore_zeros(value, CNPJ_LENGTH)
    if cnpj_is_valid(cnpj):
        return document_characters(cnpj)
    raise ValidationError(field, "CPF/CNPJ inválido")


def cep_digits(value: str) -> str:
    """A CEP, with the leading zero a spreadsheet dropped put back (São Paulo's)."""
    return _restore_zeros(value, CEP_LENGTH) if len(value) == CEP_LENGTH - 1 else value


def day(value: str, field: str) -> date:
    """A date as ``dd/mm/aaaa`` or ``aaaa-mm-dd`` (a time after it is ignored).

    Raises:
        ValidationError: another format, or no such day.
    """
    dmy = _DMY.fullmatch(value)
    iso = None if dmy else _ISO.fullmatch(value)
    if dmy:
        d, m, y = (int(part) for part in dmy.groups())
    elif iso:
        y, m, d = (int(part) for part in iso.groups())
    else:
        raise ValidationError(field, "data inválida: use dd/mm/aaaa ou aaaa-mm-dd")
    try:
        parsed = date(y, m, d)
    except ValueError:
        raise ValidationError(field, "data inexistente") from None
    if y < FIRST_YEAR:
        raise ValidationError(field, f"data anterior a {FIRST_YEAR}")
    return parsed


def coordinate(value: str, field: str, bounds: tuple[float, float]) -> float:
    """A latitude or longitude in decimal degrees (``.`` or ``,`` as decimal mark).

    Raises:
        ValidationError: not a number, or outside Brazil's box ``bounds``.
    """
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise ValidationError(field, "coordenada inválida: use graus decimais") from None
    if not math.isfinite(number):
        raise ValidationError(field, "coordenada inválida: use graus decimais")
    if not bounds[0] <= number <= bounds[1]:
        raise ValidationError(field, "coordenada fora do Brasil (latitude e longitude trocadas?)")
    return number


def year(value: str, today: date, field: str = "year") -> int:
    """A vehicle's model year: 1900 up to next year."""
    if not ascii_digits(value) or not FIRST_YEAR <= int(value) <= today.year + 1:
        raise ValidationError(field, f"ano inválido: informe de {FIRST_YEAR} a {today.year + 1}")
    return int(value)


def vin(value: str, field: str = "vin") -> str:
    """A chassis number: 17 characters, no I, O nor Q (spaces dropped, upper case)."""
    bare = "".join(value.split()).upper()
    if not _VIN.fullmatch(bare):
        raise ValidationError(field, "chassi inválido: 17 letras e números, sem I, O e Q")
    return bare


def plan_codes(value: str, field: str = "plan_codes") -> tuple[str, ...]:
    """Plan codes separated by ``|``, trimmed, blanks and repeats dropped."""
    codes = [" ".join(code.split()) for code in value.split(PLAN_SEPARATOR)]
    unique = tuple(dict.fromkeys(code for code in codes if code))
    if any(len(code) > PLAN_CODE_MAX for code in unique):
        raise ValidationError(field, f"código de plano longo demais (máximo {PLAN_CODE_MAX})")
    return unique
