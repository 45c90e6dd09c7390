"""``GET /api/v1/search?q=``: beneficiaries and vehicles by name, plate or CPF/CNPJ,
fast enough to call as the operator types (see docs/search.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from registry.permissions import Permission
from registry.schemas.common import Id, InModel
from registry.search import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS, SearchHit, search
from server.api.core import Access, Ctx, Operation

P = Permission


class SearchQueryIn(InModel):
    q: Annotated[str, Field(max_length=MAX_QUERY_CHARS)]
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    client_id: Id | None = None


class SearchOut(BaseModel):
    hits: list[SearchHit]


async def find(ctx: Ctx) -> SearchOut:
    query: SearchQueryIn = ctx.query
    principal = ctx.user
    client_id = principal.client_id if principal.is_client_user else query.client_id
    hits = await search(ctx.session, query.q, client_id=client_id, limit=query.limit)
    return SearchOut(hits=hits)


OPERATIONS = [
    Operation(
        "GET",
        "/search",
        find,
        "Find beneficiaries and vehicles by name, plate or CPF/CNPJ",
        "search",
        Access.PORTAL,
        P.REGISTRY_VIEW,
        query=SearchQueryIn,
        response=SearchOut,
    ),
]
