"""The HTTP API under /api/v1: every operation, the routes and the OpenAPI document."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from registry.resources import RESOURCES
from server.api import (
    addresses,
    arrivals,
    auth_routes,
    candidates,
    console,
    crud,
    devices,
    events,
    files,
    imports,
    incidents,
    jobs,
    offers,
    portal,
    records,
    search,
)
from server.api.core import PREFIX, Api
from server.api.openapi import build_openapi
from server.http import json_response

VERSION = "1"


def build_api() -> Api:
    api = Api()
    api.add(*auth_routes.OPERATIONS)
    for spec in RESOURCES:
        api.add(*crud.operations(spec))
    api.add(*records.OPERATIONS)
    api.add(*files.OPERATIONS)
    api.add(*imports.OPERATIONS)
    api.add(*search.OPERATIONS)
    api.add(*devices.OPERATIONS)
    api.add(*candidates.OPERATIONS)
    api.add(*incidents.OPERATIONS)
    api.add(*jobs.OPERATIONS)
    api.add(*offers.OPERATIONS)
    api.add(*arrivals.OPERATIONS)
    api.add(*events.OPERATIONS)
    api.add(*console.OPERATIONS)
    api.add(*addresses.OPERATIONS)
    api.add(*portal.OPERATIONS)
    return api


@functools.cache
def api_routes() -> list[BaseRoute]:
    """The API's routes, plus /api/v1/openapi.json (built once per process)."""
    api = build_api()
    document: dict[str, Any] = build_openapi(api.operations, VERSION)

    async def openapi(request: Request) -> Response:
        return json_response(document)

    return [*api.routes(), Route(PREFIX + "/openapi.json", openapi, methods=["GET"])]
