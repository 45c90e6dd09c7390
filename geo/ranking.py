"""Candidate ranking: weights, per-provider facts, scores with their breakdown, and
the price of a job from a provider's price table (pure).

A candidate's score is ``Σ weight(f) × value(f)`` over the factors of
:data:`FACTORS`, each value normalised to 0..1 (1 is best), minus a penalty when the
provider is busy:

============== ===================================================================
factor         normalised value
============== ===================================================================
distance       ``1 - distance_km / radius_km`` (1 on the spot, 0 on the radius)
on_time_rate   the rate; the ``on_time_prior`` (0.5 unless given) when unknown
acceptance     the rate; the ``acceptance_prior`` (0.5 unless given) when unknown
preference     ``preference / 5``
partnership    1 if the provider is this client's partner, else 0
price          ``1 - price / price_reference`` (0 at or above the reference); the
               ``price_prior`` (0.5) when the price or the reference is unknown
busy           1 if on an active job, else 0; weight ``-busy_penalty``
============== ===================================================================

Weights sum to 1, so a free provider scores 0..1 and a busy one ``-busy_penalty``
less. Busy providers stay in the list, flagged: a dispatcher still sees a busy
provider that is far better than the free ones (it may be finishing next door).

Every value is monotone in its input and bounded by 0..1, which is what makes the
exact search of :mod:`geo.topn` possible: :meth:`Scorer.bound` is a true upper bound
on the score of any provider at least some distance away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple, Protocol

from geo.distance import PositionSource
from geo.errors import (
    InvalidCandidateError,
    InvalidPriceError,
    InvalidQueryError,
    InvalidWeightsError,
)
from realtime.presence import Connectivity

FACTORS = ("distance", "on_time_rate", "acceptance_rate", "preference", "partnership", "price")
"""The weighted factors, in breakdown order; the keys of a client's ``ranking_weights``."""

BUSY = "busy"
"""Name of the busy penalty's line in a :class:`ScoreBreakdown` (not a weight)."""

MAX_PREFERENCE = 5
NEUTRAL_PRIOR = 0.5
"""Value of a rate (or price) that is not known: neither good nor bad."""

BUSY_PENALTY = 0.2
"""Subtracted from a busy provider's score. With the default weights (distance 0.35)
and a 20 km radius, a busy provider must be about 11 km closer than a free one of the
same record to rank above it."""

OVERRIDE_SCALE = 100.0
"""Client overrides are percentages (``clients.ranking_weights``, 0..100)."""

