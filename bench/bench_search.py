"""Registry search on a full-size registry: 1,000,000 beneficiaries, 1,500,000 vehicles.

With ``QUICK=1``: 100,000 beneficiaries in ``acionar_bench_search_quick``, fewer
queries. The benchmark owns the database ``acionar_bench_search`` on the server of
``settings.effective_database_url``: it creates it, migrates it to head and loads
it with generated data (in PostgreSQL, with ``generate_series``: weighted Brazilian
names with accents, valid CPFs and CNPJs, unique plates of both formats, six clients
of uneven size). A second run finds the data set complete and reuses it.

Each kind of query runs a few hundred times with inputs drawn from the loaded rows,
through the real :func:`registry.search.search` on a SQLAlchemy async session; the
baseline is a bare lookup of a beneficiary by primary key on the same session.
Figures are p99 latencies in milliseconds (p50 is printed beside them).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from bench.report import Figure
from registry.db import make_engine, make_sessionmaker, to_async_url
from registry.models import Beneficiary
from registry.search import MIN_DOCUMENT_DIGITS, normalize_name, other_plate_form, search
from registry.validation import format_cpf, is_mercosul_plate, make_cnpj
from server.migrate import upgrade
from server.settings import Settings

QUICK = os.environ.get("QUICK") == "1"
DATABASE = "acionar_bench_search_quick" if QUICK else "acionar_bench_search"
BENEFICIARIES = 100_000 if QUICK else 1_000_000
VEHICLES = BENEFICIARIES * 3 // 2
BATCH = 100_000
QUERIES_PER_KIND = 60 if QUICK else 300
WARMUP_PER_KIND = 10 if QUICK else 30
TARGET_MS = 20.0
SEED = 20261124

CLIENTS = (  # trade name, share of the beneficiaries in percent
    ("Seguradora Horizonte", 34),
    ("Associação Protege Brasil", 22),
    ("Cooperativa Caminho Livre", 16),
    ("Mútua São Cristóvão", 12),
    ("Auto Clube Paulista", 9),
    ("Frota Segura Locações", 7),
)

# Weights roughly follow Brazilian frequencies: Maria, José, João, Silva and Santos
# are the hard, very common tokens.
FEMALE_NAMES = {
    "Maria": 40, "Ana": 14, "Francisca": 5, "Antônia": 5, "Adriana": 4, "Juliana": 4,
    "Márcia": 4, "Fernanda": 4, "Patrícia": 4, "Aline": 3, "Luíza": 3, "Conceição": 3,
    "Júlia": 3, "Inês": 2, "Letícia": 3, "Beatriz": 3, "Camila": 3, "Lúcia": 3,
    "Cláudia": 3, "Débora": 2, "Mônica": 2, "Tânia": 2, "Vitória": 2, "Aparecida": 3,
    "Gabriela": 3, "Simone": 2, "Ângela": 2, "Cecília": 2, "Sônia": 2, "Fátima": 2,
    "Joana": 2, "Helena": 2, "Rosângela": 1, "Glória": 1, "Zélia": 1,
}  # fmt: skip
MALE_NAMES = {
    "José": 30, "João": 24, "Antônio": 14, "Francisco": 10, "Carlos": 10, "Paulo": 9,
    "Pedro": 8, "Lucas": 8, "Luís": 7, "Marcos": 6, "Luiz": 5, "Gabriel": 6,
    "Rafael": 5, "Daniel": 4, "Marcelo": 4, "Bruno": 4, "Eduardo": 4, "Felipe": 4,
    "Raimundo": 4, "Rodrigo": 4, "Sebastião": 3, "Fábio": 3, "Cláudio": 3,
    "Vinícius": 3, "André": 3, "Márcio": 3, "Rogério": 2, "Sérgio": 3, "Thiago": 3,
    "Caio": 2, "Otávio": 2, "Flávio": 2, "Joaquim": 2, "Benedito": 2, "Estêvão": 1,
    "Raí": 1, "Ícaro": 1, "Érico": 1, "Júnior": 1,
}  # fmt: skip
SURNAMES = {
    "da Silva": 40, "dos Santos": 28, "Oliveira": 16, "Souza": 14, "Rodrigues": 10,
    "Ferreira": 10, "Alves": 10, "Pereira": 10, "Lima": 8, "Gomes": 8, "Costa": 7,
    "Ribeiro": 7, "Martins": 7, "Carvalho": 7, "Almeida": 6, "Lopes": 6, "Soares": 5,
    "Fernandes": 5, "Vieira": 5, "Barbosa": 5, "Rocha": 5, "Dias": 5, "Nascimento": 5,
    "Andrade": 4, "Moreira": 4, "Nunes": 4, "Marques": 4, "Machado": 4, "Mendes": 4,
    "Freitas": 4, "Cardoso": 4, "Ramos": 4, "Gonçalves": 4, "Santana": 3,
    "Teixeira": 3, "Araújo": 4, "Conceição": 3, "Simões": 2, "Magalhães": 2,
    "Brandão": 2, "Assunção": 2, "Nogueira": 2, "Damasceno": 1, "Falcão": 2,
    "Guimarães": 2, "Antunes": 2, "Figueiredo": 2, "Sampaio": 2, "Estêvão": 1,
    "de Jesus": 5, "de Souza": 4, "da Costa": 3, "de Oliveira": 4, "Monteiro": 2,
    "Cavalcanti": 2, "Albuquerque": 1, "Siqueira": 2, "Silveira": 2, "Pires": 2,
    "Batista": 3, "Correia": 3, "Medeiros": 2, "Brito": 2, "Aragão": 1, "Ávila": 1,
    "D'Ávila": 1, "Peçanha": 1, "Sant'Anna": 1, "Müller": 1, "Tavares": 2,
}  # fmt: skip
COMPANY_WORDS = (
    "Transportes", "Comércio", "Logística", "Auto Peças", "Distribuidora",
    "Construções", "Serviços", "Locadora", "Mecânica", "Alimentos",
)  # fmt: skip
COMPANY_SUFFIXES = ("Ltda", "ME", "EIRELI", "S.A.", "Ltda ME")
VEHICLE_MODELS = (
    ("Volkswagen", "Gol"), ("Volkswagen", "Polo"), ("Volkswagen", "T-Cross"),
    ("Fiat", "Uno"), ("Fiat", "Argo"), ("Fiat", "Strada"), ("Fiat", "Mobi"),
    ("Chevrolet", "Onix"), ("Chevrolet", "Prisma"), ("Chevrolet", "Tracker"),
    ("Hyundai", "HB20"), ("Hyundai", "Creta"), ("Renault", "Kwid"),
    ("Renault", "Sandero"), ("Toyota", "Corolla"), ("Toyota", "Yaris"),
    ("Honda", "Civic"), ("Honda", "Fit"), ("Jeep", "Renegade"), ("Jeep", "Compass"),
    ("Ford", "Ka"), ("Nissan", "Kicks"), ("Volkswagen", "Saveiro"), ("Fiat", "Toro"),
)  # fmt: skip
COLOURS = ("Prata", "Branco", "Preto", "Cinza", "Vermelho", "Azul", "Bege", "Verde")

CPF_WEIGHTS_1 = range(10, 1, -1)
CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


# --- SQL generation of the data set ------------------------------------------------


def _weighted(weights: dict[str, int]) -> list[str]:
    """A list where each name repeats its weight: uniform picks follow the weights."""
    return [name for name, weight in weights.items() for _ in range(weight)]


def _pick(array: str, salt: int, var: str = "i") -> str:
    """SQL picking a deterministic pseudo-random element of a ``text[]`` parameter."""
    return f"({array})[1 + {_hash(var, salt)} % cardinality({array})]"


def _hash(var: str, salt: int) -> str:
    """SQL of a deterministic non-negative pseudo-random bigint for row ``var``."""
    return f"(hashint8({var}::bigint * 1000003 + {salt})::bigint + 2147483648)"


def _check_digit_sql(base: str, weights: Sequence[int], extra: str = "") -> str:
    """SQL of a CPF/CNPJ check digit over the digits of the bigint ``base``."""
    width = len(weights) - (1 if extra else 0)
    terms = [
        f"({base} / {10 ** (width - 1 - k)} % 10) * {weight}"
        for k, weight in enumerate(weights[:width])
    ]
    if extra:
        terms.append(f"{extra} * {weights[-1]}")
    total = " + ".join(terms)
    return f"(CASE WHEN ({total}) % 11 < 2 THEN 0 ELSE 11 - ({total}) % 11 END)"


def _document_sql(base: str, first_weights: Sequence[int]) -> str:
    """SQL of a full CPF or CNPJ (base digits then both check digits)."""
    first = _check_digit_sql(base, first_weights)
    second_weights = [first_weights[0] + 1, *first_weights]
    second = _check_digit_sql(base, second_weights, extra=first)
    return f"({base}::text || {first}::text || {second}::text)"


def _client_sql(client_ids: Sequence[int]) -> str:
    """SQL choosing a client for row ``i`` following the CLIENTS shares."""
    cases, bound = [], 0
    for client_id, (_, share) in zip(client_ids, CLIENTS, strict=True):
        bound += share
        cases.append(f"WHEN {_hash('i', 11)} % 100 < {bound} THEN {client_id}")
    return f"CASE {' '.join(cases)} ELSE {client_ids[0]} END"


def _beneficiaries_sql(client_ids: Sequence[int]) -> str:
    """INSERT of beneficiaries ``$1..$2``; then female and male first names,
    surnames, company words and company suffixes."""
    cpf_base = "(100000000 + (i::bigint * 7919 + 12345) % 900000000)"
    cnpj_base = "(100000000000 + (i::bigint * 7919 + 54321) % 900000000000)"
    firsts = f"(CASE WHEN {_hash('i', 13)} % 2 = 0 THEN $3::text[] ELSE $4::text[] END)"
    person = (
        f"{_pick(firsts, 1)} || CASE WHEN {_hash('i', 2)} % 4 = 0 "
        f"THEN ' ' || {_pick(firsts, 3)} ELSE '' END || ' ' || {_pick('$5::text[]', 4)}"
        f" || CASE WHEN {_hash('i', 5)} % 2 = 0 THEN ' ' || {_pick('$5::text[]', 6)} ELSE '' END"
    )
    company = (
        f"{_pick('$6::text[]', 7)} || ' ' || regexp_replace({_pick('$5::text[]', 8)}, "
        f"'^d[aoe]s? ', '') || ' ' || {_pick('$7::text[]', 9)}"
    )
    pj = f"{_hash('i', 10)} % 20 = 0"
    return f"""
        INSERT INTO beneficiaries (id, client_id, person_kind, document, name, active)
        SELECT i, {_client_sql(client_ids)},
               CASE WHEN {pj} THEN 'pj' ELSE 'pf' END,
               CASE WHEN {pj} THEN {_document_sql(cnpj_base, CNPJ_WEIGHTS_1)}
                    ELSE {_document_sql(cpf_base, list(CPF_WEIGHTS_1))} END,
               CASE WHEN {pj} THEN {company} ELSE {person} END,
               {_hash("i", 12)} % 100 >= 5
        FROM generate_series($1::int, $2::int) AS i
    """


def _vehicles_sql() -> str:
    """INSERT of vehicles ``$1..$2``; parameters: makes, models, colours.

    ``k`` is an injective map of the vehicle number onto the 175,760,000 plates of
    the old format; odd vehicles get its Mercosul form (the fifth digit as a letter),
    so that no two vehicles share a plate in either form.
    """
    k = "((j::bigint * 7919 + 104729) % 175760000)"
    letters = (
        f"chr((65 + {k} / 10000 / 676)::int) || chr((65 + {k} / 10000 / 26 % 26)::int)"
        f" || chr((65 + {k} / 10000 % 26)::int)"
    )
    fifth = (
        f"CASE WHEN j % 2 = 0 THEN ({k} / 100 % 10)::text ELSE chr((65 + {k} / 100 % 10)::int) END"
    )
    plate = f"{letters} || ({k} / 1000 % 10)::text || {fifth} || lpad(({k} % 100)::text, 2, '0')"
    model = f"1 + {_hash('j', 21)} % cardinality($3::text[])"
    year, colour, active = _hash("j", 22), _pick("$5::text[]", 23, "j"), _hash("j", 24)
    return f"""
        INSERT INTO vehicles (id, beneficiary_id, plate, make, model, year, colour, active)
        SELECT j, (j - 1) % {BENEFICIARIES} + 1, {plate},
               ($3::text[])[{model}], ($4::text[])[{model}],
               2000 + {year} % 26, {colour}, {active} % 100 >= 3
        FROM generate_series($1::int, $2::int) AS j
    """


# --- database setup ------------------------------------------------------------------


def _dsn(settings: Settings, database: str) -> str:
    url = make_url(to_async_url(settings.effective_database_url))
    return url.set(drivername="postgresql", database=database).render_as_string(False)


def _sqlalchemy_url(settings: Settings) -> str:
    url = make_url(to_async_url(settings.effective_database_url)).set(database=DATABASE)
    return url.render_as_string(hide_password=False)


async def _create_database(settings: Settings) -> None:
    admin = await asyncpg.connect(_dsn(settings, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            print(f"[search] creating database {DATABASE}", flush=True)
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()


async def _is_loaded(conn: asyncpg.Connection) -> bool:
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM beneficiaries) AS b, (SELECT count(*) FROM vehicles) AS v"
    )
    return bool(counts["b"] == BENEFICIARIES and counts["v"] == VEHICLES)


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """Name and definition of the indexes of the loaded tables that back no constraint."""
    rows = await conn.fetch(
        """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename IN ('beneficiaries', 'vehicles')
          AND indexname NOT IN (SELECT conname FROM pg_constraint)
        ORDER BY indexname
        """
    )
    return [(row["indexname"], row["indexdef"]) for row in rows]


async def _insert_batches(
    conn: asyncpg.Connection, what: str, sql: str, total: int, *args: object
) -> None:
    started = time.perf_counter()
    for low in range(1, total + 1, BATCH):
        high = min(low + BATCH - 1, total)
        await conn.execute(sql, low, high, *args)
        elapsed = time.perf_counter() - started
        print(f"[search]   {what}: {high:>9,} / {total:,}  ({elapsed:5.1f} s)", flush=True)


async def _insert_clients(conn: asyncpg.Connection) -> list[int]:
    ids = []
    for n, (trade_name, _) in enumerate(CLIENTS, start=1):
        cnpj = make_cnpj(f"{47_000_000 + n:08d}0001")
        ids.append(
            await conn.fetchval(
                "INSERT INTO clients (cnpj, trade_name, legal_name) VALUES ($1, $2, $3)"
                " RETURNING id",
                cnpj,
                trade_name,
                f"{trade_name} S.A.",
            )
        )
    return ids


async def _load(conn: asyncpg.Connection) -> float:
    """Empty the registry tables, load the data set, rebuild indexes; seconds taken."""
    started = time.perf_counter()
    await conn.execute("SET maintenance_work_mem = '512MB'; SET synchronous_commit = off")
    async with conn.transaction():  # a failed load keeps the indexes it dropped
        await _fill(conn)
    await conn.execute("VACUUM (ANALYZE) clients, beneficiaries, vehicles")
    return time.perf_counter() - started


async def _fill(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE clients, beneficiaries, vehicles RESTART IDENTITY CASCADE")
    indexes = await _secondary_indexes(conn)
    for name, _ in indexes:
        await conn.execute(f'DROP INDEX "{name}"')
    client_ids = await _insert_clients(conn)
    await _insert_batches(
        conn, "beneficiaries", _beneficiaries_sql(client_ids), BENEFICIARIES,
        _weighted(FEMALE_NAMES), _weighted(MALE_NAMES), _weighted(SURNAMES),
        list(COMPANY_WORDS), list(COMPANY_SUFFIXES),
    )  # fmt: skip
    makes, models = zip(*VEHICLE_MODELS, strict=True)
    await _insert_batches(
        conn, "vehicles", _vehicles_sql(), VEHICLES, list(makes), list(models), list(COLOURS)
    )
    for name, definition in indexes:
        index_started = time.perf_counter()
        await conn.execute(definition)
        print(f"[search]   index {name} ({time.perf_counter() - index_started:.1f} s)", flush=True)
    for table in ("clients", "beneficiaries", "vehicles"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
        )


async def prepare(settings: Settings) -> str:
    """Create, migrate and load the benchmark database if needed; its SQLAlchemy URL."""
    await _create_database(settings)
    url = _sqlalchemy_url(settings)
    await asyncio.to_thread(upgrade, url)
    conn = await asyncpg.connect(_dsn(settings, DATABASE))
    try:
        if await _is_loaded(conn):
            print("[search] data set already loaded, reusing it", flush=True)
        else:
            print("[search] loading the data set", flush=True)
            seconds = await _load(conn)
            print(f"[search] data set loaded in {seconds:.0f} s", flush=True)
    finally:
        await conn.close()
    return url


# --- measurement -------------------------------------------------------------------------

COMMON_NAMES = ("maria", "jose", "joao", "silva", "santos", "ana", "antonio", "oliveira")
PARTICLES = frozenset({"da", "das", "de", "do", "dos"})
BASELINE = "primary-key lookup"
SMALLEST_CLIENT = CLIENTS[-1][0]
Query = tuple[str, int | None]  # text, client_id


@dataclass(frozen=True, slots=True)
class Samples:
    """Rows drawn at random from the loaded data: the raw material of the queries."""

    names: list[str]
    cpfs: list[str]
    plates: list[str]
    ids: list[int]
    smallest_client: int


async def _samples(session: AsyncSession, count: int) -> Samples:
    rng = random.Random(SEED)
    ids = [rng.randint(1, BENEFICIARIES) for _ in range(count)]
    people = (
        await session.execute(
            text("SELECT name, document FROM beneficiaries WHERE id = ANY(:ids)"), {"ids": ids}
        )
    ).all()
    plate_ids = [rng.randint(1, VEHICLES) for _ in range(count)]
    plates = await session.scalars(
        text("SELECT plate FROM vehicles WHERE id = ANY(:ids)"), {"ids": plate_ids}
    )
    client = await session.scalar(
        text("SELECT id FROM clients WHERE trade_name = :name"), {"name": SMALLEST_CLIENT}
    )
    cpfs = [document for _, document in people if len(document) == 11]
    names = [name for name, _ in people]
    return Samples(names, cpfs, list(plates), ids, int(client or 0))


def _words(name: str) -> list[str]:
    """The words of a name worth typing: particles and initials left out."""
    words = name.replace("'", " ").replace(".", " ").split()
    return [word for word in words if len(word) >= 3 and word.lower() not in PARTICLES]


def _name_queries(samples: Samples, rng: random.Random) -> dict[str, list[Query]]:
    names = [name for name in samples.names if len(_words(name)) >= 2]
    return {
        "name, one token": [(rng.choice(_words(n)), None) for n in names],
        "name, two partial tokens": [
            (f"{normalize_name(_words(n)[0])} {normalize_name(_words(n)[-1])[:3]}", None)
            for n in names
        ],
        "name, common (maria, silva...)": [
            (COMMON_NAMES[i % len(COMMON_NAMES)], None) for i in range(len(names))
        ],
        "extra: name, last two words only": [
            (" ".join(_words(n)[-2:]).upper(), None) for n in names if len(_words(n)) > 2
        ],
        "extra: name, one token, smallest client": [
            (rng.choice(_words(n)), samples.smallest_client) for n in names
        ],
    }


def _plate_queries(samples: Samples, rng: random.Random) -> dict[str, list[Query]]:
    plates = samples.plates
    mercosul = [p if is_mercosul_plate(p) else (other_plate_form(p) or p) for p in plates]
    return {
        "plate, full with dash": [(f"{p[:3]}-{p[3:]}".lower(), None) for p in plates],
        "plate, full Mercosul": [(p, None) for p in mercosul],
        "plate, partial": [(p[: rng.choice((4, 5, 6))], None) for p in plates],
    }


def _document_queries(samples: Samples, rng: random.Random) -> dict[str, list[Query]]:
    cpfs = samples.cpfs
    return {
        "CPF with punctuation": [(format_cpf(c), None) for c in cpfs],
        "CPF digits": [(c, None) for c in cpfs],
        "CPF prefix": [(c[: rng.randint(MIN_DOCUMENT_DIGITS, 9)], None) for c in cpfs],
    }


def _queries(samples: Samples) -> dict[str, list[Query]]:
    """For each kind of query, varied texts drawn from the loaded data."""
    rng = random.Random(SEED + 1)
    kinds = _name_queries(samples, rng) | _plate_queries(samples, rng)
    kinds |= _document_queries(samples, rng)
    wanted = QUERIES_PER_KIND + WARMUP_PER_KIND
    short = [kind for kind, queries in kinds.items() if len(queries) < wanted]
    if short:
        raise RuntimeError(f"too few samples for {short}")
    return {kind: queries[:wanted] for kind, queries in kinds.items()}


def _percentiles(timings: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of timings in seconds."""
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


