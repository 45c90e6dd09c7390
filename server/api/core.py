"""The API's machinery: operations, their request context, and the wrapper that
authenticates, authorises, validates, runs the handler in one transaction (the
operations unit of work, when the handler changes incidents or jobs, joins it),
runs the after-commit hooks and answers JSON; every error is answered by the one
table of :mod:`server.api.errors`.

An :class:`Operation` declares everything about an endpoint (path, permission,
query and body models, response model); the same declaration builds the Starlette
route and the OpenAPI document (:mod:`server.api.openapi`), so the document says
what the server really checks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson
import pydantic
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from operations.service import AfterCommit, UnitOfWork, run_after_commit
from registry.audit import Actor
from registry.errors import ProviderBlocked
from registry.permissions import Permission
from server.api import auth
from server.api.errors import (
    MAX_REPORTED_FIELDS,
    ApiError,
    Field,
    forbidden,
    invalid,
    not_found,
    pydantic_fields,
    translate,
    unauthorized,
)
from server.api.principal import AuthVia, Principal
from server.http import error_response, json_response
from server.logs import request_id_var
from server.resources import Resources

log = logging.getLogger("acionar.api")

PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(StrEnum):
    """Who may call an operation, beyond its permission."""

    PUBLIC = "public"  # anyone, signed in or not
    USER = "user"  # any signed-in user
    PERMISSION = "permission"  # users whose role grants the operation's permission
    PORTAL = "portal"  # the permission, or a client-portal user (the handler scopes)


class BodyKind(StrEnum):
    NONE = "none"
    MODEL = "model"  # JSON validated by the operation's body model
    PATCH = "patch"  # a JSON object, validated by the handler after merging
    RAW = "raw"  # the handler reads the request stream itself


@dataclass
class Ctx:
    """What a handler gets: the request, who calls, a session inside the request's
    transaction, and the validated inputs."""

    request: Request
    principal: Principal | None
    session: AsyncSession
    resources: Resources
    path: dict[str, Any]
    query: Any = None
    body: Any = None
    cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    # Run once the transaction has committed (kicking the outbox relay, busy flags
    # in Redis: nothing may happen for a change that was then rolled back).
    after_commit: list[AfterCommit] = field(default_factory=list)
    _uow: UnitOfWork | None = None

    @property
    def uow(self) -> UnitOfWork:
        """The operations unit of work in this request's transaction."""
        if self._uow is None:
            operations = self.request.app.state.live.operations
            self._uow = operations.joined(self.session, self.after_commit)
        return self._uow

    @property
    def now(self) -> datetime:
        """This request's instant, from the Operations clock (its unit of work's):
        what an answer's ``late`` is computed against, the instant its changes were
        made at, and what tests move instead of sleeping."""
        return self.uow.now

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise unauthorized()
        return self.principal

    @property
    def actor(self) -> Actor:
        principal = self.user
        return Actor(principal.user_id, principal.login, request_id_var.get())


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # under PREFIX, Starlette syntax: /clients/{client_id:int}
    handler: Handler
    summary: str
    tag: str
    access: Access = Access.PERMISSION
    permission: Permission | None = None
    query: type[pydantic.BaseModel] | None = None
    body: type[pydantic.BaseModel] | None = None
    body_kind: BodyKind = BodyKind.NONE
    response: Any = None  # a pydantic model, list[...] of one, or None
    status: int = 200
    raw_content_types: tuple[str, ...] = ()
    # Request fields that errors of these classes are about (when they name none).
    blame: Mapping[type[BaseException], str] | None = None
    # Statuses it may answer beyond those every operation of its kind may (the
    # OpenAPI document lists both: server/api/openapi.py).
    errors: tuple[int, ...] = ()


def _authorised(op: Operation, principal: Principal | None) -> None:
    if op.access is Access.PUBLIC:
        return
    if principal is None:
        raise unauthorized()
    if principal.provider_blocked:
        raise ProviderBlocked()  # the error table answers it (403 provider_blocked)
    if op.access is Access.USER or op.permission is None:
        return
    if principal.can(op.permission):
        return
    if op.access is Access.PORTAL and principal.is_client_user:
        return
    raise forbidden()


def _check_csrf(request: Request, principal: Principal | None) -> None:
    """Cookie sessions must echo their CSRF token on every state-changing request."""
    if principal is None or principal.via is not AuthVia.SESSION:
        return
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("x-csrf-token") != principal.csrf_token:
        raise ApiError(403, "csrf_failed", "Sessão sem o token CSRF: recarregue a página.")


