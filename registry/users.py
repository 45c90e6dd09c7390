"""Users: argon2 password hashing, creating or updating a user, checking a login.

Hashing and verifying cost tens of milliseconds of CPU on purpose; the async
functions run them in a worker thread so that the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.enums import ProviderStatus, UserKind
from registry.errors import ProviderBlocked, ValidationError
from registry.models import Provider, User
from registry.roles import find_role

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # bounds the hashing work an anonymous caller can cause
_LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,59}")

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted: two calls give different hashes)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``; False for a wrong or bad hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalize_login(login: str) -> str:
    """A login as stored: trimmed, lower case.

    Raises:
        ValidationError: empty, longer than 60 characters, or with characters other
            than letters, digits and ``. _ @ -``.
    """
    normal = login.strip().lower()
    if not _LOGIN.fullmatch(normal):
        raise ValidationError(
            "login", "Login inválido: use letras, números e . _ @ - (até 60 caracteres)"
        )
    return normal


def check_password(password: str) -> None:
    """Raises ValidationError if ``password`` is too short or too long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationError(
            "password",
            f"A senha deve ter de {MIN_PASSWORD_LENGTH} a {MAX_PASSWORD_LENGTH} caracteres",
        )


async def find_user(session: AsyncSession, login: str) -> User | None:
    """The user with ``login`` (case-insensitive), or None."""
    statement = select(User).where(func.lower(User.login) == login.strip().lower())
    return await session.scalar(statement)


async def _password_hash(current: str | None, password: str) -> str:
    """``current`` if it still verifies ``password`` with today's parameters, else a new hash.

    Keeping a hash that verifies makes re-running a seed change nothing.
    """
    if current is not None:
        still_good = await asyncio.to_thread(verify_password, current, password)
        if still_good and not _hasher.check_needs_rehash(current):
            return current
    return await asyncio.to_thread(hash_password, password)


async def upsert_user(
    session: AsyncSession,
    login: str,
    name: str,
    password: str,
    role_name: str,
    *,
    kind: UserKind = UserKind.STAFF,
    client_id: int | None = None,
    provider_id: int | None = None,
) -> User:
    """Create the user ``login``, or update its name, password, role, kind and scope.

    Only changed columns are written: upserting the same values twice leaves the
    row (and ``updated_at``) untouched. The session is flushed, not committed.

    Raises:
        ValidationError: bad login or password.
        NotFound: no role called ``role_name``.
    """
    login = normalize_login(login)
    check_password(password)
    role = await find_role(session, role_name)
    user = await find_user(session, login)
    values = {
        "name": name,
        "role_id": role.id,
        "kind": kind,
        "client_id": client_id,
        "provider_id": provider_id,
    }
    password_hash = await _password_hash(user.password_hash if user else None, password)
    if user is None:
        user = User(login=login, password_hash=password_hash, **values)
        session.add(user)
    else:
        values["password_hash"] = password_hash
        for key, value in values.items():
            if getattr(user, key) != value:
                setattr(user, key, value)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, login: str, password: str) -> User | None:
    """The active user whose login and password match, or None.

    Does not record the login (the caller sets ``last_login_at``); spends the
    hashing time even for unknown logins, so timing does not reveal which exist.

    Raises:
        ProviderBlocked: the password matches, but the user's provider is blocked
            (told only to who knows the password).
    """
    user = await find_user(session, login)
    stored = user.password_hash if user is not None else _dummy_hash()
    matches = await asyncio.to_thread(verify_password, stored, password)
    if user is None or not user.active or not matches:
        return None
    if user.provider_id is not None and await provider_blocked(session, user.provider_id):
        raise ProviderBlocked()
    return user


async def provider_blocked(session: AsyncSession, provider_id: int) -> bool:
    """Whether the provider is blocked in the registry (its users may not sign in)."""
    status = await session.scalar(select(Provider.status).where(Provider.id == provider_id))
    return status == ProviderStatus.BLOCKED


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a real password, only spends the verification time")
