"""Operations (Operação) models: incidents, their jobs, the jobs' places and the
job timeline.

* :class:`Incident` (Evento): why the beneficiary called; groups jobs. ``opened_at``
  is when the operator started handling the call (the TMA clock's start);
  ``handling_time_s`` is the time until its first job was saved.
* :class:`Job` (Atendimento): one service inside an incident, with its coverage
  (plan, plan service, or ad hoc and chargeable), requester, notes, schedule, the SLA
  due times and, once dispatched, its provider.
* :class:`JobPlace`: a job's origin or destination (the Brazilian address fields,
  a reference point, coordinates and where they came from).
* :class:`JobTransition`: the timeline: every status change with actor, channel,
  time and reason.
* :class:`TrackPoint`: the GPS track of a job's provider while on it (for km at
  closing, and audit), written in batches from the live positions.
* :class:`Offer`: one provider asked to take one job over one channel
  (:mod:`operations.offers`); at most one accepted per job, at most one open per
  job and provider, both enforced by partial unique indexes.
* :class:`OfferTransition`: every change of an offer, with actor, channel, time and
  reason (part of the job's timeline).
* :class:`OutboxEvent`: an event that may not be lost, written in the transaction
  of the change it announces and relayed to the bus (:mod:`operations.outbox`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from operations.auto_plan import RunStatus
from operations.lifecycle import ActorKind, JobKind, JobStatus
from operations.offers import OfferStatus, WithdrawReason
from registry.db import Base, Timestamped
from registry.enums import Channel
from registry.models.columns import (
    Address,
    IdPk,
    StrEnumArray,
    array_values_check,
    geography_point,
    str_enum,
)
from registry.models.plans import Money

E164 = r"^\+[1-9][0-9]{7,14}$"


class Incident(IdPk, Timestamped, Base):
    """Evento: a call's reason, for one client's beneficiary (and vehicle)."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("handling_time_s IS NULL OR handling_time_s >= 0", name="handling"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    incident_type_id: Mapped[int] = mapped_column(ForeignKey("incident_types.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handling_time_s: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Job(IdPk, Timestamped, Base):
    """Atendimento: one service of an incident."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"requester_phone ~ '{E164}'", name="requester_phone_e164"),
        CheckConstraint(
            "kind <> 'assistance' OR service_type_id IS NOT NULL", name="assistance_service"
        ),
        CheckConstraint(
            "ad_hoc OR kind <> 'assistance' OR plan_service_id IS NOT NULL",
            name="covered_or_ad_hoc",
        ),
        CheckConstraint(
            "status <> 'cancelled' OR cancellation_reason_id IS NOT NULL",
            name="cancelled_has_reason",
        ),
        Index("ix_jobs_status_due", "status", "dispatch_due_at"),
        Index("ix_jobs_provider_status", "provider_id", "status"),
    )

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    """The incident's client (an incident never changes client)."""
    kind: Mapped[JobKind] = mapped_column(str_enum(JobKind, "kind"))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "status"))
    service_type_id: Mapped[int | None] = mapped_column(ForeignKey("service_types.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    plan_service_id: Mapped[int | None] = mapped_column(ForeignKey("plan_services.id"))
    ad_hoc: Mapped[bool] = mapped_column(Boolean, server_default=false())
    chargeable: Mapped[bool] = mapped_column(Boolean, server_default=false())
    coverage_note: Mapped[str | None] = mapped_column(Text)
    covered_value: Mapped[Decimal | None] = mapped_column(Money)
    km_per_use: Mapped[int | None] = mapped_column(Integer)
    requester_name: Mapped[str] = mapped_column(String(120))
    requester_phone: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notes_for_provider: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    cancellation_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_reasons.id")
    )
    dispatch_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrival_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    promised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    arrival_source: Mapped[str | None] = mapped_column(String(20))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handling_time_s: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class JobPlace(IdPk, Address, Base):
    """A job's origin or destination."""

    __tablename__ = "job_places"
    __table_args__ = (
        UniqueConstraint("job_id", "role"),
        CheckConstraint("role IN ('origin', 'destination')", name="role"),
        Index("ix_job_places_location", "location", postgresql_using="gist"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(12))
    reference: Mapped[str | None] = mapped_column(String(160))
    source: Mapped[str] = mapped_column(String(20))
    location: Mapped[WKBElement] = mapped_column(geography_point())


class JobTransition(IdPk, Base):
    """One line of a job's timeline (``from_status`` is None at creation)."""

    __tablename__ = "job_transitions"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[JobStatus | None] = mapped_column(str_enum(JobStatus, "from_status"))
    to_status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "to_status"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor"))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "channel"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    cancellation_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("cancellation_reasons.id")
    )
    note: Mapped[str | None] = mapped_column(Text)


class TrackPoint(Base):
    """One accepted GPS fix of the provider assigned to a job, while on it."""

    __tablename__ = "job_track_points"
    __table_args__ = (Index("ix_job_track_points_job_id_at", "job_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[WKBElement] = mapped_column(geography_point())
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)


OPEN_OFFER = "status IN ('pending', 'delivered')"
"""SQL: the offer waits for an answer."""


class Offer(IdPk, Base):
    """One provider asked to take one job over one channel.

    ``version`` grows with every change (a signed link binds the version it was
    issued for). ``eta_minutes`` is the provider's bid when it accepted;
    ``awaiting_confirmation``: it accepted with an ETA above the client's maximum
    and the operator must confirm. ``distance_km`` and ``price`` are what it was
    told when offered.
    """

    __tablename__ = "offers"
    __table_args__ = (
        Index(
            "uq_offers_accepted_per_job",
            "job_id",
            unique=True,
            postgresql_where=text("status = 'accepted'"),
        ),
        Index(
            "uq_offers_open_per_provider",
            "job_id",
            "provider_id",
            unique=True,
            postgresql_where=text(OPEN_OFFER),
        ),
        Index("ix_offers_open_expiry", "expires_at", postgresql_where=text(OPEN_OFFER)),
        Index("ix_offers_provider_status", "provider_id", "status"),
        CheckConstraint(
            "status <> 'refused' OR refusal_reason_id IS NOT NULL", name="refused_has_reason"
        ),
        CheckConstraint(
            "status <> 'withdrawn' OR withdraw_reason IS NOT NULL", name="withdrawn_has_reason"
        ),
        CheckConstraint("eta_minutes BETWEEN 1 AND 1440", name="eta_minutes_range"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus, "status"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refusal_reason_id: Mapped[int | None] = mapped_column(ForeignKey("refusal_reasons.id"))
    withdraw_reason: Mapped[WithdrawReason | None] = mapped_column(
        str_enum(WithdrawReason, "withdraw_reason")
    )
    failure: Mapped[str | None] = mapped_column(Text)
    eta_minutes: Mapped[int | None] = mapped_column(Integer)
    awaiting_confirmation: Mapped[bool] = mapped_column(Boolean, server_default=false())
    distance_km: Mapped[float | None] = mapped_column(Float)
    price: Mapped[Decimal | None] = mapped_column(Money)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OfferTransition(IdPk, Base):
    """One change of an offer (``from_status`` is None at creation)."""

    __tablename__ = "offer_transitions"

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    from_status: Mapped[OfferStatus | None] = mapped_column(str_enum(OfferStatus, "from_status"))
    to_status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus, "to_status"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, "channel"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    refusal_reason_id: Mapped[int | None] = mapped_column(ForeignKey("refusal_reasons.id"))
    withdraw_reason: Mapped[WithdrawReason | None] = mapped_column(
        str_enum(WithdrawReason, "withdraw_reason")
    )
    note: Mapped[str | None] = mapped_column(Text)


class DispatchSettings(IdPk, Timestamped, Base):
    """How jobs are dispatched: the deployment's row (``client_id`` NULL) and a
    client's overrides (NULL columns inherit). :mod:`operations.dispatch_rules`
    reads them into :class:`~operations.dispatch_rules.DispatchRules`."""

    __tablename__ = "dispatch_settings"
    __table_args__ = (
        Index(
            "uq_dispatch_settings_client",
            "client_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("offer_timeout_s BETWEEN 10 AND 3600", name="offer_timeout_range"),
        CheckConstraint("max_attempts BETWEEN 1 AND 100", name="max_attempts_range"),
        CheckConstraint("batch_size BETWEEN 1 AND 20", name="batch_size_range"),
        CheckConstraint("schedule_lead_min BETWEEN 0 AND 1440", name="schedule_lead_range"),
        CheckConstraint("max_eta_min BETWEEN 1 AND 1440", name="max_eta_range"),
        CheckConstraint(array_values_check("channels", Channel), name="channels_known"),
    )

    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    auto_enabled: Mapped[bool | None] = mapped_column(Boolean)
    radius_steps_km: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    offer_timeout_s: Mapped[int | None] = mapped_column(Integer)
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    batch_size: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[list[Channel] | None] = mapped_column(StrEnumArray(Channel))
    partners_first: Mapped[bool | None] = mapped_column(Boolean)
    schedule_lead_min: Mapped[int | None] = mapped_column(Integer)
    max_eta_min: Mapped[int | None] = mapped_column(Integer)


class DispatchRun(Base):
    """Automatic dispatch of one job (:mod:`operations.auto_dispatch`): its progress
    and its timer live here, so that any node may take the next step when
    ``next_at`` comes (``FOR UPDATE SKIP LOCKED``) and a node that dies loses
    nothing. ``asked``: the providers offered the job so far."""

    __tablename__ = "dispatch_runs"
    __table_args__ = (
        Index("ix_dispatch_runs_due", "next_at", postgresql_where=text("status = 'active'")),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint("step >= 0", name="step_non_negative"),
    )

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus, "status"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    step: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    asked: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)


class MessageStatus(enum.StrEnum):
    """Where a message to a provider or a requester stands."""

    SENT = "sent"  # the gateway took it
    FAILED = "failed"  # the gateway refused it or could not be reached
    DELIVERED = "delivered"  # the gateway reported it reached the phone
    UNDELIVERED = "undelivered"  # the gateway reported it never will


class DispatchMessage(IdPk, Base):
    """An SMS or e-mail dispatch sent (an offer's link, a tracking link) and its
    delivery result; ``gateway_id`` is the gateway's id, which delivery reports
    name."""

    __tablename__ = "dispatch_messages"
    __table_args__ = (Index("ix_dispatch_messages_gateway", "kind", "gateway_id"),)

    offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(254))
    gateway_id: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "status"))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrackingLink(Base):
    """A job's tracking link for the requester: sent when the provider goes en
    route, revocable by the operator (``revoked_at``)."""

    __tablename__ = "tracking_links"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


PUBLICATION_SEQUENCE = "outbox_events_publication_seq"
"""Numbers relayed events in the order they were published (``OutboxEvent.seq``)."""


class OutboxEvent(Base):
    """An event that may not be lost, waiting to be relayed to the bus (``seq`` is
    None) or relayed (``seq``: its place in the publication order, which panels
    resynchronise from). Kept for ``OUTBOX_RETENTION_H`` after it was relayed."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "id", postgresql_where=text("seq IS NULL")),
        Index("ix_outbox_events_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
