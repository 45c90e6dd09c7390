"""The seeded roles (Perfis) in the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from registry.errors import NotFound
from registry.models import Role
from registry.permissions import ROLE_PERMISSIONS


async def ensure_roles(session: AsyncSession) -> list[str]:
    """Create the seeded roles that do not exist yet; return the names created.

    Existing roles are left as they are, permissions included: an administrator
    may have edited them. Idempotent and safe to run concurrently.
    """
    rows = [
        {"name": name, "permissions": sorted(permission.value for permission in permissions)}
        for name, permissions in ROLE_PERMISSIONS.items()
    ]
    statement = insert(Role).on_conflict_do_nothing(index_elements=["name"]).returning(Role.name)
    result = await session.execute(statement, rows)
    return list(result.scalars())


async def find_role(session: AsyncSession, name: str) -> Role:
    """The role called ``name``.

    Raises:
        NotFound: no role has that name; the message lists the existing ones.
    """
    role = await session.scalar(select(Role).where(Role.name == name))
    if role is None:
        names = ", ".join(await session.scalars(select(Role.name).order_by(Role.name)))
        raise NotFound(f"perfil {name!r} não existe (perfis: {names or 'nenhum'})")
    return role
