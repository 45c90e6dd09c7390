"""Searching by an identifier's prefix: beneficiaries by CPF/CNPJ, vehicles by plate.

Both are ranges of a btree index in the identifier's order. Partial plates in both
formats are two range branches, not an OR (which a generic plan would answer by
reading the whole plate index).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from registry.models import Beneficiary, Client, Vehicle
from registry.search.hits import HitKind, MatchedOn, SearchHit, _hit, _hit_columns
from registry.search.query import SearchQuery
from registry.search.sql import _of_client, _param, _starts_with

_PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DOCUMENT_ALPHABET = _PLATE_ALPHABET
"""A document's characters: digits, and an alphanumeric CNPJ's upper-case letters."""


async def _search_documents(
    session: AsyncSession, prefix: str, client_id: int | None, limit: int
) -> list[SearchHit]:
    statement = (
        select(*_hit_columns())
        .join(Client, Client.id == Beneficiary.client_id)
        .where(_starts_with(Beneficiary.document, prefix, _DOCUMENT_ALPHABET))
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
