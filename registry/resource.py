"""The description of a registry resource, from which the API builds its endpoints.

A :class:`ResourceSpec` names the model, its request and response schemas, the
permissions, where it hangs (a parent), how client-portal users are scoped, and
the hooks that turn validated input into column values. Keeping this in data
makes every resource behave the same way: pagination, filters, audit, errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db import Base
from registry.permissions import Permission

Values = dict[str, Any]
# (session, values from the validated input, path ids, the existing row or None)
ToColumns = Callable[[AsyncSession, Values, dict[str, int], Any], Awaitable[Values]]
# (session, the saved row, values from the validated input) -> None
AfterWrite = Callable[[AsyncSession, Any, Values], Awaitable[None]]
# (session, row) -> response model
ToOut = Callable[[AsyncSession, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Parent:
    """The record a nested resource hangs from (``/clients/{client_id}/contacts``)."""

    param: str  # path parameter and child column, e.g. "client_id"
    model: type[Base]
    entity: str  # audit entity name of the parent, e.g. "client"
    title: str  # pt-BR, for "Cliente não encontrado."
    portal_column: str | None = None  # the parent's column holding the client id


@dataclass(frozen=True)
class Permissions:
    view: Permission
    create: Permission
    edit: Permission
    delete: Permission


@dataclass(frozen=True)
class ResourceSpec:
    name: str  # URL segment, e.g. "clients"
    entity: str  # audit entity name, e.g. "client"
    title: str  # pt-BR singular, for messages
    model: type[Base]
    schema_in: type[BaseModel]
    schema_out: type[BaseModel]
    permissions: Permissions
    parent: Parent | None = None
    # For client-portal users: the column holding their client id ("client_id",
    # or "id" on clients). None: portal users have no access.
    portal_column: str | None = None
    filters: tuple[str, ...] = ()
    sort: tuple[str, ...] = ("id",)
    text_search: tuple[str, ...] = ()
    point_fields: tuple[str, ...] = ()
    write_only: tuple[str, ...] = ()  # input fields that are not columns (password)
    to_columns: ToColumns | None = None
    after_write: AfterWrite | None = None
    to_out: ToOut | None = None

    @property
    def path(self) -> str:
        if self.parent is None:
            return f"/{self.name}"
        parent_name = self.parent.model.__tablename__
        return f"/{parent_name}/{{{self.parent.param}:int}}/{self.name}"
