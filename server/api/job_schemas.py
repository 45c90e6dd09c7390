"""Request and response bodies of the operations API (incidents and jobs)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from geo.addresses import AddressSource as PlaceSource
from operations.lifecycle import Channel, JobKind, JobStatus
from registry.errors import ValidationError
from registry.schemas.common import (
    Cep,
    InModel,
    LatLng,
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

MAX_URL = 2048


class IncidentIn(InModel):
    """A new incident. ``opened_at``: when the operator took the call (the TMA clock's
    start); now when omitted. Give the vehicle or the beneficiary (or both)."""

    client_id: int
    incident_type_id: int
    beneficiary_id: int | None = None
    vehicle_id: int | None = None
    opened_at: AwareDatetime | None = None
    notes: LongText = None


class PlaceIn(InModel):
    """An origin or destination, from exactly one source:

    * ``lat``/``lng`` with the address fields (a geocoder result, or typed in);
    * ``maps_url``: a Google Maps URL (its coordinates; the address fields given
      alongside are kept);
    * ``partner_site_id``: one of the incident's client's partner sites;
    * ``beneficiary: true``: the incident beneficiary's address.
    """

    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None
    maps_url: Annotated[str, Field(min_length=1, max_length=MAX_URL)] | None = None
    partner_site_id: int | None = None
    beneficiary: bool = False
    source: PlaceSource | None = None
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
        if sum(given) != 1:
            raise ValidationError(
                "source",
                "Informe uma só fonte para o endereço: coordenadas, link do Google Maps, "
                "estabelecimento parceiro ou endereço do beneficiário",
            )
        if given[0] and (self.lat is None or self.lng is None):
            raise ValidationError("lat", "Informe latitude e longitude")
        return self


class RequesterIn(InModel):
    name: Name
    phone: Phone


class JobIn(InModel):
    """A new job. ``ad_hoc``: open it as a chargeable service outside the plan."""

    kind: JobKind = JobKind.ASSISTANCE
    service_type_id: int | None = None
    ad_hoc: bool = False
    requester: RequesterIn
    requested_at: AwareDatetime | None = None
    notes_for_provider: LongText = None
    scheduled_for: AwareDatetime | None = None
    origin: PlaceIn | None = None
    destination: PlaceIn | None = None


class JobPatch(InModel):
    """Fields of a job that may change before it is done (omit what stays)."""

    requester_name: Name | None = None
    requester_phone: Phone | None = None
    requested_at: AwareDatetime | None = None
    notes_for_provider: LongText = None
    scheduled_for: AwareDatetime | None = None
    origin: PlaceIn | None = None
    destination: PlaceIn | None = None


class StatusIn(InModel):
    """Move a job: ``provider_id`` when assigning; a reason to cancel."""

    to: JobStatus
    channel: Channel = Channel.OPERATOR
    provider_id: int | None = None
    cancellation_reason_id: int | None = None
    note: LongText = None


class CancelIn(InModel):
    cancellation_reason_id: int
    note: LongText = None


class PlaceOut(OutModel):
    source: str
    street: str | None
    number: str | None
    complement: str | None
    neighbourhood: str | None
    city: str | None
    state: str | None
    cep: str | None
    reference: str | None
    point: LatLng
    one_line: str


class RequesterOut(BaseModel):
    name: str
    phone: str


class JobOut(BaseModel):
    id: int
    incident_id: int
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
    late: list[str]
    handling_time_s: int
    status_changed_at: datetime
    origin: PlaceOut | None
    destination: PlaceOut | None
    created_at: datetime
    updated_at: datetime


class IncidentOut(OutModel):
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
    jobs: list[JobOut] = Field(default_factory=list)


class OccurrencesOut(BaseModel):
    """Ocorrências: the beneficiary's incidents with their jobs, newest first."""

    beneficiary_id: int
    incidents: list[IncidentOut]


class TimelineOut(OutModel):
    id: int
    from_status: JobStatus | None
    to_status: JobStatus
    at: datetime
    channel: Channel
    actor_user_id: int | None
    provider_id: int | None
    cancellation_reason_id: int | None
    note: str | None


class ServiceUsageOut(BaseModel):
    service_type_id: int
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
    plan_id: int
    code: str
    name: str
    kind: str
    vehicle_id: int | None
    starts_on: Any
    ends_on: Any
    in_force: bool
    standing: str
    services: list[ServiceUsageOut]


class CoverageOut(BaseModel):
    at: datetime
    plans: list[PlanUsageOut]


class IncidentListQuery(InModel):
    client_id: int | None = None
    beneficiary_id: int | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class JobListQuery(InModel):
    """``status``: one or more, comma-separated (``open,dispatching``)."""

    status: Annotated[str, Field(max_length=200)] | None = None
    incident_id: int | None = None
    provider_id: int | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class CoverageQuery(InModel):
    vehicle_id: int | None = None
    at: AwareDatetime | None = None


class PrefillQuery(InModel):
    beneficiary_id: int | None = None
    vehicle_id: int | None = None
    client_id: int | None = None


class PrefillOut(BaseModel):
    """What the incident screen shows while on a call."""

    ask_client_first: bool
    client_id: int | None
    client_name: str | None
    operator_script: str | None
    vip: bool
    beneficiary: dict[str, Any] | None
    vehicle: dict[str, Any] | None
    coverage: CoverageOut | None
    history: list[IncidentOut]
    incidents_total: int
