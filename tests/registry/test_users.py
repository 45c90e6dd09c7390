"""Users: password hashing, upsert by case-insensitive login, authentication."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import permissions
from registry.db import transaction
from registry.enums import UserKind
from registry.errors import NotFound, ValidationError
from registry.models import Role, User
from registry.permissions import Permission, PermissionGroup
from registry.roles import ensure_roles
from registry.users import (
    authenticate,
    hash_password,
    normalize_login,
    upsert_user,
    verify_password,
)
from server.demo import create_user_command
from server.settings import Settings

Sessions = async_sessionmaker[AsyncSession]
OPS = permissions.OPERATIONS
ADMIN = permissions.ADMIN


def test_hashes_are_salted_argon2id_and_verify() -> None:
    first, second = hash_password("s3gredo!!"), hash_password("s3gredo!!")
    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "s3gredo!!")
    assert not verify_password(first, "s3gredo!")
    assert not verify_password("not a hash", "s3gredo!!")


@pytest.mark.parametrize("login", ["", "  ", "joão", "a b", "x" * 61, "-admin"])
def test_bad_logins_are_refused(login: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_login(login)
    assert info.value.field == "login"


def test_logins_are_trimmed_and_lower_cased() -> None:
    assert normalize_login("  Maria.Silva@Acme ") == "maria.silva@acme"


def test_every_permission_has_a_group_and_admin_holds_all_staff_ones() -> None:
    grouped = permissions.by_group(Permission)
    assert sum(len(codes) for codes in grouped.values()) == len(Permission)
    assert Permission.REGISTRY_CREATE in grouped[PermissionGroup.CREATE]
    assert Permission.SECURITY_MANAGE_USERS in grouped[PermissionGroup.SECURITY]
    admin = permissions.ROLE_PERMISSIONS[ADMIN]
    assert Permission.OPERATIONS_DISPATCH in admin
    assert Permission.PORTAL_CLIENT not in admin
    assert Permission.SECURITY_MANAGE_USERS not in permissions.ROLE_PERMISSIONS[OPS]
    assert permissions.granted(["operations.dispatch", "made.up"]) == {
        Permission.OPERATIONS_DISPATCH
    }


async def test_ensure_roles_is_idempotent_and_keeps_edited_permissions(db: Sessions) -> None:
    async with transaction(db) as session:
        assert sorted(await ensure_roles(session)) == sorted(permissions.ROLE_PERMISSIONS)
        role = await session.scalar(select(Role).where(Role.name == OPS))
        assert role is not None
        assert set(role.permissions) == set(permissions.ROLE_PERMISSIONS[OPS])
        role.permissions = ["operations.view"]
    async with transaction(db) as session:
        assert await ensure_roles(session) == []
        role = await session.scalar(select(Role).where(Role.name == OPS))
        assert role is not None and role.permissions == ["operations.view"]


async def _upsert(
    db: Sessions,
    login: str,
    password: str = "senha-forte",
    role: str = OPS,
    name: str = "Maria da Silva",
) -> User:
    async with transaction(db) as session:
        await ensure_roles(session)
        return await upsert_user(session, login, name, password, role)


async def test_upsert_creates_then_updates_by_case_insensitive_login(db: Sessions) -> None:
    created = await _upsert(db, "Maria")
    same = await _upsert(db, "MARIA")
    assert created.login == "maria"
    assert same.id == created.id
    assert same.password_hash == created.password_hash  # still verifies: kept
    assert same.updated_at == created.updated_at  # nothing changed: no UPDATE

    changed = await _upsert(db, "maria", password="outra-senha", role=ADMIN, name="Maria S.")
    assert changed.id == created.id
    assert changed.name == "Maria S."
    assert changed.password_hash != created.password_hash
    async with db() as session:
        assert await authenticate(session, "maria", "outra-senha") is not None
        assert await authenticate(session, "maria", "senha-forte") is None
        role = await session.get(Role, changed.role_id)
    assert role is not None and role.name == ADMIN


async def test_unknown_role_and_short_password_are_refused(db: Sessions) -> None:
    with pytest.raises(NotFound, match="Supervisor Geral"):
        await _upsert(db, "joana", role="Supervisor Geral")
    with pytest.raises(ValidationError) as info:
        await _upsert(db, "joana", password="curta")
    assert info.value.field == "password"
    async with db() as session:
        assert await session.scalar(select(User).where(User.login == "joana")) is None


async def test_authenticate_refuses_inactive_and_unknown_users(db: Sessions) -> None:
    user = await _upsert(db, "pedro")
    async with transaction(db) as session:
        assert await authenticate(session, "ninguem", "senha-forte") is None
        assert await authenticate(session, "pedro", "senha-forte") is not None
        stored = await session.get(User, user.id)
        assert stored is not None
        stored.active = False
    async with db() as session:
        assert await authenticate(session, "pedro", "senha-forte") is None


async def test_the_database_enforces_login_uniqueness_and_user_scope(db: Sessions) -> None:
    await _upsert(db, "ana")
    with pytest.raises(IntegrityError, match="ix_users_login_lower"):
        async with transaction(db) as session:
            role = await session.scalar(select(Role).where(Role.name == OPS))
            assert role is not None
            session.add(User(login="ANA", name="Ana", password_hash="x", role_id=role.id))
    with pytest.raises(IntegrityError, match="ck_users_kind_scope"):
        async with transaction(db) as session:
            role = await session.scalar(select(Role).where(Role.name == OPS))
            assert role is not None
            session.add(
                User(
                    login="portal",
                    name="Portal",
                    password_hash="x",
                    role_id=role.id,
                    kind=UserKind.CLIENT,
                )
            )


async def test_create_user_command(db: Sessions, settings: Settings) -> None:
    line = await create_user_command(settings, "Chefe", "Chefe da Operação", "12345678", ADMIN)
    assert "'chefe'" in line and ADMIN in line
    with pytest.raises(NotFound, match="Administrador"):  # the message lists the roles
        await create_user_command(settings, "chefe", "Chefe", "12345678", "Diretoria")
    async with db() as session:
        user = await session.scalar(select(User).where(User.login == "chefe"))
    assert user is not None and user.kind is UserKind.STAFF