_SUM_TOLERANCE = 1e-9
_CENTS = Decimal("0.01")
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Weights:
    """The weight of each factor; non-negative, summing to 1.

    The defaults put distance first (it drives the arrival time the beneficiary
    feels), the client's partners next, then the provider's record and the
    assistance's preference; price only counts for clients that ask for it.

    Raises :class:`~geo.errors.InvalidWeightsError` when a weight is negative or not
    finite, or when they do not sum to 1 (build relative weights with
    :meth:`from_mapping`).
    """

    distance: float = 0.35
    on_time_rate: float = 0.15
    acceptance_rate: float = 0.15
    preference: float = 0.15
    partnership: float = 0.20
    price: float = 0.0

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            _check_weight(name, value, upper=math.inf)
        total = math.fsum(self.as_dict().values())
        if abs(total - 1.0) > _SUM_TOLERANCE:
            raise InvalidWeightsError(f"weights must sum to 1, not {total}")

    def as_dict(self) -> dict[str, float]:
        """Factor name to weight, in :data:`FACTORS` order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_mapping(cls, weights: Mapping[str, float]) -> Weights:
        """Weights from relative values on any scale (missing factors weigh 0).

        ``{"distance": 2, "partnership": 1}`` gives 2/3 and 1/3. Raises
        :class:`~geo.errors.InvalidWeightsError` on an unknown factor, a negative or
        non-finite value, or when every value is 0.
        """
        for name, value in weights.items():
            _check_factor(name)
            _check_weight(name, value, upper=math.inf)
        return cls(**_normalised({name: float(weights.get(name, 0.0)) for name in FACTORS}))

    def with_overrides(self, overrides: Mapping[str, float]) -> Weights:
        """These weights with a client's overrides, in percent, applied.

        Each named factor gets exactly its percentage; the factors not named share
        what is left in the proportions of these weights. When the named
        percentages reach 100, or nothing is left to share (the others all weigh
        0), the named ones are scaled to sum 100 % and the others get 0. An empty
        mapping returns these weights.

        ``Weights().with_overrides({"partnership": 40})``: partnership 0.40, the
        other factors keep their ratios and share 0.60.

        Raises :class:`~geo.errors.InvalidWeightsError` on an unknown factor, a value
        that is not a number in 0..100, or when every resulting weight is 0.
        """
        for name, value in overrides.items():
            _check_factor(name)
            _check_weight(name, value, upper=OVERRIDE_SCALE)
        if not overrides:
            return self
        named = {name: float(value) / OVERRIDE_SCALE for name, value in overrides.items()}
        rest = {n: w for n, w in self.as_dict().items() if n not in named}
        named_total = math.fsum(named.values())
        rest_total = math.fsum(rest.values())
        if named_total >= 1.0 or rest_total == 0.0:
            return Weights(**_normalised({**dict.fromkeys(rest, 0.0), **named}))
        share = (1.0 - named_total) / rest_total
        merged = {**{n: w * share for n, w in rest.items()}, **named}
        return Weights(**_normalised(merged))


def _check_factor(name: str) -> None:
    if name not in FACTORS:
        raise InvalidWeightsError(
            f"unknown ranking factor {name!r}; known: {', '.join(FACTORS)}", factor=name
        )


def _check_weight(name: str, value: object, *, upper: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and 0.0 <= value <= upper)
    ):
        limit = "" if math.isinf(upper) else f" and <= {upper:g}"
        raise InvalidWeightsError(f"weight of {name} must be a number >= 0{limit}", factor=name)


def _normalised(weights: dict[str, float]) -> dict[str, float]:
    total = math.fsum(weights.values())
    if total <= 0.0:
        raise InvalidWeightsError("at least one ranking weight must be above 0")
    return {name: value / total for name, value in weights.items()}


class CandidateFacts(NamedTuple):
    """What ranking knows of one provider for one job.

    Scored: ``distance_km`` (from the job's origin to the counted position, by
    :func:`geo.distance.haversine_km`), ``on_time_rate`` and ``acceptance_rate``
    (0..1 as floats, None without history), ``preference`` (0..5), ``partner`` (of
    this job's client), ``busy`` (on an active job) and ``price`` (of this job, from
    :func:`price_of_job`; None when unknown or not needed).

    Shown only: the counted position and where it came from, its age, connectivity,
    ETA (sources may fill it for the final list only), city, phone and name.

    A named tuple, not a frozen dataclass: a search builds thousands of them, and a
    frozen dataclass takes five times as long to build (1.7 µs against 0.34 µs).
    """

    provider_id: int
    distance_km: float
    on_time_rate: float | None
    acceptance_rate: float | None
    preference: int
    partner: bool
    busy: bool
    price: Decimal | None = None
    lat: float | None = None
    lng: float | None = None
    position_source: PositionSource = PositionSource.BASE
    position_age_s: float | None = None
    connectivity: Connectivity = Connectivity.OFFLINE
    eta_minutes: float | None = None
    city: str | None = None
    phone: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreOptions:
    """The scoring knobs beyond the weights.

    * ``busy_penalty``: subtracted from a busy provider's score (0..1).
    * ``on_time_prior`` / ``acceptance_prior``: the value of an unknown rate; pass the
      network's average to treat newcomers as average providers (0..1).
    * ``price_reference``: a job price that scores 0 (e.g. what the plan covers for
      this service); None makes every price neutral.
    * ``price_prior``: the value of an unknown price (0..1).

    Raises :class:`~geo.errors.InvalidQueryError` on a value out of range.
    """

    busy_penalty: float = BUSY_PENALTY
    on_time_prior: float = NEUTRAL_PRIOR
    acceptance_prior: float = NEUTRAL_PRIOR
    price_reference: Decimal | None = None
    price_prior: float = NEUTRAL_PRIOR

    def __post_init__(self) -> None:
        for name in ("busy_penalty", "on_time_prior", "acceptance_prior", "price_prior"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidQueryError(f"{name} must be in 0..1, not {value}")
        ref = self.price_reference
        if ref is not None and not (ref.is_finite() and ref > 0):
            raise InvalidQueryError(f"price_reference must be > 0, not {ref}")


DEFAULT_OPTIONS = ScoreOptions()


class FactorScore(NamedTuple):
    """One line of a breakdown: ``contribution = weight × value`` (a tuple: fifty
    candidates of seven lines each are built at every search)."""

    name: str
    value: float
    weight: float
    contribution: float


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """A candidate's score: one line per factor of :data:`FACTORS`, then the busy
    penalty (:data:`BUSY`); ``total`` is the sum of the contributions, in order."""

    factors: tuple[FactorScore, ...]
    total: float

    def __getitem__(self, name: str) -> FactorScore:
        for line in self.factors:
            if line.name == name:
                return line
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Ceiling:
    """Upper bounds of the normalised values (0..1) of providers not yet seen.

    The default (all 1) holds for anyone. A source may know better: e.g.
    ``partnership=0.0`` when the client has no partner, or the maxima over the rest of
    the network (:meth:`covering`); a ceiling below a real value breaks exactness.
    """

    on_time_rate: float = 1.0
    acceptance_rate: float = 1.0
    preference: float = 1.0
    partnership: float = 1.0
    price: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InvalidQueryError(f"ceiling of {f.name} must be in 0..1, not {value}")

    @classmethod
    def covering(cls, facts: Iterable[CandidateFacts], options: ScoreOptions) -> Ceiling:
        """The tightest ceiling over ``facts`` (all 0 when there are none)."""
        top = [0.0] * 5
        for f in facts:
            values = _values(f, 1.0, options)[1:6]
            top = [max(t, v) for t, v in zip(top, values, strict=True)]
        return cls(*top)


NO_CEILING = Ceiling()


def _values(f: CandidateFacts, radius_km: float, o: ScoreOptions) -> tuple[float, ...]:
    """The normalised values, in breakdown order; raises on facts out of contract."""
    d = f.distance_km
    if not d >= 0.0:  # also refuses NaN
        raise InvalidCandidateError(f"distance_km must be >= 0, not {d}", f.provider_id)
    distance = 1.0 - d / radius_km
    on_time = o.on_time_prior if f.on_time_rate is None else f.on_time_rate
    acceptance = o.acceptance_prior if f.acceptance_rate is None else f.acceptance_rate
    if not (0.0 <= on_time <= 1.0 and 0.0 <= acceptance <= 1.0):
        raise InvalidCandidateError("rates must be in 0..1", f.provider_id)
    if not 0 <= f.preference <= MAX_PREFERENCE:
        raise InvalidCandidateError(
            f"preference must be in 0..5, not {f.preference}", f.provider_id
        )
    return (
        distance if distance > 0.0 else 0.0,
        on_time,
        acceptance,
        f.preference / MAX_PREFERENCE,
        1.0 if f.partner else 0.0,
        _price_value(f, o),
        1.0 if f.busy else 0.0,
    )


def _price_value(f: CandidateFacts, o: ScoreOptions) -> float:
    if f.price is None or o.price_reference is None:
        return o.price_prior
    if not (f.price.is_finite() and f.price >= 0):
        raise InvalidCandidateError(f"price must be >= 0, not {f.price}", f.provider_id)
    value = 1.0 - float(f.price) / float(o.price_reference)
    return value if value > 0.0 else 0.0


class Scorer:
    """Scores candidates under one weight set, radius and options.

    :meth:`total` and :meth:`breakdown` give the same float, bit for bit: the
    contributions are added record first (on-time, acceptance, preference), then
    partnership, price, distance and the busy line (:func:`_sum`).
    """

    __slots__ = ("_names", "_options", "_weights", "radius_km")

    def __init__(
        self, weights: Weights, radius_km: float, options: ScoreOptions = DEFAULT_OPTIONS
    ) -> None:
        if not (math.isfinite(radius_km) and radius_km > 0.0):
            raise InvalidQueryError(f"radius_km must be > 0, not {radius_km}")
        self.radius_km = radius_km
        self._options = options
        self._weights = (*weights.as_dict().values(), -options.busy_penalty)
        self._names = (*FACTORS, BUSY)

    @property
    def weights(self) -> tuple[float, ...]:
        """The weights in breakdown order, the busy line's (``-busy_penalty``) last."""
        return self._weights

    @property
    def options(self) -> ScoreOptions:
        return self._options

    def total(self, facts: CandidateFacts) -> float:
        """The score of ``facts``; raises :class:`~geo.errors.InvalidCandidateError`."""
        return _sum(self._weights, _values(facts, self.radius_km, self._options))

    def breakdown(self, facts: CandidateFacts) -> ScoreBreakdown:
        """The score of ``facts`` with each factor's value, weight and contribution."""
        values = _values(facts, self.radius_km, self._options)
        lines = tuple(
            FactorScore(name, value, weight, weight * value)
            for name, value, weight in zip(self._names, values, self._weights, strict=True)
        )
        c = [line.contribution for line in lines]
        return ScoreBreakdown(lines, _add(c))

    def record(self, on_time: float, acceptance: float, preference: float) -> float:
        """The first partial sum of every total: the provider's record (values 0..1).

        ``(record + w_partner × 0) + w_price × price`` is what a free non-partner has
        before distance; adding ``w_distance × distance`` then gives its total, bit for
        bit (``x + 0.0 == x`` for the non-negative ``x`` here)."""
        w = self._weights
        return w[1] * on_time + w[2] * acceptance + w[3] * preference

    def record_of(
        self, on_time_rate: float | None, acceptance_rate: float | None, preference: int
    ) -> float:
        """:meth:`record` of raw facts, the priors standing in for unknown rates."""
        o = self._options
        return self.record(
            o.on_time_prior if on_time_rate is None else on_time_rate,
            o.acceptance_prior if acceptance_rate is None else acceptance_rate,
            preference / MAX_PREFERENCE,
        )

    def distance_value(self, distance_km: float) -> float:
        """The normalised distance value (0 beyond the radius)."""
        distance = 1.0 - distance_km / self.radius_km
        return distance if distance > 0.0 else 0.0

    @property
    def constant_price_value(self) -> float | None:
        """The price value every provider gets when no reference is set, else None."""
        o = self._options
        return o.price_prior if o.price_reference is None else None

    def bound(self, min_distance_km: float, ceiling: Ceiling = NO_CEILING) -> float:
        """The best score any provider at least ``min_distance_km`` away can have,
        if its values lie under ``ceiling`` and it is free.

        Computed with the same operations, in the same order, as :meth:`total`; since
        each is monotone under IEEE rounding, no such provider's total exceeds it.
        """
        c = ceiling
        price = c.price
        if self._options.price_reference is None:  # every price scores the prior
            price = min(price, self._options.price_prior)
        distance = self.distance_value(max(0.0, min_distance_km))
        values = (distance, c.on_time_rate, c.acceptance_rate, c.preference, c.partnership)
        return _sum(self._weights, (*values, price, 0.0))


