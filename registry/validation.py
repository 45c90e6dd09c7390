"""Validation and normalisation of Brazilian identifiers (pure, no I/O).

* CPF (11 digits) and CNPJ (14 characters): check digits, generation from a base.
  A CNPJ's first 12 characters (root and branch) may be digits or, since July
  2026, upper-case letters A–Z (the alphanumeric CNPJ); its last 2, the check
  digits, are digits. Each character counts as its ASCII code minus 48 (a digit
  as itself, ``A`` as 17...) under the usual mod-11 weights.
* Vehicle plates: old ``ABC1234`` and Mercosul ``ABC1D23``, stored upper case
  without a dash.
* CEP (8 digits), UF (two letters), phones in E.164 (``+55`` + DDD + number).

``*_is_valid`` functions answer a question; ``normalize_*`` functions return the
stored form or raise :class:`registry.errors.ValidationError` (a ``ValueError``)
with a pt-BR message.
"""

from __future__ import annotations

import re

from registry.enums import PersonKind
from registry.errors import ValidationError

_SEPARATORS = re.compile(r"[\s.\-/()]")
_DOCUMENT_PUNCTUATION = re.compile(r"[\s.\-/]")
_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_ALPHANUMERIC = re.compile(r"[0-9A-Z]+")
_PLATE = re.compile(r"[A-Z]{3}[0-9][A-Z0-9][0-9]{2}")
_OLD_PLATE = re.compile(r"[A-Z]{3}[0-9]{4}")

UFS = frozenset(
    {
        "AC",
        "AL",
        "AP",
        "AM",
        "BA",
        "CE",
        "DF",
        "ES",
        "GO",
        "MA",
        "MT",
        "MS",
        "MG",
        "PA",
        "PB",
        "PR",
        "PE",
        "PI",
        "RJ",
        "RN",
        "RS",
        "RO",
        "RR",
        "SC",
        "SP",
        "SE",
        "TO",
    }
)

# Area codes (DDD) in use in Brazil, per Anatel.
DDDS = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        21,
        22,
        24,
        27,
        28,
        31,
        32,
        33,
        34,
        35,
        37,
        38,
        41,
        42,
        43,
        44,
        45,
        46,
        47,
        48,
        49,
        51,
        53,
        54,
        55,
        61,
        62,
        63,
        64,
        65,
        66,
        67,
        68,
        69,
        71,
        73,
        74,
        75,
        77,
        79,
        81,
        82,
        83,
        84,
        85,
        86,
        87,
        88,
        89,
        91,
        92,
        93,
        94,
        95,
        96,
        97,
        98,
        99,
    }
)


def only_digits(value: str) -> str:
    """The digits of ``value``, in order, everything else dropped.

    Not for CNPJs, which may hold letters: see :func:`document_characters`.
    """
    return "".join(ch for ch in value if "0" <= ch <= "9")


def document_characters(value: str) -> str:
    """A CPF's or CNPJ's characters as stored: the punctuation (``.``, ``/``,
    ``-``, spaces) dropped, letters in upper case: ``12.abc.345/01de-35`` →
    ``12ABC34501DE35``. Whether they make a valid document is not checked."""
    return _DOCUMENT_PUNCTUATION.sub("", value).upper()


def _digits_of(value: str) -> str | None:
    """The digits of a formatted identifier, or None if it has other characters."""
    bare = _SEPARATORS.sub("", value)
    return bare if bare.isascii() and bare.isdigit() else None


def _check_digit(characters: str, weights: range | list[int]) -> str:
    # A character's value is its ASCII code minus 48: a digit's own value, and the
    # alphanumeric CNPJ's letters A..Z 17..42 (Receita Federal's rule).
    total = sum((ord(c) - 48) * w for c, w in zip(characters, weights, strict=True))
    rest = total % 11
    return "0" if rest < 2 else str(11 - rest)


