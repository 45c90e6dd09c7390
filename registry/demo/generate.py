"""Deterministic generation of demo providers and beneficiaries (pure, no I/O).

The n-th provider or beneficiary depends only on n: each draws from its own
``random.Random`` seeded with its kind and index, so asking for 10 or 240 providers
yields the same first 10, and re-running yields identical rows. Documents and
plates come from injective maps of the index, so they never collide.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from registry.cells import point_cell
from registry.demo.catalogue import CLIENTS
from registry.demo.places import (
    CAPITAL_PLACES,
    CENTRE,
    COLOURS,
    FEMALE_NAMES,
    MALE_NAMES,
    PLACES,
    SP,
    STREETS,
    SURNAMES,
    VEHICLE_MODELS,
    Neighbourhood,
    in_box,
    nearest_place,
)
from registry.enums import Channel, PersonKind, ProviderStatus, Sex
from registry.models.columns import point_wkt
from registry.validation import make_cnpj, make_cpf

SEED = "acionar-demo"


def rng_for(kind: str, index: int) -> random.Random:
    """The random generator of the ``index``-th demo entity of ``kind``."""
    return random.Random(f"{SEED}/{kind}/{index}")


def _unique_base(index: int, width: int, step: int, offset: int) -> str:
    """A ``width``-digit base, distinct for each index (``step`` is coprime with 10).

    Bases repeating one digit (ten in 10**width) give invalid documents: they are
    bumped by one.
    """
    value = (index * step + offset) % 10**width
    while len(set(f"{value:0{width}d}")) == 1:
        value = (value + 1) % 10**width
    return f"{value:0{width}d}"


ALPHANUMERIC_CNPJ_EVERY = 8
"""One demo company in this many has an alphanumeric CNPJ (registered from July 2026)."""
_LETTERS = "ABCDEFGHIJ"


def _alphanumeric(root: str) -> str:
    """An alphanumeric CNPJ root: the first three digits of ``root`` as the letters at
    their positions in A..J (one to one: distinct roots stay distinct, and none
    equals an all-digit root)."""
    return "".join(_LETTERS[int(d)] for d in root[:3]) + root[3:]


def _money(rng: random.Random, low: float, high: float, step: float = 5.0) -> Decimal:
    """A price between ``low`` and ``high`` reais, a multiple of ``step``."""
    steps = round((high - low) / step)
    cents = round((low + step * rng.randint(0, steps)) * 100)
    return Decimal(cents).scaleb(-2)


def _ascii_slug(text: str) -> str:
    bare = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return ".".join(part for part in bare.lower().split() if len(part) > 2)


def _mobile(rng: random.Random) -> str:
    return f"+55119{rng.randint(6000, 9999)}{rng.randint(0, 9999):04d}"


def _landline(rng: random.Random) -> str:
    return f"+5511{rng.choice('2345')}{rng.randint(0, 9999999):07d}"


def _person_name(rng: random.Random) -> tuple[str, Sex]:
    sex = rng.choice((Sex.FEMALE, Sex.MALE))
    first = rng.choice(FEMALE_NAMES if sex is Sex.FEMALE else MALE_NAMES)
    surnames = rng.sample(SURNAMES, rng.choice((1, 2)))
    return " ".join([first, *surnames]), sex


def _address(rng: random.Random, place: Neighbourhood) -> dict[str, Any]:
    return {
        "street": rng.choice(STREETS),
        "number": str(rng.randint(10, 4999)),
        "complement": rng.choice((None, None, f"Apto {rng.randint(11, 184)}", "Fundos")),
        "neighbourhood": place.neighbourhood,
        "city": place.city,
        "state": "SP",
        "cep": f"{place.cep_prefix}{rng.randint(0, 999):03d}",
    }


# --- providers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """A kind of provider: its main service, optional extras, company names (with
    ``{place}`` / ``{surname}``), a self-employed trade name (with ``{first}``), and
    its share of the network."""

    main: str
    extras: tuple[str, ...]
    names: tuple[str, ...]
    solo: str
    weight: int


PROFILES: tuple[Profile, ...] = (
    Profile(
        "reboque_leve",
        ("reboque_pesado", "pane_seca", "troca_pneu", "carga_bateria"),
        (
            "Auto Socorro {place}",
            "Guincho {surname}",
            "{surname} Remoções",
            "Reboque {place} 24h",
            "Socorro Mecânico {surname}",
        ),
        "Guincho {first}",
        40,
    ),
    Profile(
        "chaveiro_auto",
        ("chaveiro_residencial",),
        ("Chaveiro {surname}", "Chaveiro 24h {place}", "Chaves & Cia {place}"),
        "Chaveiro {first}",
        14,
    ),
    Profile(
        "encanador",
        ("eletricista", "vidraceiro", "chaveiro_residencial"),
        ("{surname} Reparos Residenciais", "Casa Fácil {place}", "Hidráulica e Elétrica {surname}"),
        "{first} Reparos",
        14,
    ),
    Profile(
        "vidraceiro",
        ("encanador",),
        ("Vidraçaria {place}", "Vidros {surname}"),
        "Vidraceiro {first}",
        4,
    ),
    Profile(
        "taxi",
        (),
        ("Táxi {place}", "Rádio Táxi {surname}", "{surname} Transportes"),
        "Táxi {first}",
        10,
    ),
    Profile(
        "troca_pneu",
        ("pane_seca", "carga_bateria", "chaveiro_auto"),
        ("Moto Socorro {place}", "{surname} Auto Elétrica", "Borracharia {surname}"),
        "Borracharia {first}",
        18,
    ),
)

# code: (departure fee, included km, price per km, hourly rate or None), as ranges
PRICES: dict[
    str,
    tuple[tuple[float, float], tuple[int, int], tuple[float, float], tuple[float, float] | None],
] = {
    "reboque_leve": ((150, 260), (20, 40), (3.5, 6.0), (60, 110)),
    "reboque_pesado": ((380, 650), (20, 40), (8.0, 14.0), (120, 220)),
    "taxi": ((15, 30), (0, 5), (3.2, 4.5), (40, 60)),
    "chaveiro_auto": ((90, 160), (10, 20), (1.5, 3.0), None),
    "troca_pneu": ((80, 130), (10, 20), (1.5, 3.0), None),
    "pane_seca": ((90, 140), (10, 20), (1.5, 3.0), None),
    "carga_bateria": ((80, 130), (10, 20), (1.5, 3.0), None),
    "chaveiro_residencial": ((100, 180), (10, 20), (1.5, 2.5), (60, 90)),
    "encanador": ((120, 200), (10, 20), (1.5, 2.5), (70, 110)),
    "eletricista": ((120, 200), (10, 20), (1.5, 2.5), (70, 110)),
    "vidraceiro": ((150, 250), (10, 20), (1.5, 2.5), (70, 110)),
}

CHANNEL_SETS: tuple[tuple[Channel, ...], ...] = (
    (Channel.APP,),
    (Channel.APP, Channel.WEB),
    (Channel.APP, Channel.LINK, Channel.VERBAL),
    (Channel.WEB, Channel.VERBAL),
    (Channel.LINK, Channel.VERBAL),
    (Channel.APP,),
)


@dataclass(frozen=True, slots=True)
class ProviderDraft:
    """One demo provider: its row, its price table by service code, its partner client."""

    row: dict[str, Any]
    prices: dict[str, dict[str, Any]]
    partner_client: int | None  # index into CLIENTS


def provider_location(rng: random.Random) -> tuple[float, float]:
    """A base in the metro box, denser near the centre: most near Sé, some near a place."""
    while True:
        if rng.random() < 0.6:
            lat, lng = rng.gauss(CENTRE[0], 0.06), rng.gauss(CENTRE[1], 0.07)
        else:
            place = rng.choice(PLACES)
            lat, lng = rng.gauss(place.lat, 0.015), rng.gauss(place.lng, 0.015)
        if in_box(lat, lng):
            return round(lat, 6), round(lng, 6)


def _price_row(rng: random.Random, code: str) -> dict[str, Any]:
    fee, km, per_km, hourly = PRICES[code]
    return {
        "departure_fee": _money(rng, *fee),
        "included_km": rng.randint(*km),
        "price_per_km": _money(rng, *per_km, step=0.1),
        "hourly_rate": _money(rng, *hourly) if hourly else None,
        "night_holiday_surcharge_pct": Decimal(rng.choice((0, 20, 25, 30, 50))),
    }


def _provider_identity(
    rng: random.Random, index: int, profile: Profile, place: Neighbourhood
) -> dict[str, Any]:
    if rng.random() < 0.15:  # a self-employed provider (pessoa física)
        name, _ = _person_name(rng)
        first = name.split()[0]
        return {
            "person_kind": PersonKind.PF,
            "name": name,
            "document": make_cpf(_unique_base(index, 9, 617_283_941, 271_828_182)),
            "trade_name": profile.solo.format(first=first),
        }
    trade = rng.choice(profile.names).format(
        place=place.neighbourhood if place.city == SP else place.city,
        surname=rng.choice(SURNAMES).removeprefix("da ").removeprefix("dos "),
    )
    root = _unique_base(index, 8, 48_611_237, 31_415_926)
    if index % ALPHANUMERIC_CNPJ_EVERY == ALPHANUMERIC_CNPJ_EVERY - 1:
        root = _alphanumeric(root)
    return {
        "person_kind": PersonKind.PJ,
        "trade_name": trade,
        "name": f"{trade} {rng.choice(('Ltda.', 'ME', 'Serviços Ltda.'))}",
        "document": make_cnpj(root + "0001"),
    }


def provider_draft(index: int) -> ProviderDraft:
    """The ``index``-th demo provider."""
    rng = rng_for("provider", index)
    profile = rng.choices(PROFILES, weights=[p.weight for p in PROFILES])[0]
    lat, lng = provider_location(rng)
    place = nearest_place(lat, lng)
    identity = _provider_identity(rng, index, profile, place)
    extras = rng.sample(profile.extras, rng.randint(0, min(3, len(profile.extras))))
    rated = rng.random() < 0.8
    row = {
        **identity,
        **_address(rng, place),
        "phone": _landline(rng),
        "whatsapp": _mobile(rng),
        "email": f"contato{index}@{_ascii_slug(identity['trade_name']).replace('.', '')}.example",
        "base_location": point_wkt(lat, lng),
        "base_h3": point_cell(lat, lng),
        "working_radius_km": rng.choice((15, 20, 25, 30, 40, 50, 60)),
        "preference": rng.choices(range(6), weights=(1, 2, 4, 6, 4, 2))[0],
        "status": ProviderStatus.BLOCKED if rng.random() < 0.05 else ProviderStatus.ACTIVE,
        "channels": list(rng.choice(CHANNEL_SETS)),
        "on_time_rate": Decimal(rng.randint(6000, 9900)).scaleb(-4) if rated else None,
        "acceptance_rate": Decimal(rng.randint(5500, 9800)).scaleb(-4) if rated else None,
        "cities_served": sorted({place.city, SP}),
    }
    if index == 0:  # the demo login "prestador": reachable by every channel, for the tour
        row["channels"], row["status"] = list(Channel), ProviderStatus.ACTIVE
    prices = {code: _price_row(rng, code) for code in (profile.main, *extras)}
    partner = rng.randrange(len(CLIENTS)) if rng.random() < 0.12 else None
    return ProviderDraft(row, prices, partner)


# --- beneficiaries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BeneficiaryDraft:
    """One demo beneficiary: its client (index into CLIENTS), row, plan start, vehicles."""

    client: int
    row: dict[str, Any]
    plan_starts_on: date
    vehicles: tuple[dict[str, Any], ...]


PLATE_SPACE = 26**3 * 10**4


def demo_plate(number: int, mercosul: bool) -> str:
    """The ``number``-th demo plate (distinct numbers give distinct plates)."""
    n = (number * 45_678_913 + 1_234_567) % PLATE_SPACE  # a multiplier coprime with it
    letters, digits = divmod(n, 10**4)
    text = "".join(chr(65 + (letters // 26**k) % 26) for k in (2, 1, 0)) + f"{digits:04d}"
    if mercosul:
        text = text[:4] + "ABCDEFGHIJ"[int(text[4])] + text[5:]
    return text


def _vin(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return "9B" + "".join(rng.choice(alphabet) for _ in range(15))


def _vehicle(rng: random.Random, number: int, starts_on: date) -> dict[str, Any]:
    make, model = rng.choice(VEHICLE_MODELS)
    return {
        "plate": demo_plate(number, mercosul=rng.random() < 0.5),
        "vin": _vin(rng),
        "make": make,
        "model": model,
        "year": rng.randint(2008, 2025),
        "colour": rng.choice(COLOURS),
        "plan_starts_on": starts_on,
        "plan_ends_on": None,
    }


def beneficiary_draft(index: int) -> BeneficiaryDraft:
    """The ``index``-th demo beneficiary, with one or two vehicles."""
    rng = rng_for("beneficiary", index)
    name, sex = _person_name(rng)
    place = rng.choice(CAPITAL_PLACES)
    lat, lng = rng.gauss(place.lat, 0.006), rng.gauss(place.lng, 0.006)
    starts_on = date(2025, 1 + index % 12, 1)
    row = {
        "person_kind": PersonKind.PF,
        "name": name,
        "sex": sex,
        "document": make_cpf(_unique_base(index, 9, 387_420_489, 123_456_789)),
        "rg": f"{rng.randint(10_000_000, 59_999_999)}{rng.randint(0, 9)}",
        "birth_date": date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28)),
        **_address(rng, place),
        "location": point_wkt(round(lat, 6), round(lng, 6)),
        "email": f"{_ascii_slug(name)}{index}@example.com",
        "phone": _mobile(rng),
        "whatsapp": _mobile(rng),
    }
    vehicles = tuple(_vehicle(rng, 2 * index + k, starts_on) for k in range(rng.choice((1, 1, 2))))
    return BeneficiaryDraft(index % len(CLIENTS), row, starts_on, vehicles)
