"""Who is calling: the authenticated user, how, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from registry.enums import UserKind
from registry.permissions import Permission


class AuthVia(StrEnum):
    SESSION = "session"  # the web's cookie: unsafe methods need the CSRF token
    TOKEN = "token"  # an API client's bearer token


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    login: str
    name: str
    kind: UserKind
    role_name: str
    permissions: frozenset[str]
    client_id: int | None
    provider_id: int | None
    via: AuthVia
    csrf_token: str | None = None
    session_hash: str | None = None
    provider_blocked: bool = False  # the user's provider is blocked: refused (403)

    def can(self, permission: Permission | str) -> bool:
        return str(permission) in self.permissions

    @property
    def is_client_user(self) -> bool:
        return self.kind is UserKind.CLIENT
