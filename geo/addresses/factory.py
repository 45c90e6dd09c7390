"""Which geocoder answers a request (the GEOCODER setting)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from geo.addresses.geocoder import FallbackGeocoder, Geocoder, GeocoderConfig, GeocoderKind
from geo.addresses.nominatim import NominatimGeocoder
from geo.addresses.offline import DEFAULT_SOURCES, OfflineGeocoder, SqlAddressSource


def make_geocoder(
    config: GeocoderConfig,
    session: AsyncSession,
    sources: Sequence[SqlAddressSource] = DEFAULT_SOURCES,
) -> Geocoder:
    """The geocoder for one request.

    ``offline``: the known addresses in ``sources``, read through ``session``. ``nominatim``: the
    process's Nominatim geocoder (one per configuration, so that its rate limit
    holds across requests), falling back to the offline one while Nominatim is
    unavailable.
    """
    offline = OfflineGeocoder(
        session, allow_outside_brazil=config.allow_outside_brazil, sources=sources
    )
    if config.kind is GeocoderKind.OFFLINE:
        return offline
    return FallbackGeocoder(shared_nominatim(config), offline)


@functools.lru_cache(maxsize=4)
def shared_nominatim(config: GeocoderConfig) -> NominatimGeocoder:
    """The process's Nominatim geocoder for ``config``."""
    return NominatimGeocoder.from_config(config)
