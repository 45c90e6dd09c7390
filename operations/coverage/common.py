"""What the coverage modules share: the assistance's zone, the pt-BR hint that a
refusal may be overridden, money and date formatting, and the check that a moment
is timezone-aware.

Every moment the package takes is an aware ``datetime``; a naive one raises
:class:`~operations.errors.InvalidCoverageDataError` here rather than being read
in whatever zone the server happens to run in.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from operations.errors import InvalidCoverageDataError

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
"""The default zone in which months, years and contract days are read."""

AD_HOC_HINT = "Abra como serviço avulso (cobrado) se necessário."
"""Appended to refusals that the operator may override with an ad-hoc job."""


def format_brl(value: Decimal) -> str:
    """``Decimal("1500")`` as "R$ 1.500,00"."""
    text = f"{value.quantize(Decimal('0.01')):,.2f}"
    return "R$ " + text.replace(",", "_").replace(".", ",").replace("_", ".")


def _ddmmyyyy(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _local(moment: datetime, tz: tzinfo) -> datetime:
    _require_aware(moment, "moment")
    return moment.astimezone(tz)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidCoverageDataError(f"Data e hora sem fuso horário ({name}).")
