"""One shape for every list the API pages: ``?page=`` (from 1) and ``?page_size=``
(up to :data:`MAX_PAGE_SIZE`) in, ``{"items", "total", "page", "page_size"}`` out.
Registry lists, incidents and jobs alike."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from registry.schemas.common import InModel

MAX_PAGE_SIZE = 500  # the console's dispatch queue reads up to this many at once
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 100_000

Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]


class PageQuery(InModel):
    """The paging parameters; list queries extend it with their filters."""

    page: Page = 1
    page_size: PageSize = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class PageOut(BaseModel):
    """A page: its items, how many the whole list holds, and where it is."""

    items: list[Any]
    total: int
    page: int
    page_size: int
