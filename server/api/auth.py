"""Authentication: web sessions (cookie + CSRF token) and bearer tokens.

* Web: ``POST /api/v1/auth/login`` sets the ``acionar_session`` cookie (HttpOnly,
  SameSite=Lax, Secure when served over TLS) holding a random id; the database keeps
  only its SHA-256, the session's CSRF token and its expiry. A session expires after
  SESSION_IDLE_MINUTES unused and SESSION_TTL_HOURS at most. State-changing requests
  made with the cookie must send the CSRF token in ``X-CSRF-Token``.
* API clients: ``Authorization: Bearer <token>``, tokens issued by
  ``POST /api/v1/auth/tokens``; only their SHA-256 is stored.

Neither works for an inactive user. A provider's user while the provider is blocked
is signed in with ``provider_blocked`` set: the API refuses it (403
``provider_blocked``), the portal socket closes with 4006; its sessions and tokens
work again if the provider is unblocked before they expire.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request

from registry.db import utcnow
from registry.enums import ProviderStatus, TokenKind
from registry.models import ApiToken, Provider, Role, User, UserSession
from server.api.principal import AuthVia, Principal
from server.settings import Settings

COOKIE = "acionar_session"
TOKEN_BYTES = 32
# last_seen_at / last_used_at are written at most this often, not on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def principal_of(
    user: User, role: Role, via: AuthVia, *, provider_blocked: bool = False, **extra: str | None
) -> Principal:
    """The principal of a signed-in user (``provider_blocked``: the user's provider is
    blocked now)."""
    return Principal(
        user_id=user.id,
        login=user.login,
        name=user.name,
        kind=user.kind,
        role_name=role.name,
        permissions=frozenset(role.permissions),
        client_id=user.client_id,
        provider_id=user.provider_id,
        via=via,
        provider_blocked=provider_blocked,
        **extra,
    )


def _session_expiry(created: datetime, now: datetime, settings: Settings) -> datetime:
    idle = now + timedelta(minutes=settings.session_idle_minutes)
    return min(idle, created + timedelta(hours=settings.session_ttl_hours))


# Every request runs one of these: built once (SQLAlchemy keeps their compiled form).
_BY_COOKIE = (
    select(UserSession, User, Role, Provider.status)
    .join(User, User.id == UserSession.user_id)
    .join(Role, Role.id == User.role_id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(UserSession.id_hash == bindparam("hash"), UserSession.expires_at > bindparam("now"))
)
_BY_TOKEN = (
    select(ApiToken, User, Role, Provider.status)
    .join(User, User.id == ApiToken.user_id)
    .join(Role, Role.id == User.role_id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        ApiToken.token_hash == bindparam("hash"),
        ApiToken.kind == TokenKind.API,
        ApiToken.revoked_at.is_(None),
    )
)


async def _from_cookie(session: AsyncSession, cookie: str, settings: Settings) -> Principal | None:
    now = utcnow()
    row = (await session.execute(_BY_COOKIE, {"hash": digest(cookie), "now": now})).first()
    if row is None or not row.User.active:
        return None
    web, user, role, status = row
    if now - web.last_seen_at > TOUCH_INTERVAL:
        web.last_seen_at = now
        web.expires_at = _session_expiry(web.created_at, now, settings)
    return principal_of(
        user,
        role,
        AuthVia.SESSION,
        csrf_token=web.csrf_token,
        session_hash=web.id_hash,
        provider_blocked=status is ProviderStatus.BLOCKED,
    )


async def _from_bearer(session: AsyncSession, token: str) -> Principal | None:
    now = utcnow()
    row = (await session.execute(_BY_TOKEN, {"hash": digest(token)})).first()
    if row is None or not row.User.active:
        return None
    api_token, user, role, status = row
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    if api_token.last_used_at is None or now - api_token.last_used_at > TOUCH_INTERVAL:
        api_token.last_used_at = now
    return principal_of(
        user, role, AuthVia.TOKEN, provider_blocked=status is ProviderStatus.BLOCKED
    )


async def authenticate(
    request: HTTPConnection, session: AsyncSession, settings: Settings
) -> Principal | None:
    """The caller, from a bearer token or the session cookie; None if anonymous."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await _from_bearer(session, token.strip())
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return await _from_cookie(session, cookie, settings)
    return None


async def open_session(
    session: AsyncSession, user: User, request: Request, settings: Settings
) -> tuple[str, UserSession]:
    """Create a web session for ``user``; returns the cookie value and the row."""
    cookie = new_secret()
    now = utcnow()
    client = request.client.host if request.client else None
    web = UserSession(
        id_hash=digest(cookie),
        user_id=user.id,
        csrf_token=secrets.token_hex(32),
        created_at=now,
        last_seen_at=now,
        expires_at=_session_expiry(now, now, settings),
        ip=client,
        user_agent=(request.headers.get("user-agent") or "")[:200] or None,
    )
    session.add(web)
    await session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
    return cookie, web
