"""Errors of the geo package.

::

    GeoError                      base of every geo error
    ├── InvalidWeightsError       ranking weights or a client's overrides that cannot be
    │                             used: unknown factor, negative, non-finite or > 100 %
    │                             value, weights that do not sum to 1, all zero; carries
    │                             ``factor`` (None when no single factor is to blame)
    ├── InvalidQueryError         a search or scoring argument out of range: radius, N,
    │                             H3 resolution, coordinates, scoring options, a search
    │                             driven out of order
    ├── InvalidCandidateError     a candidate source broke its contract: the same
    │                             provider twice, a rate outside 0..1, a preference
    │                             outside 0..5, a negative distance; carries
    │                             ``provider_id``
    └── InvalidPriceError         a price table row or km that cannot be priced
                                  (negative or non-finite values)

Every one is also a ``ValueError``: they all mean "this argument is wrong". The
callers (operations, server) translate them at their boundary; none of them is meant
for end users as is.
"""

from __future__ import annotations


class GeoError(Exception):
    """Base of every error raised by the geo package."""


class InvalidWeightsError(GeoError, ValueError):
    """Ranking weights, or a client's overrides of them, cannot be used.

    Attributes:
        factor: the offending factor's name, or None when the set as a whole is wrong.
    """

    def __init__(self, message: str, factor: str | None = None) -> None:
        super().__init__(message)
        self.factor = factor


class InvalidQueryError(GeoError, ValueError):
    """A search or scoring argument is out of range, or a search was driven out of order."""


class InvalidCandidateError(GeoError, ValueError):
    """A candidate source delivered facts that the ranking cannot use.

    Attributes:
        provider_id: the provider whose facts are wrong.
    """

    def __init__(self, message: str, provider_id: int) -> None:
        super().__init__(message)
        self.provider_id = provider_id


class InvalidPriceError(GeoError, ValueError):
    """A price table row or a km figure cannot be priced."""
