"""List, read, create, update and delete endpoints built from a ResourceSpec.

Lists paginate (``page``, ``page_size`` up to MAX_PAGE_SIZE), sort (``sort=name`` or
``sort=-name`` among the spec's sort fields), filter by exact value on the spec's
filter fields, and search text (``q``: accent- and case-insensitive, partial) on its
text fields. Client-portal users see only their own client's rows. PATCH merges the
given fields into the current record and validates the whole result with the same
schema as POST, so cross-field rules hold on updates too.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, Field, create_model
from sqlalchemy import ColumnElement, Select, String, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.crud import create_row, delete_row, update_row
from registry.points import Point
from registry.resource import ResourceSpec, Values
from registry.schemas.common import Id
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import ApiError, invalid, not_found
from server.api.paging import DEFAULT_PAGE_SIZE, Page, PageOut, PageSize
from server.api.principal import Principal

MAX_QUERY_TEXT = 100
INT4 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]  # a PostgreSQL integer


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _column_type(spec: ResourceSpec, name: str) -> Any:
    """The type of a filter on ``name``: what the column can hold, so a value it cannot
    (an id beyond PostgreSQL's integer, a text longer than the column) is a 422."""
    column = inspect(spec.model).columns[name]
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return str
    if python_type is int:
        return Id if column.foreign_keys or name == "id" else INT4
    if python_type is bool or (isinstance(python_type, type) and issubclass(python_type, Enum)):
        return python_type  # an enum: its values, listed in the OpenAPI document too
    return Annotated[str, Field(max_length=MAX_QUERY_TEXT)]


def list_query_model(spec: ResourceSpec) -> type[BaseModel]:
    """The query parameters of a list endpoint, as a pydantic model (for OpenAPI too)."""
    sort_values = tuple(s for name in spec.sort for s in (name, f"-{name}"))
    fields: dict[str, Any] = {
        "page": (Page, 1),
        "page_size": (PageSize, DEFAULT_PAGE_SIZE),
        "sort": (Literal[sort_values] | None, None),
    }
    if spec.text_search:
        fields["q"] = (Annotated[str, Field(max_length=MAX_QUERY_TEXT)] | None, None)
    for name in spec.filters:
        fields[name] = (_column_type(spec, name) | None, None)
    model_name = _camel(spec.entity) + "ListQuery"
    return create_model(model_name, __config__=pydantic.ConfigDict(extra="forbid"), **fields)


def page_model(spec: ResourceSpec) -> type[BaseModel]:
    name = _camel(spec.entity) + "Page"
    return create_model(name, __base__=PageOut, items=(list[spec.schema_out], ...))  # type: ignore[name-defined]


# -- scoping --------------------------------------------------------------------------


def _portal_client(principal: Principal | None) -> int | None:
    """The client id a client-portal user is confined to (None for staff)."""
    if principal is None or not principal.is_client_user:
        return None
    return principal.client_id


async def _check_parent(ctx: Ctx, spec: ResourceSpec) -> dict[str, int]:
    """The parent ids of the path, checked to exist and to be within the caller's scope."""
    parent = spec.parent
    if parent is None:
        return {}
    parent_id = int(ctx.path[parent.param])
    row = await ctx.session.get(parent.model, parent_id)
    client = _portal_client(ctx.principal)
    if row is None or (client is not None and getattr(row, parent.portal_column or "") != client):
        raise not_found(parent.title)
    return {parent.param: parent_id}


def _scoped(
    spec: ResourceSpec, statement: Select[Any], ctx: Ctx, ids: dict[str, int]
) -> Select[Any]:
    for column, value in ids.items():
        statement = statement.where(getattr(spec.model, column) == value)
    client = _portal_client(ctx.principal)
    if client is not None and spec.parent is None and spec.portal_column:
        statement = statement.where(getattr(spec.model, spec.portal_column) == client)
    return statement


async def _get_row(ctx: Ctx, spec: ResourceSpec) -> tuple[Any, dict[str, int]]:
    ids = await _check_parent(ctx, spec)
    row_id = int(ctx.path["item_id"])
    statement = _scoped(spec, select(spec.model).where(spec.model.id == row_id), ctx, ids)  # type: ignore[attr-defined]
    row = await ctx.session.scalar(statement)
    if row is None:
        raise not_found(spec.title)
    return row, ids


# -- listing --------------------------------------------------------------------------


def _text_filter(spec: ResourceSpec, text: str) -> ColumnElement[bool]:
    needle = func.immutable_unaccent(func.lower(f"%{like_escaped(text.strip())}%"))
    return or_(
        *(
            func.immutable_unaccent(func.lower(getattr(spec.model, c))).like(needle, escape="\\")
            for c in spec.text_search
        )
    )


def like_escaped(text: str) -> str:
    """``text`` matched literally inside a LIKE pattern (escape character ``\\``):
    ``%`` and ``_`` typed by a user are letters, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(spec: ResourceSpec, statement: Select[Any], query: Any) -> Select[Any]:
    for name in spec.filters:
        value = getattr(query, name)
        if value is not None:
            statement = statement.where(getattr(spec.model, name) == value)
    text = getattr(query, "q", None)
    if text and text.strip():
        statement = statement.where(_text_filter(spec, text))
    return statement


def _ordered(spec: ResourceSpec, statement: Select[Any], sort: str | None) -> Select[Any]:
    key = sort or spec.sort[0]
    column = getattr(spec.model, key.lstrip("-"))
    if isinstance(column.type, String):
        # Operators expect "Álvaro" beside "Alberto", whatever the database's collation.
        column = func.immutable_unaccent(func.lower(column))
    primary = column.desc() if key.startswith("-") else column.asc()
    return statement.order_by(primary, spec.model.id)  # type: ignore[attr-defined]


async def out(spec: ResourceSpec, session: AsyncSession, row: Any) -> BaseModel:
    if spec.to_out is not None:
        return await spec.to_out(session, row)
    return spec.schema_out.model_validate(row)


async def _list(ctx: Ctx, spec: ResourceSpec) -> PageOut:
    ids = await _check_parent(ctx, spec)
    query = ctx.query
    base = _filtered(spec, _scoped(spec, select(spec.model), ctx, ids), query)
    total = await ctx.session.scalar(select(func.count()).select_from(base.subquery()))
    statement = _ordered(spec, base, query.sort).limit(query.page_size)
    rows = await ctx.session.scalars(statement.offset((query.page - 1) * query.page_size))
    items = [await out(spec, ctx.session, row) for row in rows]
    return PageOut(items=items, total=total or 0, page=query.page, page_size=query.page_size)


# -- writing --------------------------------------------------------------------------


async def _columns(
    ctx: Ctx, spec: ResourceSpec, data: BaseModel, ids: dict[str, int], existing: Any
) -> Values:
    values = data.model_dump()
    if spec.to_columns is not None:
        values = await spec.to_columns(ctx.session, values, ids, existing)
    for name in spec.point_fields:
        point = values.get(name)
        values[name] = Point(point["lat"], point["lng"]).element() if point else None
    for name in spec.write_only:
        values.pop(name, None)
    return {**values, **ids}


def _parent_ref(spec: ResourceSpec, ids: dict[str, int]) -> tuple[str, int] | None:
    if spec.parent is None:
        return None
    return spec.parent.entity, ids[spec.parent.param]


def _validate_in(spec: ResourceSpec, data: dict[str, Any]) -> BaseModel:
    return spec.schema_in.model_validate(data)  # its errors: 422 by the error table


async def _create(ctx: Ctx, spec: ResourceSpec) -> BaseModel:
    ids = await _check_parent(ctx, spec)
    _forbid_foreign_client(ctx, ctx.body)
    values = await _columns(ctx, spec, ctx.body, ids, None)
    row = await create_row(
        ctx.session, ctx.actor, spec.entity, spec.model, values, _parent_ref(spec, ids)
    )
    if spec.after_write is not None:
        await spec.after_write(ctx.session, row, ctx.body.model_dump())
    return await out(spec, ctx.session, row)


def _current_input(spec: ResourceSpec, current: BaseModel) -> dict[str, Any]:
    """The current record expressed as input fields (what PATCH merges into)."""
    dumped = current.model_dump(mode="json")
    return {name: dumped[name] for name in spec.schema_in.model_fields if name in dumped}


async def _update(ctx: Ctx, spec: ResourceSpec) -> BaseModel:
    row, ids = await _get_row(ctx, spec)
    unknown = set(ctx.body) - set(spec.schema_in.model_fields)
    if unknown:
        raise invalid(
            [{"field": name, "message": "Campo desconhecido"} for name in sorted(unknown)]
        )
    merged = {**_current_input(spec, await out(spec, ctx.session, row)), **ctx.body}
    data = _validate_in(spec, merged)
    _forbid_foreign_client(ctx, data)
    _forbid_own_user(ctx, spec, row, data)
    values = await _columns(ctx, spec, data, ids, row)
    await update_row(ctx.session, ctx.actor, spec.entity, row, values, _parent_ref(spec, ids))
    if spec.after_write is not None:
        await spec.after_write(ctx.session, row, data.model_dump())
    return await out(spec, ctx.session, row)


def _forbid_foreign_client(ctx: Ctx, data: BaseModel) -> None:
    """A client-portal user cannot write records of another client."""
    client = _portal_client(ctx.principal)
    if client is not None and getattr(data, "client_id", client) != client:
        raise invalid([{"field": "client_id", "message": "Cliente não permitido"}])


def _forbid_own_user(ctx: Ctx, spec: ResourceSpec, row: Any, data: BaseModel | None) -> None:
    """Nobody deletes or deactivates the user they are signed in as: the last
    administrator would lock everyone out, and the deletion's audit line would name
    an actor that no longer exists."""
    if spec.entity != "user" or ctx.principal is None or row.id != ctx.principal.user_id:
        return
    if data is None or not getattr(data, "active", True):
        raise ApiError(409, "own_user", "Você não pode excluir nem desativar o próprio usuário.")


async def _delete(ctx: Ctx, spec: ResourceSpec) -> None:
    row, ids = await _get_row(ctx, spec)
    _forbid_own_user(ctx, spec, row, None)
    await delete_row(ctx.session, ctx.actor, spec.entity, row, _parent_ref(spec, ids))


# -- operations -----------------------------------------------------------------------


def operations(spec: ResourceSpec) -> list[Operation]:
    """The five endpoints of a resource."""
    perms = spec.permissions
    read_access = Access.PORTAL if _portal_visible(spec) else Access.PERMISSION
    item = spec.path + "/{item_id:int}"
    tag = spec.parent.model.__tablename__ if spec.parent else spec.name
    title = spec.title

    async def list_(ctx: Ctx) -> PageOut:
        return await _list(ctx, spec)

    async def get(ctx: Ctx) -> BaseModel:
        row, _ = await _get_row(ctx, spec)
        return await out(spec, ctx.session, row)

    async def create(ctx: Ctx) -> BaseModel:
        return await _create(ctx, spec)

    async def update(ctx: Ctx) -> BaseModel:
        return await _update(ctx, spec)

    async def delete(ctx: Ctx) -> None:
        await _delete(ctx, spec)

    return [
        Operation(
            "GET",
            spec.path,
            list_,
            f"List: {title}",
            tag,
            read_access,
            perms.view,
            query=list_query_model(spec),
            response=page_model(spec),
        ),
        Operation(
            "POST",
            spec.path,
            create,
            f"Create: {title}",
            tag,
            permission=perms.create,
            body=spec.schema_in,
            body_kind=BodyKind.MODEL,
            response=spec.schema_out,
            status=201,
        ),
        Operation(
            "GET",
            item,
            get,
            f"Read: {title}",
            tag,
            read_access,
            perms.view,
            response=spec.schema_out,
        ),
        Operation(
            "PATCH",
            item,
            update,
            f"Update: {title}",
            tag,
            permission=perms.edit,
            body=spec.schema_in,
            body_kind=BodyKind.PATCH,
            response=spec.schema_out,
        ),
        Operation(
            "DELETE",
            item,
            delete,
            f"Delete: {title}",
            tag,
            permission=perms.delete,
            status=204,
        ),
    ]


def _portal_visible(spec: ResourceSpec) -> bool:
    if spec.parent is not None:
        return spec.parent.portal_column is not None
    return spec.portal_column is not None
