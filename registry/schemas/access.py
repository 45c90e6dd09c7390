"""API schemas of roles (Perfil) and users (Usuário)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from registry.enums import UserKind
from registry.errors import ValidationError
from registry.permissions import Permission
from registry.schemas.common import ONE_LINE, Id, InModel, OptEmail, Stamped
from registry.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, normalize_login


class RoleIn(InModel):
    name: Annotated[str, Field(min_length=1, max_length=60), ONE_LINE]
    permissions: list[Permission] = Field(default_factory=list, max_length=len(Permission))


class RoleOut(Stamped):
    name: str
    permissions: list[str]


class UserIn(InModel):
    """A user. ``password`` is required on creation and never returned; portal users
    (``client`` / ``provider``) must name their client or provider."""

    login: Annotated[str, Field(min_length=1, max_length=60), ONE_LINE]
    name: Annotated[str, Field(min_length=1, max_length=120), ONE_LINE]
    email: OptEmail = None
    password: (
        Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)] | None
    ) = None
    role_id: Id
    kind: UserKind = UserKind.STAFF
    client_id: Id | None = None
    provider_id: Id | None = None
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> UserIn:
        self.login = normalize_login(self.login)
        needed = {
            UserKind.STAFF: None,
            UserKind.CLIENT: "client_id",
            UserKind.PROVIDER: "provider_id",
        }[self.kind]
        if needed and getattr(self, needed) is None:
            raise ValidationError(needed, "Obrigatório para este tipo de usuário")
        for field in ("client_id", "provider_id"):
            if field != needed and getattr(self, field) is not None:
                raise ValidationError(field, "Não se aplica a este tipo de usuário")
        return self


class UserOut(Stamped):
    login: str
    name: str
    email: str | None
    role_id: Id
    kind: UserKind
    client_id: Id | None
    provider_id: Id | None
    active: bool
    last_login_at: datetime | None
