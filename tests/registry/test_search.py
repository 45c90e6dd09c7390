"""The registry's fast search: what the text means, and what it finds."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import search as search_module
from registry.db import transaction
from registry.enums import PersonKind
from registry.errors import ValidationError
from registry.models import Beneficiary, Client, Vehicle
from registry.search import (
    MAX_LIMIT,
    MAX_NAME_TOKENS,
    MAX_QUERY_CHARS,
    WORD_MARK,
    HitKind,
    MatchedOn,
    QueryKind,
    SearchHit,
    SearchQuery,
    classify,
    name_key,
    normalize_name,
    other_plate_form,
    search,
)
from registry.search import names as name_tiers
from registry.validation import format_cnpj, format_cpf, make_cnpj, make_cpf, to_mercosul

Sessions = async_sessionmaker[AsyncSession]

JOAO_CPF = make_cpf(529982247)
COMPANY_CNPJ = make_cnpj(112223330001)


# --- classify (pure) -------------------------------------------------------------


@pytest.mark.parametrize("text", ["JOÃO", "joão", "joao", "  Joao  ", "JoÃo"])
def test_names_lose_case_and_accents(text: str) -> None:
    assert classify(text) == SearchQuery(QueryKind.NAME, ("joao",))


def test_a_name_splits_into_tokens_at_anything_but_letters_and_digits() -> None:
    assert classify("joao sil").terms == ("joao", "sil")
    assert classify("D'Ávila-Conceição,  Müller").terms == ("d", "avila", "conceicao", "muller")
    assert classify("Straße Ærø").terms == ("strasse", "aero")


def test_tokens_beyond_the_maximum_are_ignored() -> None:
    words = [f"nome{n}" for n in range(MAX_NAME_TOKENS + 3)]
    assert classify(" ".join(words)).terms == tuple(words[:MAX_NAME_TOKENS])


@pytest.mark.parametrize("text", ["", "   ", "jo", "a b", "j o a o", "--", "12", "1.2"])
def test_text_too_short_searches_nothing(text: str) -> None:
    assert classify(text).kind is QueryKind.NONE


def test_text_too_long_is_a_validation_error() -> None:
    classify("a" * MAX_QUERY_CHARS)
    with pytest.raises(ValidationError) as raised:
        classify("a" * (MAX_QUERY_CHARS + 1))
    assert raised.value.field == "q"


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("abc-1d23", ("ABC1D23", "ABC1323")),
        ("ABC1D23", ("ABC1D23", "ABC1323")),
        ("abc1234", ("ABC1234", "ABC1C34")),
        (" Abc 1234 ", ("ABC1234", "ABC1C34")),
        ("ABC1Z23", ("ABC1Z23",)),  # Mercosul letters after J have no old form
    ],
)
def test_whole_plates_in_either_format(text: str, terms: tuple[str, ...]) -> None:
    assert classify(text) == SearchQuery(QueryKind.PLATE, terms, complete=True)


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("ABC1", ("ABC1",)),
        ("abc-1", ("ABC1",)),
        ("abc12", ("ABC12", "ABC1C")),
        ("ABC1C", ("ABC1C", "ABC12")),
        ("abc-1d2", ("ABC1D2", "ABC132")),
    ],
)
def test_partial_plates(text: str, terms: tuple[str, ...]) -> None:
    assert classify(text) == SearchQuery(QueryKind.PLATE, terms, complete=False)


def test_three_letters_alone_are_a_name_not_a_plate() -> None:
    assert classify("ABC") == SearchQuery(QueryKind.NAME, ("abc",))


@pytest.mark.parametrize(
    ("text", "digits", "complete"),
    [
        ("529.982.247-25", "52998224725", True),
        ("52998224725", "52998224725", True),
        ("529.982", "529982", False),
        ("529", "529", False),
        ("11.222.333/0001-81", "11222333000181", True),
        ("11.222.333/0001", "112223330001", False),
    ],
)
def test_documents_with_or_without_punctuation(text: str, digits: str, complete: bool) -> None:
    assert classify(text) == SearchQuery(QueryKind.DOCUMENT, (digits,), complete=complete)


@pytest.mark.parametrize(
    ("text", "characters", "complete"),
    [
        ("12.ABC.345/01DE-35", "12ABC34501DE35", True),
        ("12abc34501de35", "12ABC34501DE35", True),
        ("12.abc.345/01DE", "12ABC34501DE", False),
        ("12.ABC", "12ABC", False),
        ("12ABC345", "12ABC345", False),
    ],
)
def test_alphanumeric_cnpjs_are_documents(text: str, characters: str, complete: bool) -> None:
    assert classify(text) == SearchQuery(QueryKind.DOCUMENT, (characters,), complete=complete)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ABC1D23", QueryKind.PLATE),
        ("abc-12", QueryKind.PLATE),
        ("Rua 25 de Março", QueryKind.NAME),
        ("12.ABC.345/01DE-35X", QueryKind.NAME),  # longer than a CNPJ
        ("12.ABC.345/01DE-3X", QueryKind.NAME),  # a letter among the check digits
    ],
)
def test_letters_and_digits_that_cannot_start_a_cnpj_are_not_documents(
    text: str, kind: QueryKind
) -> None:
    assert classify(text).kind is kind


def test_more_digits_than_a_cnpj_search_nothing() -> None:
    assert classify("1" * 15).kind is QueryKind.NONE


letters = st.sampled_from(string.ascii_uppercase)
digits = st.sampled_from(string.digits)


@st.composite
def plates(draw: st.DrawFn) -> str:
    fifth = draw(st.one_of(digits, letters))
    head = "".join(draw(letters) for _ in range(3)) + draw(digits)
    return head + fifth + draw(digits) + draw(digits)


@given(plates(), st.booleans(), st.booleans())
def test_any_plate_is_found_as_typed_and_in_its_other_form(
    plate: str, dash: bool, lower: bool
) -> None:
    typed = f"{plate[:3]}-{plate[3:]}" if dash else plate
    query = classify(typed.lower() if lower else typed)
    assert query.kind is QueryKind.PLATE and query.complete
    assert query.terms[0] == plate
    if plate[4].isdigit():
        assert query.terms == (plate, to_mercosul(plate))
    for other in query.terms[1:]:
        assert other_plate_form(other) == plate


def test_a_fifth_character_of_another_script_has_no_other_form() -> None:
    assert other_plate_form("ABC1²34") is None  # "²".isdigit(), but int("²") fails
    assert other_plate_form("ABC1234") == "ABC1C34"


@given(plates(), st.integers(min_value=4, max_value=6))
def test_the_start_of_any_plate_is_a_partial_plate(plate: str, length: int) -> None:
    query = classify(plate[:length])
    assert query.kind is QueryKind.PLATE and not query.complete
    assert query.terms[0] == plate[:length]
    assert all(len(term) == length for term in query.terms)


@given(st.integers(min_value=100_000_000, max_value=999_999_998), st.booleans())
def test_any_cpf_with_or_without_punctuation_is_a_document(base: int, formatted: bool) -> None:
    cpf = make_cpf(base) if len(set(str(base))) > 1 else make_cpf(base + 1)
    query = classify(format_cpf(cpf) if formatted else cpf)
    assert query == SearchQuery(QueryKind.DOCUMENT, (cpf,), complete=True)


@given(st.text(max_size=MAX_QUERY_CHARS))
def test_any_text_classifies_into_searchable_terms(text: str) -> None:
    query = classify(text)
    if query.kind is QueryKind.NAME:
        assert 1 <= len(query.terms) <= MAX_NAME_TOKENS
        assert all(re.fullmatch("[a-z0-9]+", term) for term in query.terms)
        assert max(len(term) for term in query.terms) >= search_module.MIN_NAME_TOKEN_CHARS
    elif query.kind is QueryKind.PLATE:
        assert all(re.fullmatch("[A-Z]{3}[0-9][A-Z0-9]{0,3}", term) for term in query.terms)
    elif query.kind is QueryKind.DOCUMENT:
        assert re.fullmatch("[0-9A-Z]{3,12}[0-9]{0,2}", query.terms[0])
    else:
        assert query.terms == ()


portuguese = st.text(alphabet="aáàâãbcçdeéêfghiíjklmnoóôõpqrstuúüvwxyz -'", max_size=40)


@given(portuguese)
def test_names_are_case_insensitive(name: str) -> None:
    assert classify(name.upper()) == classify(name) == classify(name.title())


# --- search (database) ------------------------------------------------------------


@dataclass
class Registry:
    """What the tests' fixture created (ids)."""

    client: int
    other_client: int
    joao: int
    abc1d23: int
    xyz1234: int


