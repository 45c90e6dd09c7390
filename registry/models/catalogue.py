"""Catalogues: service types, incident types, cancellation and refusal reasons."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base, Timestamped
from registry.enums import ServiceTarget
from registry.models.columns import IdPk, str_enum


class ServiceType(IdPk, Timestamped, Base):
    """Tipo de serviço: reboque leve, táxi, chaveiro, encanador...

    ``code`` is a stable slug (``reboque_leve``) used by code and imports; ``name``
    is shown in pt-BR. ``needs_destination``: the job has a destination (tows, taxi).
    """

    __tablename__ = "service_types"
    __table_args__ = (CheckConstraint("code ~ '^[a-z0-9_]+$'", name="code_slug"),)

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    needs_destination: Mapped[bool] = mapped_column(Boolean, server_default=false())
    target: Mapped[ServiceTarget] = mapped_column(str_enum(ServiceTarget, "target"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class _NamedEntry(IdPk, Timestamped):
    """A catalogue entry: a unique pt-BR name that can be retired (``active``)."""

    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class IncidentType(_NamedEntry, Base):
    """Tipo de evento: why the beneficiary called (pane seca, colisão, alagamento...)."""

    __tablename__ = "incident_types"


class CancellationReason(_NamedEntry, Base):
    """Motivo de cancelamento: why a beneficiary or an operator cancelled a job."""

    __tablename__ = "cancellation_reasons"


class RefusalReason(_NamedEntry, Base):
    """Motivo de recusa: why a provider refused an offer."""

    __tablename__ = "refusal_reasons"
