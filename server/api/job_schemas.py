"""Request and response bodies of the operations API (incidents and jobs), and
how each turns into what :mod:`operations` takes or comes from what it returns.

Responses are the views of :mod:`operations.views` (the same the bus carries) plus
what only an answer has: ``late``, computed when answering.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from geo.addresses import Address, AddressSource
from operations.coverage import CoverageReport, Standing
from operations.jobs import JobDraft
from operations.lifecycle import ActorKind, JobKind, JobStatus
from operations.places import PlaceRequest, source_problem
from operations.queries import IncidentWithJobs
from operations.sla import lateness
from operations.views import IncidentView, JobView
from registry.enums import Channel
from registry.errors import ValidationError
from registry.points import Point
from registry.schemas.common import (
    Cep,
    Id,
    InModel,
    Instant,
    LongText,
    Name,
    Optional,
    OutModel,
    Phone,
    Text20,
    Text80,
    Text160,
    Uf,
)
from server.api.paging import PageOut, PageQuery

MAX_URL = 2048


class IncidentIn(InModel):
    """A new incident. ``opened_at``: when the operator took the call (the TMA clock's
    start); now when omitted. Give the vehicle or the beneficiary (or both)."""

    client_id: Id
    incident_type_id: Id
    beneficiary_id: Id | None = None
    vehicle_id: Id | None = None
    opened_at: Instant | None = None
    notes: LongText = None


class PlaceIn(InModel):
    """An origin or destination, from exactly one source:

    * ``lat``/``lng`` with the address fields (a geocoder result, or typed in);
    * ``maps_url``: a Google Maps URL (its coordinates, and the address its place
      name spells out, as ``POST /addresses/from-maps-url`` gives it; the address
      fields given alongside win);
    * ``partner_site_id``: one of the incident's client's partner sites;
    * ``beneficiary: true``: the incident beneficiary's address.
    """

    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    maps_url: Annotated[str, Field(min_length=1, max_length=MAX_URL)] | None = None
    partner_site_id: Id | None = None
    beneficiary: bool = False
    source: AddressSource | None = None
    street: Text160 = None
    number: Text20 = None
    complement: Text80 = None
    neighbourhood: Text80 = None
    city: Text80 = None
    state: Annotated[Uf | None, Optional] = None
    cep: Annotated[Cep | None, Optional] = None
    reference: Text160 = None

    @model_validator(mode="after")
    def _one_source(self) -> PlaceIn:
        given = [
            self.lat is not None or self.lng is not None,
            self.maps_url is not None,
            self.partner_site_id is not None,
            self.beneficiary,
        ]
        if problem := source_problem(sum(given)):
            raise ValidationError("source", problem)
        if given[0] and (self.lat is None or self.lng is None):
            raise ValidationError("lat", "Informe latitude e longitude")
        return self

    def request(self) -> PlaceRequest:
        """What operations resolves into a place."""
        point = None if self.lat is None or self.lng is None else Point(self.lat, self.lng)
        given = Address(
            self.source or AddressSource.MANUAL,
            street=self.street,
            number=self.number,
            complement=self.complement,
            neighbourhood=self.neighbourhood,
            city=self.city,
            state=self.state,
            cep=self.cep,
            reference=self.reference,
            point=point,
        )
        return PlaceRequest(given, self.maps_url, self.partner_site_id, self.beneficiary)


def place_request(place: PlaceIn | None) -> PlaceRequest | None:
    return None if place is None else place.request()


class RequesterIn(InModel):
    name: Name
    phone: Phone


class JobIn(InModel):
    """A new job. ``ad_hoc``: open it as a chargeable service outside the plan."""

    kind: JobKind = JobKind.ASSISTANCE
    service_type_id: Id | None = None
    ad_hoc: bool = False
    requester: RequesterIn
    requested_at: Instant | None = None
    notes_for_provider: LongText = None
    scheduled_for: Instant | None = None
    origin: PlaceIn | None = None
    destination: PlaceIn | None = None

    def draft(self) -> JobDraft:
        """The job as operations takes it (its places come as requests)."""
        return JobDraft(
            kind=self.kind,
            requester_name=self.requester.name,
            requester_phone=self.requester.phone,
            service_type_id=self.service_type_id,
            ad_hoc=self.ad_hoc,
            requested_at=self.requested_at,
            notes_for_provider=self.notes_for_provider,
            scheduled_for=self.scheduled_for,
        )


class JobPatch(InModel):
    """Fields of a job that may change before it is done (omit what stays)."""

    requester_name: Name | None = None
    requester_phone: Phone | None = None
    requested_at: Instant | None = None
    notes_for_provider: LongText = None
    scheduled_for: Instant | None = None
    origin: PlaceIn | None = None
    destination: PlaceIn | None = None

    @model_validator(mode="after")
    def _required_stay(self) -> JobPatch:
        for name in ("requester_name", "requester_phone"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValidationError(name, "Campo obrigatório")
        return self

    def values(self) -> dict[str, Any]:
        """The fields the patch sets, places aside."""
        return self.model_dump(exclude_unset=True, exclude={"origin", "destination"})


class StatusIn(InModel):
    """Move a job: ``provider_id`` when assigning; a reason to cancel. ``channel``:
    how the provider was reached or reported (``verbal`` for a phone call)."""

    to: JobStatus
    channel: Channel | None = None
    provider_id: Id | None = None
    cancellation_reason_id: Id | None = None
    note: LongText = None


class CancelIn(InModel):
    cancellation_reason_id: Id
    note: LongText = None


class JobOut(JobView):
    """A job as the API answers it: its view and which due times it has missed."""

    late: list[str]


def job_out(view: JobView, now: datetime) -> JobOut:
    late = sorted(lateness(view.status, now, view.dispatch_due_at, view.arrival_due_at))
    return JobOut.model_construct(**dict(view), late=late)


class IncidentOut(IncidentView):
    jobs: list[JobOut] = Field(default_factory=list)


def incident_out(found: IncidentWithJobs, now: datetime) -> IncidentOut:
    jobs = [job_out(j, now) for j in found.jobs]
    return IncidentOut.model_construct(**dict(found.incident), jobs=jobs)


class JobPage(PageOut):
    items: list[JobOut]


class IncidentPage(PageOut):
    items: list[IncidentOut]


class OccurrencesOut(BaseModel):
    """Ocorrências: the beneficiary's incidents with their jobs, newest first."""

    beneficiary_id: Id
    incidents: list[IncidentOut]