async def _client(session: AsyncSession, base: int, trade_name: str) -> Client:
    client = Client(cnpj=make_cnpj(base), trade_name=trade_name, legal_name=f"{trade_name} S.A.")
    session.add(client)
    await session.flush()
    return client


async def _person(
    session: AsyncSession,
    client: Client,
    name: str,
    document: str,
    *,
    kind: PersonKind = PersonKind.PF,
    active: bool = True,
) -> Beneficiary:
    person = Beneficiary(
        client_id=client.id, person_kind=kind, document=document, name=name, active=active
    )
    session.add(person)
    await session.flush()
    return person


async def _vehicle(
    session: AsyncSession, owner: Beneficiary, plate: str, *, active: bool = True
) -> Vehicle:
    vehicle = Vehicle(
        beneficiary_id=owner.id, plate=plate, make="Fiat", model="Uno", year=2015, active=active
    )
    session.add(vehicle)
    await session.flush()
    return vehicle


@pytest.fixture
async def registry(db: Sessions) -> Registry:
    async with transaction(db) as session:
        client = await _client(session, 472223330001, "Seguradora Horizonte")
        other = await _client(session, 473334440001, "Associação Protege")
        joao = await _person(session, client, "João da Silva", JOAO_CPF)
        await _person(session, client, "Maria Aparecida", make_cpf(123456780))
        await _person(session, client, "Transportes Silva Ltda", COMPANY_CNPJ, kind=PersonKind.PJ)
        owner = await _person(session, other, "João Silveira", make_cpf(987654320), active=False)
        abc = await _vehicle(session, joao, "ABC1D23")
        xyz = await _vehicle(session, owner, "XYZ1234", active=False)
        return Registry(client.id, other.id, joao.id, abc.id, xyz.id)


