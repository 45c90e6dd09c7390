"""Addresses of registry rows: a partner site's, a beneficiary's (pure).

Sources (c) and (d) of the article need no search: the operator picks the client's
partner site or takes the beneficiary's own address, and the row's fields become
the job's address.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import WKBElement, WKTElement

from geo.addresses.address import Address, AddressSource
from registry.points import Point, point_from_wkb, point_from_wkt


def location_of(element: Any) -> Point | None:
    """The point of a geography column's value (as loaded, or as assigned)."""
    if isinstance(element, WKBElement):
        return point_from_wkb(element.data)
    if isinstance(element, WKTElement):
        return point_from_wkt(str(element.data))
    return None


def address_of(row: Any, source: AddressSource, *, label: str | None = None) -> Address:
    """The address of a row with the registry's ``Address`` columns and ``location``
    (a :class:`~registry.models.PartnerSite`, a :class:`~registry.models.Beneficiary`).

    Args:
        row: the registry row.
        source: where it comes from (``PARTNER_SITE``, ``BENEFICIARY``).
        label: shown beside the address (the partner site's name).

    Raises:
        InvalidAddressError: a stored value the address refuses (none should be: the
            registry validates the same fields).
    """
    return Address(
        source,
        street=row.street,
        number=row.number,
        complement=row.complement,
        neighbourhood=row.neighbourhood,
        city=row.city,
        state=row.state,
        cep=row.cep,
        point=location_of(getattr(row, "location", None)),
        label=label,
    )


def partner_site_address(site: Any) -> Address:
    """A partner site's address, labelled with its name."""
    return address_of(site, AddressSource.PARTNER_SITE, label=site.name)


def beneficiary_address(beneficiary: Any) -> Address:
    """A beneficiary's registered address."""
    return address_of(beneficiary, AddressSource.BENEFICIARY)
