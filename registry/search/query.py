"""What the operator typed (pure): :func:`classify` and the :class:`SearchQuery` it
returns.

The text is:

* a **document**: only digits and CPF/CNPJ punctuation (``.``, ``-``, ``/``, spaces),
  at least :data:`MIN_DOCUMENT_DIGITS` digits: a CPF, a CNPJ or the start of one;
* a **plate**: three letters and at least one digit, with or without dash or spaces,
  any case (``abc-1``, ``ABC1D23``): a whole plate or the start of one, old
  (``ABC1234``) or Mercosul (``ABC1D23``); either form finds the other;
* an **alphanumeric CNPJ** (from July 2026), whole or its start: letters and digits
  with at least one of each, CNPJ punctuation but no spaces, any case, shaped as a
  CNPJ is (12 letters or digits, then 2 digits: ``12.ABC.345/01DE-35``, ``12abc``);
  not a plate (a plate's shape wins), searched as a document;
* otherwise a **name**: lower-cased, accents stripped, split into at most
  :data:`MAX_NAME_TOKENS` tokens; at least one token must have
  :data:`MIN_NAME_TOKEN_CHARS` characters.

Text too short to be any of these classifies as :attr:`QueryKind.NONE` (the box is
being typed into, that is no error); text longer than :data:`MAX_QUERY_CHARS`
raises :class:`ValidationError`. :func:`normalize_name` must keep agreeing with the
stored search key (:data:`registry.models.beneficiaries.NAME_SEARCH_SQL`).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from registry.errors import ValidationError
from registry.validation import document_characters, only_digits

MAX_QUERY_CHARS = 100
"""Longest text accepted; longer raises ValidationError (nobody types that much)."""
MIN_NAME_TOKEN_CHARS = 3
"""A name query needs one token this long: shorter ones match too much to help."""
MAX_NAME_TOKENS = 6
"""Tokens of a name query beyond this many are ignored."""
MIN_DOCUMENT_DIGITS = 3
"""Fewest characters (digits, or an alphanumeric CNPJ's letters and digits) searched
as the start of a CPF or CNPJ."""
MAX_DOCUMENT_DIGITS = 14
"""A CNPJ's characters; more cannot match any document."""

_DOCUMENT_TEXT = re.compile(r"[0-9.\-/\s]+")
_ALPHANUMERIC_CNPJ_TEXT = re.compile(r"(?=.*[0-9])(?=.*[A-Za-z])[0-9A-Za-z.\-/]+")
_CNPJ_START = re.compile(r"[0-9A-Z]{1,12}|[0-9A-Z]{12}[0-9]{1,2}")
_PLATE_TEXT = re.compile(r"[A-Z]{3}[0-9](?:[A-Z0-9][0-9]{0,2})?")
_PLATE_NOISE = re.compile(r"[\s\-]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_MERCOSUL_LETTERS = "ABCDEFGHIJ"  # the fifth digit d of an old plate becomes letter d
# Letters NFKD does not decompose but PostgreSQL's unaccent rewrites.
_UNACCENT_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l"})


class QueryKind(enum.StrEnum):
    """What the operator typed."""

    NAME = "name"
    PLATE = "plate"
    DOCUMENT = "document"
    NONE = "none"  # too short to search yet


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The interpretation of a search text.

    ``terms``: for a name, its tokens (``[a-z0-9]``, in typed order); for a plate,
    the typed plate or prefix (upper case, no dash) and, when its fifth character
    says so, the same in the other format; for a document, its characters as stored
    (digits; an alphanumeric CNPJ's letters in upper case).
    ``complete``: a whole plate (7 characters) or a whole CPF/CNPJ (11 or 14
    characters).
    """

    kind: QueryKind
    terms: tuple[str, ...] = ()
    complete: bool = False


def normalize_name(text: str) -> str:
    """A name's words lower-cased and unaccented, one space between them.

    Every run of characters other than ``[a-z0-9]`` (after unaccenting) is a word
    break: ``"  João D'Ávila-SÃO "`` → ``"joao d avila sao"``. With :func:`name_key`
    it mirrors :data:`registry.models.beneficiaries.NAME_SEARCH_SQL`.
    """
    lowered = text.lower().translate(_UNACCENT_EXTRA)
    decomposed = unicodedata.normalize("NFKD", lowered)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.split(bare)).strip()


def other_plate_form(plate: str) -> str | None:
    """The same plate (or plate prefix) in the other format, if it has one.

    ``ABC1234`` ↔ ``ABC1C34``: the fifth character is a digit in the old format and
    the letter at that position of A..J in Mercosul. Prefixes shorter than five
    characters and Mercosul letters after J have no other form.
    """
    if len(plate) < 5:
        return None
    fifth = plate[4]
    if fifth.isascii() and fifth.isdigit():  # "²".isdigit() too
        swapped = _MERCOSUL_LETTERS[int(fifth)]
    elif fifth in _MERCOSUL_LETTERS:
        swapped = str(_MERCOSUL_LETTERS.index(fifth))
    else:
        return None
    return plate[:4] + swapped + plate[5:]


def classify(text: str) -> SearchQuery:
    """What ``text`` asks for: a document, a plate, a name, or nothing yet.

    Raises:
        ValidationError: ``text`` is longer than :data:`MAX_QUERY_CHARS`.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise ValidationError("q", f"A busca aceita até {MAX_QUERY_CHARS} caracteres")
    stripped = text.strip()
    if _DOCUMENT_TEXT.fullmatch(stripped):
        return _document_query(only_digits(stripped))
    compact = _PLATE_NOISE.sub("", stripped).upper()
    if _PLATE_TEXT.fullmatch(compact):
        return _plate_query(compact)
    if _ALPHANUMERIC_CNPJ_TEXT.fullmatch(stripped):
        characters = document_characters(stripped)
        if _CNPJ_START.fullmatch(characters):
            return _document_query(characters)
    return _name_query(normalize_name(stripped))


def _document_query(characters: str) -> SearchQuery:
    if not MIN_DOCUMENT_DIGITS <= len(characters) <= MAX_DOCUMENT_DIGITS:
        return SearchQuery(QueryKind.NONE)
    complete = len(characters) in (11, 14)
    return SearchQuery(QueryKind.DOCUMENT, (characters,), complete=complete)


def _plate_query(plate: str) -> SearchQuery:
    other = other_plate_form(plate)
    terms = (plate,) if other is None else (plate, other)
    return SearchQuery(QueryKind.PLATE, terms, complete=len(plate) == 7)


def _name_query(normalized: str) -> SearchQuery:
    tokens = tuple(normalized.split())[:MAX_NAME_TOKENS]
    if not any(len(token) >= MIN_NAME_TOKEN_CHARS for token in tokens):
        return SearchQuery(QueryKind.NONE)
    return SearchQuery(QueryKind.NAME, tokens)