async def _search(db: Sessions, text: str, **options: int) -> list[SearchHit]:
    async with db() as session:
        return await search(session, text, **options)


def _names(hits: list[SearchHit]) -> list[str]:
    return [hit.beneficiary_name for hit in hits]


@pytest.mark.parametrize("text", ["joao sil", "JOÃO", "joão", "joao", "silva joao", "Jo Da Silv"])
async def test_joao_da_silva_is_found_by_any_spelling(
    db: Sessions, registry: Registry, text: str
) -> None:
    hits = await _search(db, text)
    assert registry.joao in [hit.beneficiary_id for hit in hits]
    hit = next(hit for hit in hits if hit.beneficiary_id == registry.joao)
    assert hit.kind is HitKind.BENEFICIARY and hit.matched_on is MatchedOn.NAME
    assert (hit.beneficiary_name, hit.document, hit.person_kind) == (
        "João da Silva",
        JOAO_CPF,
        PersonKind.PF,
    )
    assert (hit.client_id, hit.client_trade_name) == (registry.client, "Seguradora Horizonte")
    assert hit.vehicle_id is None and hit.plate is None


async def test_every_token_must_start_a_word(db: Sessions, registry: Registry) -> None:
    assert _names(await _search(db, "joao sil")) == ["João Silveira", "João da Silva"]
    assert await _search(db, "joao xyz") == []
    assert await _search(db, "ilva") == []  # inside a word: no match
    assert _names(await _search(db, "silva")) == ["João da Silva", "Transportes Silva Ltda"]


