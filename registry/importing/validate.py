"""Validating the cells of one CSV row (pure): :class:`RowValidator`."""

from __future__ import annotations

from datetime import date
from functools import partial
from typing import Any

from registry.enums import PlanKind
from registry.errors import ValidationError
from registry.importing import fields
from registry.importing.columns import REQUIRED, VEHICLE_COLUMNS, Header
from registry.importing.report import RowError
from registry.importing.rows import (
    BENEFICIARY_TEXT,
    VEHICLE_RENAMED,
    VEHICLE_TEXT,
    ImportRow,
    Parser,
    PlanCatalogue,
    PlanLink,
    beneficiary_keys,
    column_width,
)
from registry.models import Beneficiary, Vehicle
from registry.models.columns import point_wkt
from registry.validation import (
    normalize_cep,
    normalize_email,
    normalize_phone,
    normalize_plate,
    normalize_uf,
)

# (start, end) column pairs: the end may not precede the start.
_PERIODS = (
    ("plan_starts_on", "plan_ends_on"),
    ("vehicle_plan_starts_on", "vehicle_plan_ends_on"),
)
_DATES = tuple(column for period in _PERIODS for column in period)


class RowValidator:
    """Turns the cells of a data row into an :class:`ImportRow` or its errors.

    Args:
        header: the file's header.
        plans: the client's plans, to resolve plan codes.
        today: the date that birth dates may not pass and that bounds model years.
    """

    def __init__(self, header: Header, plans: PlanCatalogue, today: date) -> None:
        self.header = header
        self._plans = plans
        self._today = today
        self._parsers = self._make_parsers()
        self._beneficiary_keys = beneficiary_keys(header)[3:]  # after document, kind, name
        self._vehicle_columns = [c for c in VEHICLE_COLUMNS if c in header.present]
        self._order = {column: index for index, column in header.positions}

    def _make_parsers(self) -> dict[str, Parser]:
        parsers: dict[str, Parser] = {
            "person_kind": fields.person_kind,
            "sex": fields.sex,
            "birth_date": partial(fields.day, field="birth_date"),
            "email": normalize_email,
            "state": normalize_uf,
            "cep": lambda value: normalize_cep(fields.cep_digits(value)),
            "lat": partial(fields.coordinate, field="lat", bounds=fields.LAT_RANGE),
            "lng": partial(fields.coordinate, field="lng", bounds=fields.LNG_RANGE),
            "representative_document": partial(
                fields.any_document, field="representative_document"
            ),
            "plan_codes": self._plan_ids,
            "plate": normalize_plate,
            "vin": fields.vin,
            "year": partial(fields.year, today=self._today),
            "vehicle_plan_code": partial(
                self._plans.resolve, kind=PlanKind.VEHICLE, field="vehicle_plan_code"
            ),
        }
        for column in ("phone", "phone_secondary", "whatsapp"):
            parsers[column] = partial(normalize_phone, field=column)
        for column in _DATES:
            parsers[column] = partial(fields.day, field=column)
        for model, columns in ((Beneficiary, BENEFICIARY_TEXT), (Vehicle, VEHICLE_TEXT)):
            for column in columns:
                parsers[column] = partial(
                    fields.text, field=column, max_length=column_width(model, column)
                )
        return parsers

    def validate(self, line: int, cells: list[str]) -> ImportRow | list[RowError] | None:
        """The row starting on physical ``line``; None for a blank row."""
        stripped = [cell.strip() for cell in cells]
        if not any(stripped):
            return None
        errors: list[RowError] = []
        if len(stripped) > self.header.width and any(stripped[self.header.width :]):
            message = f"a linha tem {len(stripped)} campos; o cabeçalho tem {self.header.width}"
            errors.append(RowError(line, None, message))
        raw = {c: stripped[i] if i < len(stripped) else "" for i, c in self.header.positions}
        values = self._parse(line, raw, errors)
        self._check(line, raw, values, errors)
        if errors:
            errors.sort(key=lambda error: self._order.get(error.field or "", -1))
            return errors
        return self._row(line, values)

    def _parse(self, line: int, raw: dict[str, str], errors: list[RowError]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for column, cell in raw.items():
            parser = self._parsers.get(column)
            if cell and parser is not None:
                try:
                    values[column] = parser(cell)
                except ValidationError as exc:
                    errors.append(RowError(line, exc.field, exc.message))
        for column in REQUIRED:
            if not raw[column]:
                errors.append(RowError(line, column, "campo obrigatório"))
        if raw["document"]:
            try:
                values["document"] = fields.document(raw["document"], values.get("person_kind"))
            except ValidationError as exc:
                errors.append(RowError(line, exc.field, exc.message))
        return values

    def _check(
        self, line: int, raw: dict[str, str], values: dict[str, Any], errors: list[RowError]
    ) -> None:
        """Rules across columns; a column that failed to parse is not checked again."""

        def fail(column: str, message: str) -> None:
            errors.append(RowError(line, column, message))

        if raw.get("plan_codes") and not raw["plan_starts_on"]:
            fail("plan_starts_on", "informe a data de início dos planos")
        for starts, ends in _PERIODS:
            if starts in values and ends in values and values[ends] < values[starts]:
                fail(ends, "data final anterior à data de início")
        if bool(raw.get("lat")) != bool(raw.get("lng")):
            fail("lat" if not raw.get("lat") else "lng", "informe latitude e longitude juntas")
        vehicle_cells = (raw[c] for c in self._vehicle_columns)
        if self._vehicle_columns and not raw["plate"] and any(vehicle_cells):
            fail("plate", "informe a placa do veículo")
        born = values.get("birth_date")
        if born is not None and born > self._today:
            fail("birth_date", "data de nascimento no futuro")

    def _row(self, line: int, values: dict[str, Any]) -> ImportRow:
        document, kind = values["document"]
        beneficiary = {"document": document, "person_kind": kind, "name": values["name"]}
        for key in self._beneficiary_keys:
            beneficiary[key] = values.get(key)
        if "location" in beneficiary and "lat" in values:
            beneficiary["location"] = point_wkt(values["lat"], values["lng"])
        plans = tuple(
            PlanLink(plan_id, values["plan_starts_on"], values.get("plan_ends_on"))
            for plan_id in values.get("plan_codes", ())
        )
        vehicle = None
        if values.get("plate"):
            vehicle = {VEHICLE_RENAMED.get(c, c): values.get(c) for c in self._vehicle_columns}
        return ImportRow(
            line, document, beneficiary, values.get("representative_document"), plans, vehicle
        )

    def _plan_ids(self, value: str) -> tuple[int, ...]:
        """The ids of the beneficiary plans listed in a cell; every bad code reported."""
        ids, problems = [], []
        for code in fields.plan_codes(value):
            try:
                ids.append(self._plans.resolve(code, PlanKind.BENEFICIARY, "plan_codes"))
            except ValidationError as exc:
                problems.append(exc.message)
        if problems:
            raise ValidationError("plan_codes", "; ".join(problems))
        return tuple(ids)
