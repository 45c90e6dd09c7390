"""``acionar seed-demo`` and ``acionar create-user``: thin wrappers over the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from operations.demo import seed_operations_demo
from registry.db import make_engine, make_sessionmaker, transaction, utcnow
from registry.demo import DemoSummary, seed_demo
from registry.enums import UserKind
from registry.roles import ensure_roles
from registry.users import upsert_user
from server.settings import Settings

T = TypeVar("T")


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on a one-shot engine, disposed afterwards."""
    engine = make_engine(
        settings.effective_database_url,
        null_pool=True,
        connect_timeout_s=settings.db_connect_timeout_s,
    )
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            return await work(session)
    finally:
        await engine.dispose()


def describe(summary: DemoSummary) -> str:
    """A human summary of a demo seed run: what exists, what was added, how to log in."""
    counts = ", ".join(f"{table} {count}" for table, count in summary.counts.items() if count)
    added = ", ".join(f"{table} {n}" for table, n in summary.created.items() if n)
    return "\n".join(
        [
            f"demo data: {counts}",
            f"created by this run: {added or 'nothing (already seeded)'}",
            f"demo logins (password {summary.password}): {', '.join(summary.logins)}",
        ]
    )


async def seed_demo_command(settings: Settings) -> str:
    """Load the demo assistance into the configured database; return a summary."""
    summary = await _in_transaction(
        settings,
        lambda session: seed_demo(
            session, providers=settings.demo_providers, beneficiaries=settings.demo_beneficiaries
        ),
    )
    operations = await _in_transaction(
        settings, lambda session: seed_operations_demo(session, utcnow())
    )
    opened = f"demo operations: {operations.jobs} jobs opened" if operations.jobs else ""
    return "\n".join(line for line in (describe(summary), opened) if line)


async def create_user_command(
    settings: Settings, login: str, name: str, password: str, role_name: str
) -> str:
    """Create or update a staff user with the role ``role_name``.

    Raises:
        registry.errors.NotFound: no such role.
        registry.errors.ValidationError: bad login or password.
    """

    async def work(session: AsyncSession) -> str:
        await ensure_roles(session)
        user = await upsert_user(session, login, name, password, role_name, kind=UserKind.STAFF)
        return f"user {user.login!r} ({user.name}) saved with role {role_name!r}"

    return await _in_transaction(settings, work)