def _cpf_digits(base9: str) -> str:
    first = _check_digit(base9, range(10, 1, -1))
    return first + _check_digit(base9 + first, range(11, 1, -1))


_CNPJ_WEIGHTS_1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
_CNPJ_WEIGHTS_2 = [6, *_CNPJ_WEIGHTS_1]


def _cnpj_digits(base12: str) -> str:
    first = _check_digit(base12, _CNPJ_WEIGHTS_1)
    return first + _check_digit(base12 + first, _CNPJ_WEIGHTS_2)


def _base(value: str | int, length: int, what: str, *, letters: bool = False) -> str:
    base = f"{value:0{length}d}" if isinstance(value, int) else value
    shape = _ALPHANUMERIC if letters else _DIGITS
    if len(base) != length or not shape.fullmatch(base):
        kind = "digits or upper-case letters" if letters else "digits"
        raise ValidationError(what.lower(), f"{what} base must be {length} {kind}, got {value!r}")
    if len(set(base)) == 1:
        raise ValidationError(what.lower(), f"{what} base must not repeat one digit, got {value!r}")
    return base


def make_cpf(base9: str | int) -> str:
    """The 11-digit CPF whose first nine digits are ``base9`` (an int is zero-padded).

    Raises:
        ValueError: ``base9`` is not 9 digits, or repeats one digit (such CPFs are
            invalid whatever their check digits).
    """
    base = _base(base9, 9, "CPF")
    return base + _cpf_digits(base)


def make_cnpj(base12: str | int) -> str:
    """The CNPJ whose first twelve characters are ``base12`` (root + branch): digits
    (an int is zero-padded) or, for an alphanumeric CNPJ, upper-case letters too.

    Raises:
        ValueError: ``base12`` is not 12 digits or upper-case letters, or repeats
            one character.
    """
    base = _base(base12, 12, "CNPJ", letters=True)
    return base + _cnpj_digits(base)


def cpf_is_valid(value: str) -> bool:
    """True for a CPF with correct check digits, formatted (``123.456.789-09``) or not."""
    digits = _digits_of(value)
    if digits is None or len(digits) != 11 or len(set(digits)) == 1:
        return False
    return _cpf_digits(digits[:9]) == digits[9:]


def cnpj_is_valid(value: str) -> bool:
    """True for a CNPJ with correct check digits, numeric or alphanumeric, formatted
    (``12.345.678/0001-95``, ``12.ABC.345/01DE-35``) or not, letters in any case."""
    characters = document_characters(value)
    if not value.isascii() or not _CNPJ.fullmatch(characters) or len(set(characters)) == 1:
        return False
    return _cnpj_digits(characters[:12]) == characters[12:]


def normalize_cnpj(value: str, field: str = "cnpj") -> str:
    """A valid CNPJ as stored: 14 characters, no punctuation, letters in upper case
    (``12.abc.345/01de-35`` → ``12ABC34501DE35``).

    Raises:
        ValidationError: not a valid CNPJ.
    """
    if not cnpj_is_valid(value):
        raise ValidationError(field, "CNPJ inválido")
    return document_characters(value)


def normalize_document(value: str, person_kind: PersonKind, field: str = "document") -> str:
    """A valid CPF (``pf``: its 11 digits) or CNPJ (``pj``: see :func:`normalize_cnpj`)
    as stored.

    Raises:
        ValidationError: the document is not a valid one of that kind.
    """
    if person_kind is PersonKind.PJ:
        return normalize_cnpj(value, field)
    if not cpf_is_valid(value):
        raise ValidationError(field, "CPF inválido")
    return only_digits(value)


def format_cpf(cpf: str) -> str:
    """``12345678909`` as ``123.456.789-09``."""
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"


def format_cnpj(cnpj: str) -> str:
    """``12345678000195`` as ``12.345.678/0001-95`` (``12ABC34501DE35`` as
    ``12.ABC.345/01DE-35``)."""
    return f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"


