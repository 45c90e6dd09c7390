"""The registry's fast search: beneficiaries by name or document, vehicles by plate.

One text box, typed into by an operator while the caller speaks. :func:`classify`
(pure) decides what the text is:

* a **document**: only digits and CPF/CNPJ punctuation (``.``, ``-``, ``/``, spaces),
  at least :data:`MIN_DOCUMENT_DIGITS` digits: a CPF, a CNPJ or the start of one;
* a **plate**: three letters and at least one digit, with or without dash or spaces,
  any case (``abc-1``, ``ABC1D23``): a whole plate or the start of one, old
  (``ABC1234``) or Mercosul (``ABC1D23``); either form finds the other;
* otherwise a **name**: lower-cased, accents stripped, split into at most
  :data:`MAX_NAME_TOKENS` tokens; at least one token must have
  :data:`MIN_NAME_TOKEN_CHARS` characters.

Text too short to be any of these classifies as :attr:`QueryKind.NONE` and
:func:`search` returns no hits (the box is being typed into, that is no error); text
longer than :data:`MAX_QUERY_CHARS` raises :class:`ValidationError`.

Names match when **every token starts a word** of the name, in any order
("joao sil" finds "João da Silva"; "ilva" finds nothing). They are searched in
``beneficiaries.name_search``, the name unaccented and lower case with a space
before each word (" joao da silva"), through two indexes (migration 0004): a btree
in name order covering id and client_id, and a GIN over ``word_prefixes()``, the
first 3 to :data:`WORD_KEY_CHARS` characters of each word. Hits come in tiers; a
tier runs only when the earlier ones found fewer hits than asked for, and each reads
a bounded part of an index, so that very common names ("maria", "silva") cost no
more than rare ones:

0. the name starts with the whole query: the first ones in name order (a btree
   range that stops at the limit);
1. the first word starts with one of the first :data:`MAX_FIRST_WORD_BRANCHES`
   tokens (the first token's names first) and every other token starts a word:
   among the first :data:`FIRST_WORD_SCAN` names of each such btree range, closest
   by trigram similarity first ("joao sil": "João Silveira", "João da Silva");
2. every token starts some word, among the first :data:`SAMPLE_SCAN` names in name
   order: enough while the tokens together are common ("silva santos"). Skipped once
   an earlier tier found a few hits: the tokens together are then rare;
3. every token starts some word, anywhere: :data:`RARE_CANDIDATES` found by the
   word-prefix GIN index (one posting list per token), closest first.

One-token queries skip tier 1 (tier 0 covered every name starting with the token).

Inactive beneficiaries and vehicles are found too (an operator must see why a caller
is not covered): hits carry ``beneficiary_active`` / ``vehicle_active``.

Every statement's access path is fixed by its shape (bounded index ranges, LIMITed
subqueries over the name index, the word-key test only the GIN index can serve), so
its values are bound parameters: PostgreSQL's generic plans for the cached prepared
statements are the custom ones, measured with ``plan_cache_mode`` forced either way.
Partial plates in both formats are two range branches, not an OR (which a generic
plan would answer by reading the whole plate index).
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Row,
    Select,
    Text,
    all_,
    and_,
    func,
    literal,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry.enums import PersonKind
from registry.errors import ValidationError
from registry.models import Beneficiary, Client, Vehicle
from registry.validation import only_digits

MAX_QUERY_CHARS = 100
"""Longest text accepted; longer raises ValidationError (nobody types that much)."""
MIN_NAME_TOKEN_CHARS = 3
"""A name query needs one token this long: shorter ones match too much to help."""
MAX_NAME_TOKENS = 6
"""Tokens of a name query beyond this many are ignored."""
MIN_DOCUMENT_DIGITS = 3
"""Fewest digits searched as the start of a CPF or CNPJ."""
MAX_DOCUMENT_DIGITS = 14
"""A CNPJ's digits; more digits cannot match any document."""
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
"""Largest ``limit`` accepted by :func:`search`."""
NAME_CANDIDATES = 50
"""Names matching every token read by tiers 1 and 2 before ranking them."""
FIRST_WORD_SCAN = 5_000
"""Index entries read per token by tier 1 ("the first word starts with the token")."""
MAX_FIRST_WORD_BRANCHES = 3
"""Tokens tried as the first word by tier 1 (the first ones typed)."""
SAMPLE_SCAN = 20_000
"""Name index entries read by tier 2 (every token anywhere, first names in order)."""
RARE_CANDIDATES = 200
"""Names matching every token read by tier 3 (the tokens together are rare)."""