def _sum(w: tuple[float, ...], v: tuple[float, ...]) -> float:
    """``Σ w × v`` in the one order every score and bound uses: the record (on-time,
    acceptance, preference), then partnership, price, distance, and busy last, so that
    the part that does not depend on the job's origin can be computed ahead."""
    return (
        (((w[1] * v[1] + w[2] * v[2] + w[3] * v[3]) + w[4] * v[4]) + w[5] * v[5]) + w[0] * v[0]
    ) + w[6] * v[6]


def _add(c: list[float]) -> float:
    """The contributions (breakdown order) added in :func:`_sum`'s order."""
    return ((((c[1] + c[2] + c[3]) + c[4]) + c[5]) + c[0]) + c[6]


def score(
    facts: CandidateFacts,
    weights: Weights,
    radius_km: float,
    options: ScoreOptions = DEFAULT_OPTIONS,
) -> ScoreBreakdown:
    """The score breakdown of one candidate; see the module docstring.

    A candidate beyond ``radius_km`` gets a distance value of 0 (search excludes
    it before scoring). Raises :class:`~geo.errors.InvalidQueryError` on a bad
    radius and :class:`~geo.errors.InvalidCandidateError` on facts out of range.
    """
    return Scorer(weights, radius_km, options).breakdown(facts)