def normalize_plate(value: str, field: str = "plate") -> str:
    """A plate as stored: upper case, no dash or spaces (``abc-1d23`` → ``ABC1D23``).

    Raises:
        ValidationError: not an old (``ABC1234``) nor a Mercosul (``ABC1D23``) plate.
    """
    plate = re.sub(r"[\s\-]", "", value).upper()
    if not _PLATE.fullmatch(plate):
        raise ValidationError(field, "Placa inválida: use o formato ABC1234 ou ABC1D23")
    return plate


def is_mercosul_plate(plate: str) -> bool:
    """True for a normalised Mercosul plate (a letter in the fifth position)."""
    return bool(_PLATE.fullmatch(plate)) and not _OLD_PLATE.fullmatch(plate)


def to_mercosul(plate: str) -> str:
    """The Mercosul form of a normalised plate (``ABC1234`` → ``ABC1C34``).

    Vehicles keep their registration when re-plated, so a search by either form
    must find the vehicle.
    """
    if not _OLD_PLATE.fullmatch(plate):
        return plate
    return plate[:4] + "ABCDEFGHIJ"[int(plate[4])] + plate[5:]


def normalize_cep(value: str, field: str = "cep") -> str:
    """A CEP as stored: 8 digits (``01310-200`` → ``01310200``).

    Raises:
        ValidationError: not 8 digits.
    """
    digits = _digits_of(value.strip())
    if digits is None or len(digits) != 8:
        raise ValidationError(field, "CEP inválido: informe 8 dígitos")
    return digits


def normalize_uf(value: str, field: str = "state") -> str:
    """A UF as stored: two upper-case letters of a Brazilian state.

    Raises:
        ValidationError: not one of the 27 UFs.
    """
    uf = value.strip().upper()
    if uf not in UFS:
        raise ValidationError(field, "UF inválida")
    return uf


def _national_number(digits: str, international: bool) -> str:
    """Drop the country code (55) or the trunk prefix (0) from a phone's digits."""
    if international or (len(digits) in (12, 13) and digits.startswith("55")):
        return digits[2:] if digits.startswith("55") else ""
    if digits.startswith("0") and len(digits) in (11, 12):
        return digits[1:]
    return digits


def normalize_phone(value: str, field: str = "phone") -> str:
    """A Brazilian phone in E.164: ``(11) 98765-4321`` → ``+5511987654321``.

    Accepts national numbers with DDD (with or without the trunk 0) and numbers with
    the country code (``+55`` or ``55``). Mobiles have 9 digits starting with 9;
    landlines 8 digits starting with 2 to 5.

    Raises:
        ValidationError: not a Brazilian phone number with a valid DDD.
    """
    stripped = value.strip()
    digits = _digits_of(stripped.removeprefix("+"))
    national = _national_number(digits or "", stripped.startswith("+"))
    ddd, number = national[:2], national[2:]
    valid = (
        len(national) in (10, 11)
        and ddd.isdigit()
        and int(ddd) in DDDS
        and (number[0] == "9" if len(number) == 9 else number[0] in "2345")
    )
    if not valid:
        raise ValidationError(field, "Telefone inválido: informe DDD e número")
    return f"+55{national}"


# --- e-mail (added for registry/importing) ------------------------------------------

EMAIL_MAX_LENGTH = 160  # the width of every e-mail column of the registry
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")


def normalize_email(value: str, field: str = "email") -> str:
    """An e-mail address as stored: trimmed, with its domain in lower case.

    Only the shape is checked (one ``@``, a dotted domain, no spaces): whether the
    mailbox exists is for the mail server to say.

    Raises:
        ValidationError: not shaped like an e-mail address, or longer than
            :data:`EMAIL_MAX_LENGTH`.
    """
    email = value.strip()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise ValidationError(field, "E-mail inválido")
    local, domain = email.rsplit("@", 1)
    return f"{local}@{domain.lower()}"
