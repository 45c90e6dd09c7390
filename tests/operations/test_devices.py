"""Revoking a device token as a use case: the row, its audit entry and the
``device_token.revoked`` event commit together, at the unit's instant; revoking
again announces nothing; another provider's token is not found."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from operations.devices import revoke_device_token
from operations.events import CATALOGUE, TokenRevokedEvent
from registry import models as m
from registry.audit import Actor
from registry.cells import point_cell
from registry.devices import issue_device_token
from registry.enums import AuditAction, PersonKind
from registry.errors import NotFound
from registry.validation import make_cnpj
from tests.operations.support import NOW, Kicks, Sessions, make_world, operations, outbox_rows

ADMIN = Actor(None, "admin")


async def _token(db: Sessions, provider_id: int) -> int:
    async with db() as session, session.begin():
        row, _ = await issue_device_token(session, ADMIN, provider_id, "celular")
        return row.id


async def test_a_revocation_commits_with_its_audit_entry_and_its_event(db: Sessions) -> None:
    world = await make_world(db)
    token_id = await _token(db, world.provider)
    kicks = Kicks()
    ops, _ = operations(db, kick=kicks)
    async with ops.unit() as uow:
        await revoke_device_token(uow, ADMIN, world.provider, token_id)
    async with db() as session:
        row = await session.get(m.DeviceToken, token_id)
        assert row is not None and row.revoked_at == NOW  # the unit's clock
        audit = (
            await session.scalars(
                select(m.AuditEntry).where(
                    m.AuditEntry.entity == "device_token", m.AuditEntry.action == AuditAction.UPDATE
                )
            )
        ).one()
        assert audit.changes == {"revoked_at": [None, NOW.isoformat()]}
    [event] = await outbox_rows(db)
    payload = CATALOGUE[event.type].decode(event.payload)
    assert payload == TokenRevokedEvent(provider_id=world.provider, token_id=token_id)
    assert kicks.count == 1

    async with ops.unit() as uow:  # again: already revoked, nothing to tell
        await revoke_device_token(uow, ADMIN, world.provider, token_id)
    assert len(await outbox_rows(db)) == 1


async def test_a_token_of_another_provider_is_not_found(db: Sessions) -> None:
    world = await make_world(db)
    token_id = await _token(db, world.provider)
    async with db() as session, session.begin():
        other = m.Provider(
            person_kind=PersonKind.PJ,
            document=make_cnpj(13),
            name="Outro guincho",
            base_location="SRID=4326;POINT(-46.63 -23.55)",
            base_h3=point_cell(-23.55, -46.63),
        )
        session.add(other)
    ops, _ = operations(db)
    with pytest.raises(NotFound, match="Token"):
        async with ops.unit() as uow:
            await revoke_device_token(uow, ADMIN, other.id, token_id)
    with pytest.raises(NotFound, match="Prestador"):
        async with ops.unit() as uow:
            await revoke_device_token(uow, ADMIN, other.id + 1000, token_id)
    async with db() as session:
        row = await session.get(m.DeviceToken, token_id)
        assert row is not None and row.revoked_at is None
    assert await outbox_rows(db) == []