class PriceRow(Protocol):
    """The price table columns a job's price needs (``ProviderService`` has them)."""

    @property
    def departure_fee(self) -> Decimal: ...
    @property
    def included_km(self) -> int: ...
    @property
    def price_per_km(self) -> Decimal: ...
    @property
    def night_holiday_surcharge_pct(self) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class PriceTableRow:
    """A plain :class:`PriceRow` (for caches and tests)."""

    departure_fee: Decimal
    included_km: int
    price_per_km: Decimal
    night_holiday_surcharge_pct: Decimal = Decimal(0)


def price_of_job(
    price_row: PriceRow,
    km_to_origin: float | Decimal,
    km_trip: float | Decimal,
    *,
    night_or_holiday: bool,
) -> Decimal:
    """What a provider charges for a job, in reais, rounded half-up to cents.

    ``departure_fee + price_per_km × max(0, km_to_origin + km_trip - included_km)``,
    raised by ``night_holiday_surcharge_pct`` percent at night or on a holiday. The
    km are road km (e.g. :meth:`geo.distance.StraightLineSpeedModel.road_km`);
    ``km_trip`` is 0 for services done on the spot. The hourly rate (waiting, hours
    worked) is not known before the job and is left to closing.

    Raises :class:`~geo.errors.InvalidPriceError` on negative or non-finite values.
    """
    km = _km(km_to_origin, "km_to_origin") + _km(km_trip, "km_trip")
    fee, per_km = price_row.departure_fee, price_row.price_per_km
    pct, included = price_row.night_holiday_surcharge_pct, price_row.included_km
    for name, value in (("departure_fee", fee), ("price_per_km", per_km), ("surcharge", pct)):
        if not (value.is_finite() and value >= 0):
            raise InvalidPriceError(f"{name} must be >= 0, not {value}")
    if included < 0:
        raise InvalidPriceError(f"included_km must be >= 0, not {included}")
    price = fee + per_km * max(Decimal(0), km - included)
    if night_or_holiday:
        price += price * pct / _HUNDRED
    return price.quantize(_CENTS, rounding=ROUND_HALF_UP)


def _km(value: float | Decimal, name: str) -> Decimal:
    km = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not (km.is_finite() and km >= 0):
        raise InvalidPriceError(f"{name} must be a finite number >= 0, not {value}")
    return km