async def test_names_starting_with_the_query_come_first(db: Sessions) -> None:
    async with transaction(db) as session:
        client = await _client(session, 474445550001, "Auto Clube")
        for n, name in enumerate(["Ana Maria Souza", "Rosa Maria", "Maria José Santos"]):
            await _person(session, client, name, make_cpf(200000000 + n))
    assert _names(await _search(db, "maria")) == [
        "Maria José Santos",  # starts with the query
        "Rosa Maria",  # then by similarity
        "Ana Maria Souza",
    ]


@pytest.mark.parametrize("text", ["abc-1d23", "ABC1D23", "abc1323", "ABC-1323", "ABC1", "abc1d"])
async def test_plates_in_either_format_whole_or_partial(
    db: Sessions, registry: Registry, text: str
) -> None:
    hits = await _search(db, text)
    assert [hit.vehicle_id for hit in hits] == [registry.abc1d23]
    hit = hits[0]
    assert hit.kind is HitKind.VEHICLE and hit.matched_on is MatchedOn.PLATE
    assert (hit.plate, hit.make, hit.model, hit.year) == ("ABC1D23", "Fiat", "Uno", 2015)
    assert (hit.beneficiary_id, hit.beneficiary_name) == (registry.joao, "João da Silva")
    assert hit.active


async def test_an_old_plate_is_found_by_its_mercosul_form(db: Sessions, registry: Registry) -> None:
    for text in ("xyz1234", "XYZ-1C34", "xyz1c"):
        assert [hit.vehicle_id for hit in await _search(db, text)] == [registry.xyz1234]


@pytest.mark.parametrize("text", [format_cpf(JOAO_CPF), JOAO_CPF, JOAO_CPF[:3], JOAO_CPF[:7]])
async def test_cpf_with_or_without_punctuation_or_its_start(
    db: Sessions, registry: Registry, text: str
) -> None:
    hits = await _search(db, text)
    assert [hit.beneficiary_id for hit in hits] == [registry.joao]
    assert hits[0].matched_on is MatchedOn.DOCUMENT


async def test_cnpj(db: Sessions, registry: Registry) -> None:
    for text in (format_cnpj(COMPANY_CNPJ), COMPANY_CNPJ, format_cnpj(COMPANY_CNPJ)[:10]):
        hits = await _search(db, text)
        assert _names(hits) == ["Transportes Silva Ltda"]
        assert hits[0].person_kind is PersonKind.PJ


async def test_an_alphanumeric_cnpj_by_itself_formatted_or_its_start(db: Sessions) -> None:
    async with transaction(db) as session:
        client = await _client(session, 474445550001, "Seguradora Nova")
        cnpj = make_cnpj("12ABC34501DE")
        await _person(session, client, "Logística Alfa Ltda", cnpj, kind=PersonKind.PJ)
        await _person(session, client, "Transportes Silva Ltda", COMPANY_CNPJ, kind=PersonKind.PJ)
    for text in ("12.ABC.345/01DE-35", "12abc34501de35", "12.abc", "12ABC345"):
        assert _names(await _search(db, text)) == ["Logística Alfa Ltda"], text
    assert _names(await _search(db, "112")) == ["Transportes Silva Ltda"]


async def test_inactive_records_are_found_and_marked(db: Sessions, registry: Registry) -> None:
    (person,) = await _search(db, "silveira")
    assert not person.beneficiary_active and not person.active
    (vehicle,) = await _search(db, "XYZ1234")
    assert vehicle.vehicle_active is False and not vehicle.active
    (active,) = await _search(db, "ABC1D23")
    assert active.vehicle_active is True and active.active