def _validate(model: type[pydantic.BaseModel], data: Any, prefix: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:  # its fields, under ``prefix``
        raise invalid(pydantic_fields(exc, prefix)) from exc


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, at most ``limit`` bytes (413 beyond, 400 if not JSON)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"Corpo da requisição maior que {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "too_large", f"Corpo da requisição maior que {limit} bytes.")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "bad_json", "O corpo da requisição não é um JSON válido.") from exc


NUL = "\x00"
NUL_MESSAGE = "Caractere nulo (\\0) não é permitido"


def nul_fields(data: Any, prefix: str = "") -> list[Field]:
    """The fields of decoded JSON (or query parameters) whose text holds a NUL
    character, which no PostgreSQL text can store: refused before they reach it
    (the first :data:`MAX_REPORTED_FIELDS` found)."""
    found: list[Field] = []
    stack: list[tuple[str, Any]] = [(prefix, data)]
    while stack and len(found) < MAX_REPORTED_FIELDS:
        path, value = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                found.append({"field": path or "body", "message": NUL_MESSAGE})
        elif isinstance(value, dict):
            stack.extend((_join(path, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((_join(path, str(i)), item) for i, item in enumerate(value))
    return found


def _join(path: str, key: str) -> str:
    key = key.replace(NUL, "\\0")
    return f"{path}.{key}" if path else key


def _query(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if refused := nul_fields({k: k + v for k, v in params.items()}, "query"):
        raise invalid(refused)
    return params


async def _inputs(op: Operation, ctx: Ctx) -> None:
    if op.query is not None:
        ctx.query = _validate(op.query, _query(ctx.request), "query")
    if op.body_kind in (BodyKind.MODEL, BodyKind.PATCH):
        data = await read_json(ctx.request, ctx.resources.settings.api_max_body_bytes)
        if refused := nul_fields(data):
            raise invalid(refused)
        if op.body_kind is BodyKind.PATCH:
            if not isinstance(data, dict):
                raise invalid([{"field": "body", "message": "Informe um objeto JSON"}])
            ctx.body = data
        else:
            assert op.body is not None
            ctx.body = _validate(op.body, data, "")


def _serialise(result: Any) -> Any:
    if isinstance(result, pydantic.BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_serialise(item) for item in result]
    if isinstance(result, dict):
        return {key: _serialise(value) for key, value in result.items()}
    return result


def _respond(op: Operation, ctx: Ctx, result: Any) -> Response:
    if isinstance(result, Response):
        response = result
    elif result is None and op.status == 204:
        response = Response(status_code=204)
    else:
        response = json_response(_serialise(result), status_code=op.status)
    for key, value, options in ctx.cookies:
        response.set_cookie(key, value, **options)
    return response


def _error(exc: ApiError) -> Response:
    response = error_response(exc.code, exc.message, exc.status, exc.fields)
    response.headers.update(exc.headers)
    return response


MAX_ID = 2**31 - 1  # ids are PostgreSQL integers


def _path_ids(request: Request) -> dict[str, Any]:
    """Path parameters; an id no row can have is simply not found."""
    params = dict(request.path_params)
    for value in params.values():
        if isinstance(value, int) and not 0 < value <= MAX_ID:
            raise not_found()
    return params


async def _run(op: Operation, request: Request) -> Response:
    resources: Resources = request.app.state.resources
    async with resources.sessions() as session, session.begin():
        principal = await auth.authenticate(request, session, resources.settings)
        _authorised(op, principal)
        _check_csrf(request, principal)
        ctx = Ctx(request, principal, session, resources, _path_ids(request))
        await _inputs(op, ctx)
        result = await op.handler(ctx)
    await run_after_commit(ctx.after_commit)
    return _respond(op, ctx, result)


def endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of an operation: every known error becomes JSON; any
    other is a bug, answered 500 by the app's handler."""

    async def handle(request: Request) -> Response:
        try:
            return await _run(op, request)
        except Exception as exc:
            error = translate(exc, op.blame)
            if error is None:
                raise
            if error.status == 503:
                log.warning("%s %s: a service is unavailable: %r", op.method, op.path, exc)
            metrics = getattr(request.app.state, "metrics", None)
            if metrics is not None:
                metrics.api_errors.labels(error.code).inc()
            return _error(error)

    return handle


@dataclass
class Api:
    """The set of operations: it builds the routes and the OpenAPI document."""

    operations: list[Operation] = field(default_factory=list)

    def add(self, *operations: Operation) -> None:
        self.operations.extend(operations)

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, Operation]] = {}
        for op in self.operations:
            by_path.setdefault(op.path, {})[op.method] = op
        return [_route(path, ops) for path, ops in by_path.items()]


def _route(path: str, ops: dict[str, Operation]) -> Route:
    handlers = {method: endpoint(op) for method, op in ops.items()}

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(PREFIX + path, dispatch, methods=list(ops))
