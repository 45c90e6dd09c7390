"""What the outside world sees of incidents and jobs: one view per thing, the same
for the HTTP API and the bus events (a panel reads a job from an event exactly as
``GET /api/v1/jobs/{id}`` shows it, but for ``late``, which the API computes when
it answers and a panel computes from the due times and its clock).

Views are pydantic models built from the rows by :func:`job_view` and
:func:`incident_view`; :class:`AddressOut` shows any :class:`geo.addresses.Address`
(a job's origin, an address search's suggestion), its point as the API's one point
schema, :class:`registry.schemas.common.LatLng` (``{lat, lng}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from geo.addresses import Address, AddressSource, Place, address_of
from operations.auto_plan import RunStatus
from operations.lifecycle import JobKind, JobStatus, next_statuses
from operations.models import DispatchRun, Incident, Job, JobPlace, Offer
from operations.offers import OfferStatus, WithdrawReason
from operations.places import PlaceRole
from registry.enums import Channel
from registry.schemas.common import LatLng


class AddressOut(BaseModel):
    """An address: where it came from, its fields, its point when it has one
    (``point``, and ``lat``/``lng`` beside it for the address search's clients),
    a ``label`` for display and the whole of it in one line."""

    source: AddressSource
    street: str | None
    number: str | None
    complement: str | None
    neighbourhood: str | None
    city: str | None
    state: str | None
    cep: str | None
    reference: str | None
    label: str | None
    point: LatLng | None
    lat: float | None
    lng: float | None
    one_line: str


def address_out(address: Address) -> AddressOut:
    point = address.point
    return AddressOut(
        source=address.source,
        street=address.street,
        number=address.number,
        complement=address.complement,
        neighbourhood=address.neighbourhood,
        city=address.city,
        state=address.state,
        cep=address.cep,
        reference=address.reference,
        label=address.label,
        point=None if point is None else LatLng(lat=point.lat, lng=point.lng),
        lat=None if point is None else point.lat,
        lng=None if point is None else point.lng,
        one_line=address.one_line(),
    )


def place_of(row: JobPlace) -> Place:
    """The :class:`Place` a job's place row holds."""
    return Place.of(address_of(row, AddressSource(row.source)), reference=row.reference)


class RequesterOut(BaseModel):
    name: str
    phone: str


class JobView(BaseModel):
    """A job as the API shows it and the bus announces it."""

    model_config = ConfigDict(frozen=True)

    id: int
    incident_id: int
    client_id: int | None = None  # None only in events written before jobs had it
    kind: JobKind
    status: JobStatus
    status_label: str
    next_statuses: list[JobStatus]
    service_type_id: int | None
    plan_id: int | None
    plan_service_id: int | None
    ad_hoc: bool
    chargeable: bool
    coverage_note: str | None
    covered_value: Decimal | None
    km_per_use: int | None
    requester: RequesterOut
    requested_at: datetime
    notes_for_provider: str | None
    scheduled_for: datetime | None
    provider_id: int | None
    cancellation_reason_id: int | None
    dispatch_due_at: datetime | None
    arrival_due_at: datetime | None
    promised_at: datetime | None
    arrived_at: datetime | None
    arrival_source: str | None
    handling_time_s: int
    status_changed_at: datetime
    origin: AddressOut | None
    destination: AddressOut | None
    created_at: datetime
    updated_at: datetime


def job_view(job: Job, places: Sequence[JobPlace] = ()) -> JobView:
    """The view of ``job`` (loaded, with its server-side columns) and its places."""
    by_role = {p.role: address_out(place_of(p)) for p in places}
    return JobView(
        id=job.id,
        incident_id=job.incident_id,
        client_id=job.client_id,
        kind=job.kind,
        status=job.status,
        status_label=job.status.label,
        next_statuses=sorted(next_statuses(job.kind, job.status)),
        service_type_id=job.service_type_id,
        plan_id=job.plan_id,
        plan_service_id=job.plan_service_id,
        ad_hoc=job.ad_hoc,
        chargeable=job.chargeable,
        coverage_note=job.coverage_note,
        covered_value=job.covered_value,
        km_per_use=job.km_per_use,
        requester=RequesterOut(name=job.requester_name, phone=job.requester_phone),
        requested_at=job.requested_at,
        notes_for_provider=job.notes_for_provider,
        scheduled_for=job.scheduled_for,
        provider_id=job.provider_id,
        cancellation_reason_id=job.cancellation_reason_id,
        dispatch_due_at=job.dispatch_due_at,
        arrival_due_at=job.arrival_due_at,
        promised_at=job.promised_at,
        arrived_at=job.arrived_at,
        arrival_source=job.arrival_source,
        handling_time_s=job.handling_time_s,
        status_changed_at=job.status_changed_at,
        origin=by_role.get(PlaceRole.ORIGIN.value),
        destination=by_role.get(PlaceRole.DESTINATION.value),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


class IncidentView(BaseModel):
    """An incident (Evento) without its jobs."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    client_id: int
    beneficiary_id: int | None
    vehicle_id: int | None
    incident_type_id: int
    opened_at: datetime
    handling_time_s: int | None
    notes: str | None
    created_by: int | None
    created_at: datetime


def incident_view(incident: Incident) -> IncidentView:
    return IncidentView.model_validate(incident)


class OfferBrief(BaseModel):
    """What a provider needs to decide on an offer, and nothing personal: no
    requester, CPF or phone before it accepts."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    service_type_id: int | None
    service_name: str | None
    origin: AddressOut | None
    destination: AddressOut | None
    notes_for_provider: str | None
    scheduled_for: datetime | None


class OfferView(BaseModel):
    """An offer as the API shows it, the bus announces it and the provider's app
    and pages receive it (``brief``)."""

    model_config = ConfigDict(frozen=True)

    id: int
    job_id: int
    incident_id: int
    provider_id: int
    channel: Channel
    status: OfferStatus
    status_label: str
    version: int
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    refusal_reason_id: int | None
    withdraw_reason: WithdrawReason | None
    failure: str | None
    eta_minutes: int | None
    awaiting_confirmation: bool
    distance_km: float | None
    price: Decimal | None
    brief: OfferBrief


def offer_brief(job: Job, places: Sequence[JobPlace], service_name: str | None) -> OfferBrief:
    by_role = {p.role: address_out(place_of(p)) for p in places}
    return OfferBrief(
        job_id=job.id,
        service_type_id=job.service_type_id,
        service_name=service_name,
        origin=by_role.get(PlaceRole.ORIGIN.value),
        destination=by_role.get(PlaceRole.DESTINATION.value),
        notes_for_provider=job.notes_for_provider,
        scheduled_for=job.scheduled_for,
    )


def offer_view(offer: Offer, incident_id: int, brief: OfferBrief) -> OfferView:
    return OfferView(
        id=offer.id,
        job_id=offer.job_id,
        incident_id=incident_id,
        provider_id=offer.provider_id,
        channel=offer.channel,
        status=offer.status,
        status_label=offer.status.label,
        version=offer.version,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        delivered_at=offer.delivered_at,
        answered_at=offer.answered_at,
        closed_at=offer.closed_at,
        refusal_reason_id=offer.refusal_reason_id,
        withdraw_reason=offer.withdraw_reason,
        failure=offer.failure,
        eta_minutes=offer.eta_minutes,
        awaiting_confirmation=offer.awaiting_confirmation,
        distance_km=offer.distance_km,
        price=offer.price,
        brief=brief,
    )


class RunView(BaseModel):
    """A job's automatic dispatch as panels see it."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    status: RunStatus
    status_label: str
    attempts: int
    step: int
    asked: list[int]
    next_at: datetime
    started_at: datetime
    updated_at: datetime
    note: str | None


def run_view(run: DispatchRun) -> RunView:
    return RunView(
        job_id=run.job_id,
        status=run.status,
        status_label=run.status.label,
        attempts=run.attempts,
        step=run.step,
        asked=list(run.asked),
        next_at=run.next_at,
        started_at=run.started_at,
        updated_at=run.updated_at,
        note=run.note,
    )