class TimelineOut(OutModel):
    """A line of a job's timeline: who moved it (``actor``: operator, provider,
    system), over which dispatch ``channel`` if any."""

    id: int
    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    actor: ActorKind
    channel: Channel | None
    actor_user_id: Id | None
    provider_id: Id | None
    cancellation_reason_id: Id | None
    note: str | None


class ServiceUsageOut(BaseModel):
    service_type_id: Id
    service_name: str
    covered_value: Decimal
    used: int
    limit: int | None
    remaining: int | None
    period: str
    period_start: datetime
    period_end: datetime | None
    km_per_use: int | None
    max_value: Decimal | None
    summary: str


class PlanUsageOut(BaseModel):
    plan_id: Id
    code: str
    name: str
    kind: str
    vehicle_id: Id | None
    starts_on: Any
    ends_on: Any
    in_force: bool
    standing: str
    services: list[ServiceUsageOut]


class CoverageOut(BaseModel):
    at: datetime
    plans: list[PlanUsageOut]


class IncidentListQuery(PageQuery):
    client_id: Id | None = None
    beneficiary_id: Id | None = None


class JobListQuery(PageQuery):
    """``status``: one or more, comma-separated (``open,dispatching``); ``kind``:
    ``assistance`` for the dispatch queue (inquiries and thefts need no provider)."""

    status: Annotated[str, Field(max_length=200)] | None = None
    kind: JobKind | None = None
    incident_id: Id | None = None
    provider_id: Id | None = None
    client_id: Id | None = None
    order: Literal["newest", "oldest"] = "newest"

    @field_validator("status")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        try:
            _statuses(value)
        except ValueError as exc:
            known = ", ".join(s.value for s in JobStatus)
            raise ValidationError("status", f"Situação desconhecida: use {known}") from exc
        return value

    def statuses(self) -> list[JobStatus]:
        return _statuses(self.status)


def _statuses(text: str | None) -> list[JobStatus]:
    return [JobStatus(s.strip()) for s in (text or "").split(",") if s.strip()]


class CoverageQuery(InModel):
    vehicle_id: Id | None = None
    at: Instant | None = None


class PrefillQuery(InModel):
    beneficiary_id: Id | None = None
    vehicle_id: Id | None = None
    client_id: Id | None = None


class PrefillOut(BaseModel):
    """What the incident screen shows while on a call."""

    ask_client_first: bool
    client_id: Id | None
    client_name: str | None
    operator_script: str | None
    vip: bool
    beneficiary: dict[str, Any] | None
    vehicle: dict[str, Any] | None
    coverage: CoverageOut | None
    history: list[IncidentOut]
    incidents_total: int


def coverage_out(report: CoverageReport) -> CoverageOut:
    plans = [
        PlanUsageOut(
            plan_id=u.plan.plan_id,
            code=u.plan.code,
            name=u.plan.name,
            kind=u.plan.kind.value,
            vehicle_id=u.plan.vehicle_id,
            starts_on=u.plan.starts_on,
            ends_on=u.plan.ends_on,
            in_force=True,
            standing=Standing.IN_FORCE.value,
            services=[
                ServiceUsageOut(
                    service_type_id=s.service_type_id,
                    service_name=s.terms.service_name,
                    covered_value=s.terms.covered_value,
                    used=s.used,
                    limit=s.limit,
                    remaining=s.remaining,
                    period=s.terms.period.value,
                    period_start=s.period.start,
                    period_end=s.period.end,
                    km_per_use=s.terms.km_per_use,
                    max_value=s.terms.max_value,
                    summary=s.summary,
                )
                for s in u.services
            ],
        )
        for u in report.in_force
    ]
    plans += [
        PlanUsageOut(
            plan_id=plan.plan_id,
            code=plan.code,
            name=plan.name,
            kind=plan.kind.value,
            vehicle_id=plan.vehicle_id,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            in_force=False,
            standing=standing.value,
            services=[],
        )
        for plan, standing in report.not_in_force
    ]
    return CoverageOut(at=report.at, plans=plans)
