"""Sign in and out, who am I, and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from registry.db import utcnow
from registry.enums import TokenKind, UserKind
from registry.models import ApiToken, Role, User, UserSession
from registry.permissions import Permission
from registry.schemas.common import ONE_LINE, InModel
from registry.users import authenticate as check_credentials
from server.api.auth import COOKIE, digest, new_secret, open_session, principal_of
from server.api.core import Access, BodyKind, Ctx, Operation
from server.api.errors import ApiError, not_found
from server.api.login_guard import LoginGuard, LoginPolicy
from server.api.principal import AuthVia, Principal


class LoginIn(InModel):
    login: Annotated[str, Field(min_length=1, max_length=60), ONE_LINE]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class MeOut(BaseModel):
    user_id: int
    login: str
    name: str
    kind: UserKind
    role: str
    permissions: list[str]
    client_id: int | None
    provider_id: int | None
    csrf_token: str | None


class TokenIn(InModel):
    name: Annotated[str, Field(min_length=1, max_length=80), ONE_LINE]
    expires_in_days: Annotated[int, Field(ge=1)] = 90


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str  # shown once


def _me(principal: Principal, csrf_token: str | None) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        login=principal.login,
        name=principal.name,
        kind=principal.kind,
        role=principal.role_name,
        permissions=sorted(principal.permissions),
        client_id=principal.client_id,
        provider_id=principal.provider_id,
        csrf_token=csrf_token,
    )


async def login(ctx: Ctx) -> MeOut:
    body: LoginIn = ctx.body
    settings = ctx.resources.settings
    address = ctx.request.client.host if ctx.request.client else "unknown"
    guard = LoginGuard(
        ctx.resources.redis, settings.redis_prefix, LoginPolicy.of(settings), body.login, address
    )
    await guard.admit()
    user = await check_credentials(ctx.session, body.login, body.password)
    if user is None:
        await guard.failed()
        raise ApiError(401, "bad_credentials", "Login ou senha incorretos.")
    cookie, web = await open_session(ctx.session, user, ctx.request, settings)
    secure = ctx.request.url.scheme == "https"
    ctx.cookies.append((COOKIE, cookie, _cookie_options(settings.session_ttl_hours, secure)))
    await guard.succeeded()
    role = await ctx.session.get(Role, user.role_id)
    assert role is not None  # users.role_id is a foreign key
    principal = principal_of(user, role, AuthVia.SESSION, csrf_token=web.csrf_token)
    return _me(principal, web.csrf_token)


def _cookie_options(ttl_hours: float, secure: bool) -> dict[str, Any]:
    return {
        "max_age": int(ttl_hours * 3600),
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "path": "/",
    }


async def logout(ctx: Ctx) -> None:
    principal = ctx.user
    if principal.session_hash:
        await ctx.session.execute(
            delete(UserSession).where(UserSession.id_hash == principal.session_hash)
        )
    ctx.cookies.append((COOKIE, "", {"max_age": 0, "httponly": True, "samesite": "lax"}))


async def me(ctx: Ctx) -> MeOut:
    return _me(ctx.user, ctx.user.csrf_token)


async def create_token(ctx: Ctx) -> NewTokenOut:
    body: TokenIn = ctx.body
    limit = ctx.resources.settings.api_token_max_days
    if body.expires_in_days > limit:
        raise ApiError(
            422,
            "validation_error",
            "Dados inválidos.",
            [{"field": "expires_in_days", "message": f"No máximo {limit} dias"}],
        )
    secret = new_secret()
    token = ApiToken(
        user_id=ctx.user.user_id,
        kind=TokenKind.API,
        name=body.name,
        token_hash=digest(secret),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=body.expires_in_days),
    )
    ctx.session.add(token)
    await ctx.session.flush()
    return NewTokenOut(
        **TokenOut.model_validate(token, from_attributes=True).model_dump(), token=secret
    )


async def list_tokens(ctx: Ctx) -> list[TokenOut]:
    return await _tokens_of(ctx, ctx.user.user_id)


async def revoke_token(ctx: Ctx) -> None:
    await _revoke(ctx, ctx.user.user_id)


async def _revoke(ctx: Ctx, user_id: int) -> None:
    token = await ctx.session.get(ApiToken, ctx.path["token_id"])
    if token is None or token.user_id != user_id or token.kind != TokenKind.API:
        raise not_found("Token")
    token.revoked_at = token.revoked_at or utcnow()


async def _tokens_of(ctx: Ctx, user_id: int) -> list[TokenOut]:
    rows = await ctx.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.kind == TokenKind.API)
        .order_by(ApiToken.id)
    )
    return [TokenOut.model_validate(row, from_attributes=True) for row in rows]


async def _user(ctx: Ctx) -> int:
    user_id: int = ctx.path["user_id"]
    if await ctx.session.get(User, user_id) is None:
        raise not_found("Usuário")
    return user_id


async def list_user_tokens(ctx: Ctx) -> list[TokenOut]:
    """An administrator lists another user's API tokens (never their secrets)."""
    return await _tokens_of(ctx, await _user(ctx))


async def revoke_user_token(ctx: Ctx) -> None:
    """An administrator revokes one of another user's API tokens."""
    await _revoke(ctx, await _user(ctx))


OPERATIONS = [
    Operation(
        "POST",
        "/auth/login",
        login,
        "Sign in (sets the session cookie)",
        "auth",
        access=Access.PUBLIC,
        body=LoginIn,
        body_kind=BodyKind.MODEL,
        response=MeOut,
        errors=(401, 429),
    ),
    Operation("POST", "/auth/logout", logout, "Sign out", "auth", access=Access.USER, status=204),
    Operation(
        "GET", "/auth/me", me, "The signed-in user", "auth", access=Access.USER, response=MeOut
    ),
    Operation(
        "POST",
        "/auth/tokens",
        create_token,
        "Issue an API token (shown once)",
        "auth",
        access=Access.USER,
        body=TokenIn,
        body_kind=BodyKind.MODEL,
        response=NewTokenOut,
        status=201,
    ),
    Operation(
        "GET",
        "/auth/tokens",
        list_tokens,
        "My API tokens",
        "auth",
        access=Access.USER,
        response=list[TokenOut],
    ),
    Operation(
        "DELETE",
        "/auth/tokens/{token_id:int}",
        revoke_token,
        "Revoke an API token",
        "auth",
        access=Access.USER,
        status=204,
    ),
    Operation(
        "GET",
        "/users/{user_id:int}/tokens",
        list_user_tokens,
        "A user's API tokens (administrators)",
        "auth",
        permission=Permission.SECURITY_MANAGE_USERS,
        response=list[TokenOut],
    ),
    Operation(
        "DELETE",
        "/users/{user_id:int}/tokens/{token_id:int}",
        revoke_user_token,
        "Revoke a user's API token (administrators)",
        "auth",
        permission=Permission.SECURITY_MANAGE_USERS,
        status=204,
    ),
]