async def test_a_client_sees_only_its_own_records(db: Sessions, registry: Registry) -> None:
    assert _names(await _search(db, "joao", client_id=registry.client)) == ["João da Silva"]
    assert _names(await _search(db, "joao", client_id=registry.other_client)) == ["João Silveira"]
    assert await _search(db, "ABC1D23", client_id=registry.other_client) == []
    assert await _search(db, JOAO_CPF, client_id=registry.other_client) == []
    assert len(await _search(db, "XYZ1", client_id=registry.other_client)) == 1


async def test_limit(db: Sessions) -> None:
    async with transaction(db) as session:
        client = await _client(session, 475556660001, "Mútua")
        for n in range(8):
            await _person(session, client, f"Carla Souza {n}", make_cpf(300000000 + n))
    assert len(await _search(db, "carla", limit=3)) == 3
    assert len(await _search(db, "souza carla", limit=5)) == 5
    assert len(await _search(db, "30000", limit=2)) == 2
    for bad in (0, MAX_LIMIT + 1):
        with pytest.raises(ValidationError) as raised:
            await _search(db, "carla", limit=bad)
        assert raised.value.field == "limit"


async def test_text_too_short_finds_nothing(db: Sessions, registry: Registry) -> None:
    assert await _search(db, "jo") == []
    assert await _search(db, "52") == []
    assert await _search(db, "") == []


NAMES = [
    "João da Silva",
    "João Silva Santos",
    "Joana Silveira",
    "José Santos da Silva",
    "Maria da Silva Santos",
    "Maria José",
    "Ana Maria Silva",
    "Antônio Santos",
    "Silvana Joaquina",
    "Santos Dumont",
    "Sílvia Mara Santana",
    "Joaquim José da Silva Xavier",
    "Ângela Damasceno Figueiredo",
]
QUERIES = [
    "silva",
    "santos silva",
    "jo sil",
    "maria",
    "jose",
    "sant",
    "s joa",
    "ana",
    "da silva",
    "figueiredo damasceno",  # a token longer than the index's word keys
    "damascenos",
]


def _oracle(names: list[str], text: str) -> set[str]:
    """Names where every token of ``text`` starts a word."""
    tokens = classify(text).terms
    return {
        name
        for name in names
        if all(any(word.startswith(t) for word in normalize_name(name).split()) for t in tokens)
    }


@pytest.mark.parametrize("scan", [1, 2, 10_000])
async def test_the_tiers_together_find_every_match_once(
    db: Sessions, monkeypatch: pytest.MonkeyPatch, scan: int
) -> None:
    """However little tiers 1 and 2 read, tier 3 completes the answer, without repeats."""
    monkeypatch.setattr(name_tiers, "FIRST_WORD_SCAN", scan)
    monkeypatch.setattr(name_tiers, "SAMPLE_SCAN", scan)
    async with transaction(db) as session:
        client = await _client(session, 476667770001, "Frota")
        for n, name in enumerate(NAMES):
            await _person(session, client, name, make_cpf(400000000 + n))
    for text in QUERIES:
        found = _names(await _search(db, text, limit=MAX_LIMIT))
        assert len(found) == len(set(found)), text
        assert set(found) == _oracle(NAMES, text), text
        assert _names(await _search(db, text, limit=2)) == found[:2], text


async def test_the_stored_search_key_matches_the_python_normalisation(db: Sessions) -> None:
    names = [
        "  João D'Ávila-SÃO   Conceição 2000 ",
        "ÂNGELA MÜLLER",
        "Straße Ærø Œuvre",
        "Ñandú Çelik Øre",
        "José\tLuís",
        "!!!",
    ]
    async with transaction(db) as session:
        client = await _client(session, 477778880001, "Teste")
        for n, name in enumerate(names):
            await _person(session, client, name, make_cpf(500000000 + n))
    async with db() as session:
        stored = dict(
            (await session.execute(select(Beneficiary.name, Beneficiary.name_search))).all()
        )
    for name in names:
        words = normalize_name(name).split()
        assert stored[name] == (name_key(words) if words else WORD_MARK), name
