"""The registry's fast search: beneficiaries by name or document, vehicles by plate.

One text box, typed into by an operator while the caller speaks: :func:`search`
finds what the text means, best first, cheaply enough to run on every keystroke
(``docs/search.md``). A pipeline of small steps, one per module:

* :mod:`~registry.search.query`: :func:`classify` (pure), what the text is: a
  document, a plate, a name, or nothing yet;
* :mod:`~registry.search.find`: :func:`search`, the entry point, one search per kind;
* :mod:`~registry.search.names`: names in tiers, each a bounded index read;
* :mod:`~registry.search.identifiers`: CPF/CNPJ and plate prefixes, index ranges;
* :mod:`~registry.search.hits`: :class:`SearchHit`, what a search returns;
* :mod:`~registry.search.sql`: bound parameters and prefix ranges shared by all.

Import from this package; the modules are its layout, not its interface. The
bounds are re-exported for reading: each module reads its own, so a test that
changes one patches the module that holds it.
"""

from registry.search.find import DEFAULT_LIMIT, MAX_LIMIT, search
from registry.search.hits import AnyRow, HitKind, MatchedOn, SearchHit
from registry.search.names import (
    FIRST_WORD_SCAN,
    MAX_FIRST_WORD_BRANCHES,
    NAME_CANDIDATES,
    RARE_CANDIDATES,
    SAMPLE_SCAN,
    WORD_KEY_CHARS,
    WORD_MARK,
    Tier,
    name_key,
)
from registry.search.query import (
    MAX_DOCUMENT_DIGITS,
    MAX_NAME_TOKENS,
    MAX_QUERY_CHARS,
    MIN_DOCUMENT_DIGITS,
    MIN_NAME_TOKEN_CHARS,
    QueryKind,
    SearchQuery,
    classify,
    normalize_name,
    other_plate_form,
)

__all__ = [
    "DEFAULT_LIMIT",
    "FIRST_WORD_SCAN",
    "MAX_DOCUMENT_DIGITS",
    "MAX_FIRST_WORD_BRANCHES",
    "MAX_LIMIT",
    "MAX_NAME_TOKENS",
    "MAX_QUERY_CHARS",
    "MIN_DOCUMENT_DIGITS",
    "MIN_NAME_TOKEN_CHARS",
    "NAME_CANDIDATES",
    "RARE_CANDIDATES",
    "SAMPLE_SCAN",
    "WORD_KEY_CHARS",
    "WORD_MARK",
    "AnyRow",
    "HitKind",
    "MatchedOn",
    "QueryKind",
    "SearchHit",
    "SearchQuery",
    "Tier",
    "classify",
    "name_key",
    "normalize_name",
    "other_plate_form",
    "search",
]
