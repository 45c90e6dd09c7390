"""Searching beneficiaries by name: the tiers of :func:`_search_names`.

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

The bounds below are read by the tiers from this module's globals: a test that
narrows them patches them here, not on :mod:`registry.search`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    all_,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Beneficiary, Client
from registry.search.hits import AnyRow, HitKind, MatchedOn, SearchHit, _hit, _hit_columns
from registry.search.query import MIN_NAME_TOKEN_CHARS
from registry.search.sql import _of_client, _param, _param_array, _starts_with

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
