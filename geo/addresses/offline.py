"""The offline geocoder: the addresses Acionar already knows, searched in PostgreSQL.

It needs no internet: it finds the partner sites' and the beneficiaries' addresses
(and any table added to :data:`DEFAULT_SOURCES`) by street, neighbourhood, city, UF
or CEP, accent- and case-insensitively.

What the operator typed becomes an :class:`OfflineQuery` (pure,
:func:`parse_offline_query`): its words (folded: lower case, no accents) must each
appear in the row's street, neighbourhood, city or UF (plus the partner site's
name); a CEP, whole or its first five digits, must start the row's CEP; a house
number ("paulista 1578") does not filter, it ranks the rows with that number first.

Each word is matched by a case-insensitive regular expression in which every
letter stands for its accented forms (:func:`accent_pattern`: ``conceicao`` →
``c[oóòôõö...]nc[eéèêë...]...``): the same matches as comparing unaccented text
for Portuguese, at about a third of the cost of ``immutable_unaccent()`` per row,
which matters because the rows are read by a sequential scan (bounded by
``LIMIT``; no index serves "contains"). Measured at 10 000 beneficiaries in
docs/addresses.md.

**Extension point.** Each table is an :class:`SqlAddressSource`: a source label
and the SQL expressions of its address columns. Sources are searched in order and
the search stops once it has enough distinct addresses. When operations add the
jobs' places (origins and destinations) table, it becomes one more source::

    address_columns_source(AddressSource.JOB, JobPlace)

passed with :data:`DEFAULT_SOURCES` to :class:`OfflineGeocoder` (``sources=``) or
to :func:`geo.addresses.factory.make_geocoder` (``geo`` cannot import
``operations``, so the server composes them: ``server.api.addresses.ADDRESS_SOURCES``).
A table that keeps growing (jobs) wants a bound of its own: a ``where`` on recent
rows, or a trigram index on the folded text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Select, Text, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses.address import Address, AddressSource, checked_point, fold
from geo.addresses.errors import AddressError
from geo.addresses.geocoder import check_query, in_territory, unique
from registry.models import Beneficiary, PartnerSite

MIN_WORD_CHARS = 2
"""Shorter words (``r``, ``n``) are ignored: they would match every row."""
MAX_WORDS = 6
"""Words beyond this many are ignored."""
OVERFETCH = 3
"""Rows read per source for each address asked for: room for duplicates (neighbours
in one building, a beneficiary registered twice) before the distinct ones run out."""
MAX_NUMBER_DIGITS = 5
"""Digit groups up to this long are a house number; a CEP has 8 (or 5 + 3)."""

# Every form of a letter that unaccent() folds to it, in both cases: PostgreSQL's
# case-insensitive matching folds only ASCII letters under the C collation.
_ACCENTED = {
    "a": "aáàâãäå",
    "e": "eéèêë",
    "i": "iíìîï",
    "o": "oóòôõö",
    "u": "uúùûü",
    "c": "cç",
    "n": "nñ",
    "y": "yýÿ",
}
_CEP = re.compile(r"(?<!\d)(\d{5})-?(\d{3})(?!\d)")
_CEP_PREFIX_ONLY = re.compile(r"\d{5,8}|\d{5}-\d{0,3}")


@dataclass(frozen=True, slots=True)
class OfflineQuery:
    """What to look for: folded words, a CEP or its prefix, a house number."""

    words: tuple[str, ...] = ()
    cep: str | None = None
    number: str | None = None

    @property
    def searchable(self) -> bool:
        """False when there is nothing to filter by (the box is still being typed in)."""
        return bool(self.words or self.cep)


def parse_offline_query(text: str) -> OfflineQuery:
    """Split ``text`` into words, CEP and house number.

    ``"Av. São João, 439 - Centro"`` → words ``("av", "sao", "joao", "centro")``,
    number ``"439"``; ``"01310-200"`` → CEP ``"01310200"``; ``"01310"`` → CEP prefix.
    """
    stripped = text.strip()
    if _CEP_PREFIX_ONLY.fullmatch(stripped):
        return OfflineQuery(cep=stripped.replace("-", ""))
    cep_match = _CEP.search(stripped)
    cep = cep_match[1] + cep_match[2] if cep_match else None
    rest = _CEP.sub(" ", stripped)
    words: list[str] = []
    number = None
    for token in fold(rest).split():
        if token.isdigit():
            if number is None and len(token) <= MAX_NUMBER_DIGITS:
                number = token
        elif len(token) >= MIN_WORD_CHARS:
            words.append(token)
    return OfflineQuery(tuple(words[:MAX_WORDS]), cep, number)


@dataclass(frozen=True, slots=True)
class SqlAddressSource:
    """A table whose rows carry an address: what the offline geocoder searches.

    Every attribute but ``source`` is a SQL expression (a mapped column, usually) of
    the one table the source reads. ``label`` is shown beside the address (a partner
    site's name); ``searched`` lists more text columns the words may match;
    ``where`` adds conditions (e.g. only some rows of the table).
    """

    source: AddressSource
    street: Any
    number: Any
    complement: Any
    neighbourhood: Any
    city: Any
    state: Any
    cep: Any
    location: Any
    reference: Any = None
    label: Any = None
    searched: tuple[Any, ...] = ()
    where: tuple[Any, ...] = ()


def address_columns_source(
    source: AddressSource,
    model: Any,
    *,
    label: Any = None,
    searched: tuple[Any, ...] = (),
) -> SqlAddressSource:
    """A source over a model with the registry's ``Address`` columns and ``location``
    (and ``reference``, when it has one)."""
    return SqlAddressSource(
        source,
        street=model.street,
        number=model.number,
        complement=model.complement,
        neighbourhood=model.neighbourhood,
        city=model.city,
        state=model.state,
        cep=model.cep,
        location=model.location,
        reference=getattr(model, "reference", None),
        label=label,
        searched=searched,
    )


DEFAULT_SOURCES: tuple[SqlAddressSource, ...] = (
    address_columns_source(
        AddressSource.PARTNER_SITE,
        PartnerSite,
        label=PartnerSite.name,
        searched=(PartnerSite.name,),
    ),
    address_columns_source(AddressSource.BENEFICIARY, Beneficiary),
)
"""Searched in this order: a client's partner sites first, then beneficiaries.
Append the jobs' origins and destinations here when operations have them."""


def accent_pattern(word: str) -> str:
    """A case-insensitive POSIX regex matching ``word`` (``[a-z0-9]`` only, as
    :func:`~geo.addresses.address.fold` leaves it) in any accented spelling."""
    parts = []
    for letter in word:
        forms = _ACCENTED.get(letter)
        parts.append(f"[{forms}{forms.upper()}]" if forms else letter)
    return "".join(parts)


def _param(value: str) -> Any:
    return literal(value, Text)


def source_statement(src: SqlAddressSource, query: OfflineQuery, rows: int) -> Select[Any]:
    """The SELECT of up to ``rows`` rows of ``src`` matching ``query``.

    Rows with ``query.number`` come first, then by street and number.
    """
    text_columns = (src.street, src.neighbourhood, src.city, src.state, *src.searched)
    haystack = func.concat_ws(" ", *text_columns)
    conditions = [haystack.op("~*")(_param(accent_pattern(word))) for word in query.words]
    if query.cep:
        conditions.append(src.cep.like(_param(query.cep + "%")))
    order = [src.street, src.number]
    if query.number is not None:
        order.insert(0, case((src.number == _param(query.number), 0), else_=1))
    geometry = func.geometry(src.location)
    label = src.label if src.label is not None else literal(None, Text)
    reference = src.reference if src.reference is not None else literal(None, Text)
    return (
        select(
            src.street.label("street"),
            src.number.label("number"),
            src.complement.label("complement"),
            src.neighbourhood.label("neighbourhood"),
            src.city.label("city"),
            src.state.label("state"),
            src.cep.label("cep"),
            reference.label("reference"),
            func.ST_Y(geometry, type_=Float).label("lat"),
            func.ST_X(geometry, type_=Float).label("lng"),
            label.label("label"),
        )
        .where(*conditions, *src.where)
        .order_by(*order)
        .limit(rows)
    )


def _address(source: AddressSource, row: Any) -> Address | None:
    fields = row._asdict()
    lat, lng = fields.pop("lat"), fields.pop("lng")
    try:
        point = None if lat is None or lng is None else checked_point(lat, lng)
        return Address(source, point=point, **fields)
    except AddressError:
        return None  # a stored row the value refuses (e.g. an over-long complement)


class OfflineGeocoder:
    """Searches the addresses in PostgreSQL (see the module's docstring)."""

    name = "offline"

    def __init__(
        self,
        session: AsyncSession,
        *,
        allow_outside_brazil: bool = False,
        sources: Sequence[SqlAddressSource] = DEFAULT_SOURCES,
    ) -> None:
        self._session = session
        self._allow_outside_brazil = allow_outside_brazil
        self._sources = tuple(sources)

    async def search(self, text: str, limit: int) -> list[Address]:
        """Up to ``limit`` distinct known addresses matching ``text``, sources in
        order; none while the text has no word of 2 letters or CEP yet.

        Raises:
            GeocoderQueryError: text too long or limit out of range.
        """
        query = parse_offline_query(check_query(text, limit))
        if not query.searchable:
            return []
        found: list[Address] = []
        for src in self._sources:
            rows = await self._session.execute(source_statement(src, query, limit * OVERFETCH))
            addresses = (_address(src.source, row) for row in rows)
            found = unique([*found, *(a for a in addresses if a is not None)], limit)
            found = in_territory(found, self._allow_outside_brazil)
            if len(found) >= limit:
                break
        return found
