"""The entry point of the fast search: :func:`search` classifies the text and runs
the search its kind calls for (names, documents or plates), within ``limit``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import ValidationError
from registry.search.hits import SearchHit
from registry.search.identifiers import _search_documents, _search_plates
from registry.search.names import _search_names
from registry.search.query import QueryKind, classify

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
"""Largest ``limit`` accepted by :func:`search`."""


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