_DOCUMENT_TEXT = re.compile(r"[0-9.\-/\s]+")
_PLATE_TEXT = re.compile(r"[A-Z]{3}[0-9](?:[A-Z0-9][0-9]{0,2})?")
_PLATE_NOISE = re.compile(r"[\s\-]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_MERCOSUL_LETTERS = "ABCDEFGHIJ"  # the fifth digit d of an old plate becomes letter d
_PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Letters NFKD does not decompose but PostgreSQL's unaccent rewrites.
_UNACCENT_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l"})


class QueryKind(enum.StrEnum):
    """What the operator typed."""

    NAME = "name"
    PLATE = "plate"
    DOCUMENT = "document"
    NONE = "none"  # too short to search yet


class HitKind(enum.StrEnum):
    BENEFICIARY = "beneficiary"
    VEHICLE = "vehicle"


class MatchedOn(enum.StrEnum):
    NAME = "name"
    PLATE = "plate"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """The interpretation of a search text.

    ``terms``: for a name, its tokens (``[a-z0-9]``, in typed order); for a plate,
    the typed plate or prefix (upper case, no dash) and, when its fifth character
    says so, the same in the other format; for a document, its digits.
    ``complete``: a whole plate (7 characters) or a whole CPF/CNPJ (11 or 14 digits).
    """

    kind: QueryKind
    terms: tuple[str, ...] = ()
    complete: bool = False


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A beneficiary (found by name or document) or a vehicle (found by plate)."""

    kind: HitKind
    matched_on: MatchedOn
    beneficiary_id: int
    beneficiary_name: str
    document: str
    person_kind: PersonKind
    client_id: int
    client_trade_name: str
    beneficiary_active: bool
    vehicle_id: int | None = None
    plate: str | None = None
    make: str | None = None
    model: str | None = None
    year: int | None = None
    colour: str | None = None
    vehicle_active: bool | None = None

    @property
    def active(self) -> bool:
        """False when the beneficiary, or the vehicle of a vehicle hit, is inactive."""
        return self.beneficiary_active and self.vehicle_active is not False


# --- classification (pure) ------------------------------------------------------


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
    if fifth.isdigit():
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
    return _name_query(normalize_name(stripped))


def _document_query(digits: str) -> SearchQuery:
    if not MIN_DOCUMENT_DIGITS <= len(digits) <= MAX_DOCUMENT_DIGITS:
        return SearchQuery(QueryKind.NONE)
    return SearchQuery(QueryKind.DOCUMENT, (digits,), complete=len(digits) in (11, 14))


def _plate_query(plate: str) -> SearchQuery:
    other = other_plate_form(plate)
    terms = (plate,) if other is None else (plate, other)
    return SearchQuery(QueryKind.PLATE, terms, complete=len(plate) == 7)


def _name_query(normalized: str) -> SearchQuery:
    tokens = tuple(normalized.split())[:MAX_NAME_TOKENS]
    if not any(len(token) >= MIN_NAME_TOKEN_CHARS for token in tokens):
        return SearchQuery(QueryKind.NONE)
    return SearchQuery(QueryKind.NAME, tokens)


# --- SQL helpers ---------------------------------------------------------------------


def _param(value: str | int) -> Any:
    """A bound parameter of the value's SQL type."""
    return literal(value, Integer if isinstance(value, int) else Text)


def _param_array(values: Sequence[str]) -> Any:
    """A bound ``text[]``."""
    return literal(list(values), ARRAY(Text))


def _successor(prefix: str, alphabet: str) -> str | None:
    """The least string of ``alphabet`` above every string starting with ``prefix``.

    ``"129"`` → ``"13"``; None when there is none (``"999"``). Only characters of
    ``alphabet`` appear, so the range holds in any collation that orders them alike.
    """
    stem = prefix
    while stem:
        position = alphabet.index(stem[-1])
        if position + 1 < len(alphabet):
            return stem[:-1] + alphabet[position + 1]
        stem = stem[:-1]
    return None


def _starts_with(
    column: Any, prefix: str, alphabet: str, *, byte_order: bool = False
) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``: an index range, exact under byte order.

    Other collations get a LIKE too, in case one orders the alphabet differently.
    """
    upper = _successor(prefix, alphabet)
    bounds = [column >= _param(prefix)] + ([] if upper is None else [column < _param(upper)])
    return and_(*bounds) if byte_order else and_(*bounds, column.like(_param(prefix + "%")))


def _hit_columns() -> list[Any]:
    return [
        Beneficiary.id.label("beneficiary_id"),
        Beneficiary.name.label("beneficiary_name"),
        Beneficiary.document,
        Beneficiary.person_kind,
        Beneficiary.client_id,
        Client.trade_name.label("client_trade_name"),
        Beneficiary.active.label("beneficiary_active"),
    ]


AnyRow = Row[*tuple[Any, ...]]


def _hit(row: AnyRow, kind: HitKind, matched_on: MatchedOn) -> SearchHit:
    values = row._asdict()
    return SearchHit(kind=kind, matched_on=matched_on, **values)


def _of_client(column: Any, client_id: int | None) -> ColumnElement[bool]:
    """``column`` (a client id) is ``client_id``; always true without one."""
    return true() if client_id is None else column == _param(client_id)


# --- names ---------------------------------------------------------------------------

_NAME_ALPHABET = " 0123456789abcdefghijklmnopqrstuvwxyz"
WORD_MARK = " "
"""Precedes each word in ``name_search`` (see :func:`name_key`)."""
WORD_KEY_CHARS = 8
"""Longest word prefix in ``word_prefixes()`` (migration 0004): longer tokens are
looked up by their first 8 characters, then checked whole."""


def name_key(tokens: Sequence[str]) -> str:
    """Words as ``name_search`` writes them: ``("joao", "sil")`` → ``" joao sil"``."""
    return "".join(WORD_MARK + token for token in tokens)


def _word_starts(column: Any, tokens: Sequence[str]) -> list[ColumnElement[bool]]:
    """Every token starts a word of ``column`` (a name_search): LIKE '% tok%'."""
    return [column.like(_param(f"%{name_key([token])}%")) for token in tokens]


def _word_keys(tokens: Sequence[str]) -> ColumnElement[bool]:
    """The GIN index's test: each token long enough has its prefix among the name's
    ``word_prefixes()``. Necessary, not sufficient: :func:`_word_starts` decides."""
    keys = sorted(
        {token[:WORD_KEY_CHARS] for token in tokens if len(token) >= MIN_NAME_TOKEN_CHARS}
    )
    prefixes = func.word_prefixes(Beneficiary.name_search, type_=ARRAY(Text))
    contained: ColumnElement[bool] = prefixes.contains(_param_array(keys))
    return contained


def _name_range(column: Any, tokens: Sequence[str]) -> ColumnElement[bool]:
    """``column`` (a name_search) starts with the tokens: an exact index range."""
    return _starts_with(column, name_key(tokens), _NAME_ALPHABET, byte_order=True)


def _index_scan(limit: int, *conditions: ColumnElement[bool]) -> Any:
    """The first ``limit`` entries of the name index (in order) meeting ``conditions``.

    Only conditions on the index's own columns belong here: they bound the range read.
    Others go on the result, so that at most ``limit`` entries are read.
    """
    column = Beneficiary.name_search
    statement = select(Beneficiary.id, column, Beneficiary.client_id).where(*conditions)
    return statement.order_by(column).limit(_param(limit)).subquery()


def _best(found: Any, order: Sequence[Any], limit: int) -> Select[Any]:
    """Hits for the first ``limit`` rows of ``found`` (id, name_search...) by ``order``
    (ascending keys), then name: only those rows are joined to their details."""
    best = (
        select(found.c.id, *(key.label(f"key{n}") for n, key in enumerate(order)))
        .order_by(*order, found.c.name_search, found.c.id)
        .limit(_param(limit))
        .subquery()
    )
    keys = [best.c[f"key{n}"] for n in range(len(order))]
    return (
        select(*_hit_columns())
        .select_from(best)
        .join(Beneficiary, Beneficiary.id == best.c.id)
        .join(Client, Client.id == Beneficiary.client_id)
        .order_by(*keys, Beneficiary.name_search, Beneficiary.id)
    )


def _distance(found: Any, tokens: Sequence[str]) -> Any:
    """pg_trgm's distance (1 - similarity) of ``found``'s names to the query."""
    return found.c.name_search.op("<->", return_type=Float)(_param(name_key(tokens)))


def _whole_prefix(
    tokens: Sequence[str], client_id: int | None, limit: int, exclude: Sequence[int]
) -> Select[Any]:
    """Tier 0: names starting with the whole query, the first ``limit`` in name order."""
    column = Beneficiary.name_search
    found = (
        select(Beneficiary.id, column)
        .where(
            _name_range(column, tokens),
            _of_client(Beneficiary.client_id, client_id),
            _not_in(Beneficiary.id, exclude),
        )
        .order_by(column)
        .limit(_param(limit))
        .subquery()
    )
    return _best(found, [], limit)


def _first_word_branch(
    tokens: Sequence[str], index: int, client_id: int | None, exclude: Sequence[int]
) -> Select[Any]:
    """Names whose first word starts with ``tokens[index]`` and the others start words,
    among the first :data:`FIRST_WORD_SCAN` in the name index."""
    scanned = _index_scan(
        FIRST_WORD_SCAN, _name_range(Beneficiary.name_search, tokens[index : index + 1])
    )
    others = [token for n, token in enumerate(tokens) if n != index]
    return (
        select(scanned.c.id, scanned.c.name_search, literal_column(str(index)).label("branch"))
        .where(
            *_word_starts(scanned.c.name_search, others),
            _of_client(scanned.c.client_id, client_id),
            _not_in(scanned.c.id, exclude),
        )
        .limit(_param(NAME_CANDIDATES))
    )


def _first_word_tier(
    tokens: Sequence[str], client_id: int | None, limit: int, exclude: Sequence[int]
) -> Select[Any]:
    """Tier 1: the first word starts with a token (the first token's names first)."""
    branches = [
        _first_word_branch(tokens, index, client_id, exclude)
        for index in range(min(len(tokens), MAX_FIRST_WORD_BRANCHES))
    ]
    found = union_all(*branches).subquery()
    return _best(found, [found.c.branch, _distance(found, tokens)], limit)


def _sampled_tier(
    tokens: Sequence[str], client_id: int | None, limit: int, exclude: Sequence[int]
) -> Select[Any]:
    """Tier 2: every token starts some word, among the first :data:`SAMPLE_SCAN` names.

    A bounded, ordered read of the name index that stops after
    :data:`NAME_CANDIDATES` matches, ranked: enough while the tokens together are
    common ("silva santos").
    """
    scanned = _index_scan(SAMPLE_SCAN)
    found = (
        select(scanned.c.id, scanned.c.name_search)
        .where(
            *_word_starts(scanned.c.name_search, tokens),
            _of_client(scanned.c.client_id, client_id),
            _not_in(scanned.c.id, exclude),
        )
        .limit(_param(NAME_CANDIDATES))
        .subquery()
    )
    return _best(found, [_distance(found, tokens)], limit)


def _anywhere_tier(
    tokens: Sequence[str], client_id: int | None, limit: int, exclude: Sequence[int]
) -> Select[Any]:
    """Tier 3: every token starts some word, anywhere; :data:`RARE_CANDIDATES` ranked.

    Reached when tier 2's sample held too few: the tokens together are rare. The
    word-prefix GIN index finds them at a cost bounded by its posting lists.
    """
    column = Beneficiary.name_search
    found = (
        select(Beneficiary.id, column)
        .where(
            _word_keys(tokens),
            *_word_starts(column, tokens),
            _of_client(Beneficiary.client_id, client_id),
            _not_in(Beneficiary.id, exclude),
        )
        .limit(_param(RARE_CANDIDATES))
        .subquery()
    )
    return _best(found, [_distance(found, tokens)], limit)


def _not_in(column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column`` is none of ``ids``: one array parameter, whatever their number."""
    excluded: ColumnElement[bool] = column != all_(literal(list(ids), ARRAY(Integer)))
    return excluded


Tier = Callable[[Sequence[str], int | None, int, Sequence[int]], Select[Any]]


async def _search_names(
    session: AsyncSession, tokens: Sequence[str], client_id: int | None, limit: int
) -> list[SearchHit]:
    """Run the tiers in turn until ``limit`` hits; each skips the hits found before.

    Tier 1 is left out for one token: tier 0 then covered every name whose first
    word starts with it. Tier 2 is left out once a tier found some hits but too few:
    the tokens together are then rare, and its sample would be read for nothing.
    """
    tiers: list[Tier] = [_whole_prefix, _sampled_tier, _anywhere_tier]
    if len(tokens) > 1:
        tiers.insert(1, _first_word_tier)
    found: dict[int, AnyRow] = {}
    for tier in tiers:
        if tier is _sampled_tier and found:
            continue  # names start with a token, yet too few matched: a rare combination
        statement = tier(tokens, client_id, limit - len(found), list(found))
        for row in await session.execute(statement):
            found.setdefault(row.beneficiary_id, row)  # tokens sharing a prefix: twice
        if len(found) >= limit:
            break
    return [_hit(row, HitKind.BENEFICIARY, MatchedOn.NAME) for row in found.values()]


# --- documents and plates ----------------------------------------------------------------


async def _search_documents(
    session: AsyncSession, digits: str, client_id: int | None, limit: int
) -> list[SearchHit]:
    statement = (
        select(*_hit_columns())
        .join(Client, Client.id == Beneficiary.client_id)
        .where(_starts_with(Beneficiary.document, digits, "0123456789"))
        .where(_of_client(Beneficiary.client_id, client_id))
        .order_by(Beneficiary.document, Beneficiary.id)
        .limit(_param(limit))
    )
    rows = await session.execute(statement)
    return [_hit(row, HitKind.BENEFICIARY, MatchedOn.DOCUMENT) for row in rows]


def _vehicle_hits(
    plate_matches: ColumnElement[bool], client_id: int | None, limit: int
) -> Select[Any]:
    """Vehicle hits whose plate matches, in plate order."""
    return (
        select(
            *_hit_columns(),
            Vehicle.id.label("vehicle_id"),
            Vehicle.plate,
            Vehicle.make,
            Vehicle.model,
            Vehicle.year,
            Vehicle.colour,
            Vehicle.active.label("vehicle_active"),
        )
        .join(Beneficiary, Beneficiary.id == Vehicle.beneficiary_id)
        .join(Client, Client.id == Beneficiary.client_id)
        .where(plate_matches, _of_client(Beneficiary.client_id, client_id))
        .order_by(Vehicle.plate)
        .limit(_param(limit))
    )


async def _search_plates(
    session: AsyncSession, query: SearchQuery, client_id: int | None, limit: int
) -> list[SearchHit]:
    """A whole plate by equality; a partial one as an index range per format, one
    branch each (ranges OR-ed together make a generic plan read the whole index)."""
    if query.complete:
        statement = _vehicle_hits(Vehicle.plate.in_(query.terms), client_id, limit)
    else:
        branches = [
            _vehicle_hits(_starts_with(Vehicle.plate, plate, _PLATE_ALPHABET), client_id, limit)
            for plate in query.terms
        ]
        found = union_all(*branches).subquery()
        statement = select(found).order_by(found.c.plate).limit(_param(limit))
    rows = await session.execute(statement)
    return [_hit(row, HitKind.VEHICLE, MatchedOn.PLATE) for row in rows]


async def search(
    session: AsyncSession,
    text: str,
    *,
    client_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[SearchHit]:
    """Find beneficiaries by name or document and vehicles by plate, best first.

    Args:
        session: where to read; runs one SELECT (up to four for names), writes
            nothing.
        text: what the operator typed (see :func:`classify`).
        client_id: only this client's beneficiaries and vehicles (client portal).
        limit: most hits returned, 1 to :data:`MAX_LIMIT`.

    Returns:
        Up to ``limit`` hits; none when the text is too short to search.

    Raises:
        ValidationError: ``text`` is too long or ``limit`` out of range.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", f"O limite deve estar entre 1 e {MAX_LIMIT}")
    query = classify(text)
    if query.kind is QueryKind.NAME:
        return await _search_names(session, query.terms, client_id, limit)
    if query.kind is QueryKind.DOCUMENT:
        return await _search_documents(session, query.terms[0], client_id, limit)
    if query.kind is QueryKind.PLATE:
        return await _search_plates(session, query, client_id, limit)
    return []