async def _time_search(session: AsyncSession, query: Query) -> float:
    text_, client_id = query
    started = time.perf_counter()
    await search(session, text_, client_id=client_id)
    return time.perf_counter() - started


async def _time_lookup(session: AsyncSession, beneficiary_id: int) -> float:
    started = time.perf_counter()
    await session.execute(select(Beneficiary).where(Beneficiary.id == beneficiary_id))
    return time.perf_counter() - started


async def _measure(
    session: AsyncSession, queries: dict[str, list[Query]], ids: list[int]
) -> dict[str, list[float]]:
    """Time every query and a primary-key lookup per round, the kinds interleaved so
    that noise from the machine spreads evenly over them; the first rounds warm up."""
    timings: dict[str, list[float]] = {kind: [] for kind in [*queries, BASELINE]}
    for n in range(WARMUP_PER_KIND + QUERIES_PER_KIND):
        for kind, texts in queries.items():
            timings[kind].append(await _time_search(session, texts[n]))
        timings[BASELINE].append(await _time_lookup(session, ids[n]))
    return {kind: values[WARMUP_PER_KIND:] for kind, values in timings.items()}


def _figures(timings: dict[str, list[float]]) -> list[Figure]:
    """A p99 figure per kind beside the lookup's p99; prints p50, p99 and max too."""
    _, base_p99 = _percentiles(timings[BASELINE])
    print(f"[search] {'query (ms)':<42} {'p50':>7} {'p99':>7} {'max':>7}", flush=True)
    figures = []
    for kind, values in timings.items():
        p50, p99 = _percentiles(values)
        print(f"[search] {kind:<42} {p50:7.2f} {p99:7.2f} {max(values) * 1000:7.2f}")
        if kind != BASELINE:
            target = f"p99 < {TARGET_MS:g} ms"
            figures.append(Figure(f"{kind}: p99", p99, "ms", target, f"{BASELINE} p99", base_p99))
    return figures


async def run(settings: Settings) -> list[Figure]:
    """Prepare the data set, then time each kind of search beside a primary-key lookup."""
    url = await prepare(settings)
    engine = make_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            samples = await _samples(session, 2 * (QUERIES_PER_KIND + WARMUP_PER_KIND))
            timings = await _measure(session, _queries(samples), samples.ids)
    finally:
        await engine.dispose()
    print(f"[search] {QUERIES_PER_KIND} queries of each kind after {WARMUP_PER_KIND} to warm up")
    return _figures(timings)
