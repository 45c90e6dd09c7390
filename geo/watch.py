"""Which providers a committed transaction changed, for the catalogue's invalidation.

Every registry write of a provider, its price table or its partnerships goes
through the ORM and writes an audit entry (``registry.crud``, ``registry.audit``);
partnerships are inserted with Core statements but audited. So a session's flushed
objects tell which providers changed: :func:`changed_providers` reads them, and
:func:`watching` calls back with their ids once the transaction has committed (never
on rollback). Writes outside the ORM (SQL scripts, ``psql``) are not seen: the
periodic full reload of the catalogue catches those.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry.models import AuditEntry, Provider, ProviderPartnership, ProviderService

PROVIDER_ENTITIES = frozenset({"provider_service", "provider_partnership"})
"""Audited entities whose parent is the provider they change."""

_INFO_KEY = "acionar.geo.changed_providers"


def changed_providers(objects: Iterable[object]) -> set[int]:
    """The ids of the providers that these new, changed or deleted objects touch."""
    ids: set[int | None] = set()
    for obj in objects:
        if isinstance(obj, Provider):
            ids.add(obj.id)
        elif isinstance(obj, ProviderService | ProviderPartnership):
            ids.add(obj.provider_id)
        elif isinstance(obj, AuditEntry):
            if obj.entity == "provider":
                ids.add(obj.entity_id)
            elif obj.entity in PROVIDER_ENTITIES:
                ids.add(obj.parent_id)
    return {pid for pid in ids if pid is not None}  # None: an object not flushed yet


@contextlib.contextmanager
def watching(engine: Engine, on_commit: Callable[[set[int]], None]) -> Iterator[None]:
    """Within this block, ``on_commit(ids)`` runs after each commit, on sessions
    bound to ``engine``, that changed providers (synchronously, before the commit
    returns to its caller)."""

    def after_flush(session: Session, context: Any) -> None:
        if session.bind is not engine:
            return
        objects = itertools.chain(session.new, session.dirty, session.deleted)
        ids = changed_providers(objects)
        if ids:
            session.info.setdefault(_INFO_KEY, set()).update(ids)

    def after_commit(session: Session) -> None:
        ids = session.info.pop(_INFO_KEY, None)
        if ids:
            on_commit(ids)

    def after_rollback(session: Session) -> None:
        session.info.pop(_INFO_KEY, None)

    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after_flush", after_flush),
        ("after_commit", after_commit),
        ("after_rollback", after_rollback),
    ]
    for name, hook in hooks:
        event.listen(Session, name, hook)
    try:
        yield
    finally:
        for name, hook in hooks:
            event.remove(Session, name, hook)
