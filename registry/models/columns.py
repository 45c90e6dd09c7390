"""Column helpers shared by the registry models.

* :func:`str_enum`: a ``StrEnum`` stored as VARCHAR with a CHECK constraint
  ``ck_<table>_<column>`` listing the allowed values.
* :func:`geography_point`: a PostGIS ``geography(POINT, 4326)``; its GiST index is
  declared explicitly in each table so that Alembic sees it.
* :class:`Address`: the address fields shared by clients, beneficiaries, providers
  and partner sites.
* :class:`IdPk`: an identity integer primary key.
* :class:`StrEnumArray`: an array of ``StrEnum`` values.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from geoalchemy2 import Geography
from sqlalchemy import CheckConstraint, Enum, Identity, Integer, String, TypeDecorator
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

E = TypeVar("E", bound=enum.StrEnum)

SRID = 4326
# Enum columns are wider than their longest value: adding a value then only
# changes the CHECK constraint.
ENUM_LENGTH = 20


def _values(enum_cls: type[enum.StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]


def str_enum(enum_cls: type[E], name: str) -> Enum:
    """A non-native Enum type storing ``enum_cls`` values, checked by ``ck_<table>_<name>``.

    ``name`` must be the column name: it names the CHECK constraint through the
    metadata's naming convention.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=_values,
        length=ENUM_LENGTH,
    )


def geography_point() -> Geography:
    """``geography(POINT, 4326)`` without GeoAlchemy's implicit index."""
    return Geography(geometry_type="POINT", srid=SRID, spatial_index=False)


def point_wkt(lat: float, lng: float) -> str:
    """EWKT of a WGS 84 point, the form geography columns accept."""
    return f"SRID={SRID};POINT({lng:.7f} {lat:.7f})"


class IdPk:
    """``id``: an integer identity primary key."""

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True, sort_order=-100)


class Address:
    """Brazilian address fields; all optional so that partial records can be saved.

    ``state`` is the UF (two upper-case letters), ``cep`` eight digits.
    """

    street: Mapped[str | None] = mapped_column(String(160))
    number: Mapped[str | None] = mapped_column(String(20))
    complement: Mapped[str | None] = mapped_column(String(80))
    neighbourhood: Mapped[str | None] = mapped_column(String(80))
    city: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str | None] = mapped_column(
        String(2), CheckConstraint("state ~ '^[A-Z]{2}$'", name="state_uf")
    )
    cep: Mapped[str | None] = mapped_column(
        String(8), CheckConstraint("cep ~ '^[0-9]{8}$'", name="cep_digits")
    )


class StrEnumArray(TypeDecorator[list[E]]):
    """``varchar[]`` holding ``StrEnum`` values; loads them back as members.

    Arrays cannot use the Enum type's CHECK; tables add ``col <@ ARRAY[...]``.
    """

    impl = ARRAY(String(ENUM_LENGTH))
    cache_ok = True

    def __init__(self, enum_cls: type[E]) -> None:
        super().__init__()
        self.enum_cls = enum_cls

    def process_bind_param(self, value: list[E] | None, dialect: Dialect) -> list[str] | None:
        """Members (or their values) to their string values; unknown values raise."""
        return None if value is None else [self.enum_cls(item).value for item in value]

    def process_result_value(self, value: list[str] | None, dialect: Dialect) -> list[E] | None:
        """Stored strings back to enum members."""
        return None if value is None else [self.enum_cls(item) for item in value]


def array_values_check(column: str, enum_cls: type[enum.StrEnum]) -> str:
    """SQL of a CHECK that every element of ``column`` is a value of ``enum_cls``."""
    values = ", ".join(f"'{value}'" for value in _values(enum_cls))
    return f"{column} <@ ARRAY[{values}]::varchar[]"
