"""Brazilian identifiers: CPF, CNPJ, plates, CEP, UF and phones."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.cells import cell_to_signed, point_cell, signed_to_cell
from registry.enums import PersonKind
from registry.errors import RegistryError, ValidationError
from registry.validation import (
    cnpj_is_valid,
    cpf_is_valid,
    format_cnpj,
    format_cpf,
    is_mercosul_plate,
    make_cnpj,
    make_cpf,
    normalize_cep,
    normalize_cnpj,
    normalize_document,
    normalize_phone,
    normalize_plate,
    normalize_uf,
    only_digits,
    to_mercosul,
)

VALID_CPFS = ["529.982.247-25", "52998224725", "111.444.777-35", "123.456.789-09"]
INVALID_CPFS = [
    "529.982.247-24",  # wrong second check digit
    "529.982.247-15",  # wrong first check digit
    "111.111.111-11",  # one repeated digit: check digits match but it is invalid
    "000.000.000-00",
    "99999999999",
    "5299822472",  # 10 digits
    "529982247250",  # 12 digits
    "529.982.247-2a",
    "",
]
VALID_CNPJS = ["11.222.333/0001-81", "11222333000181", "33.000.167/0001-01", "00.000.000/0001-91"]
INVALID_CNPJS = [
    "11.222.333/0001-82",
    "11.222.333/0001-71",
    "11.111.111/1111-11",
    "00000000000000",
    "1122233300018",
    "11.222.333/0001-8X",
    "",
]


@pytest.mark.parametrize("cpf", VALID_CPFS)
def test_valid_cpfs_are_accepted(cpf: str) -> None:
    assert cpf_is_valid(cpf)


@pytest.mark.parametrize("cpf", INVALID_CPFS)
def test_invalid_cpfs_are_rejected(cpf: str) -> None:
    assert not cpf_is_valid(cpf)


@pytest.mark.parametrize("cnpj", VALID_CNPJS)
def test_valid_cnpjs_are_accepted(cnpj: str) -> None:
    assert cnpj_is_valid(cnpj)


@pytest.mark.parametrize("cnpj", INVALID_CNPJS)
def test_invalid_cnpjs_are_rejected(cnpj: str) -> None:
    assert not cnpj_is_valid(cnpj)


def test_a_cpf_is_not_a_cnpj_and_vice_versa() -> None:
    assert not cnpj_is_valid("52998224725")
    assert not cpf_is_valid("11222333000181")


def test_make_cpf_and_make_cnpj_complete_known_documents() -> None:
    assert make_cpf("529982247") == "52998224725"
    assert make_cpf(529982247) == "52998224725"
    assert make_cnpj("112223330001") == "11222333000181"
    assert make_cnpj(1) == "00000000000191"


@pytest.mark.parametrize("base", ["111111111", "12345678", "1234567890", "12345678a"])
def test_make_cpf_refuses_bad_bases(base: str) -> None:
    with pytest.raises(ValueError, match="CPF base"):
        make_cpf(base)


def test_make_cnpj_refuses_a_repeated_digit_base() -> None:
    with pytest.raises(ValueError, match="CNPJ base"):
        make_cnpj("000000000000")


cpf_bases = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(
    lambda base: len(set(base)) > 1
)


@given(cpf_bases)
def test_make_cpf_always_yields_a_valid_cpf(base: str) -> None:
    cpf = make_cpf(base)
    assert cpf.startswith(base)
    assert cpf_is_valid(cpf)
    assert cpf_is_valid(format_cpf(cpf))


@given(
    st.text(alphabet="0123456789", min_size=12, max_size=12).filter(lambda base: len(set(base)) > 1)
)
def test_make_cnpj_always_yields_a_valid_cnpj(base: str) -> None:
    cnpj = make_cnpj(base)
    assert cnpj_is_valid(cnpj)
    assert cnpj_is_valid(format_cnpj(cnpj))


@given(cpf_bases, st.integers(min_value=9, max_value=10), st.integers(1, 9))
def test_changing_one_digit_of_a_cpf_invalidates_it(base: str, position: int, delta: int) -> None:
    cpf = make_cpf(base)
    altered = cpf[:position] + str((int(cpf[position]) + delta) % 10) + cpf[position + 1 :]
    assert not cpf_is_valid(altered)


# --- the alphanumeric CNPJ (from July 2026) ---------------------------------------------

OFFICIAL_ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"
"""Receita Federal's example of an alphanumeric CNPJ."""
CNPJ_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _mod11(values: list[int], weights: list[int]) -> int:
    rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cnpj_check_digits(base12: str) -> str:
    """The check digits of a CNPJ's 12 first characters, by Receita Federal's rule:
    each character is worth its ASCII code minus 48, then the mod-11 weights."""
    values = [ord(ch) - 48 for ch in base12]
    first = _mod11(values, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = _mod11([*values, first], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return f"{first}{second}"


def test_the_official_alphanumeric_cnpj_is_valid() -> None:
    assert cnpj_check_digits("12ABC34501DE") == "35"
    for text in (OFFICIAL_ALPHANUMERIC_CNPJ, "12ABC34501DE35", "12.abc.345/01de-35"):
        assert cnpj_is_valid(text), text
    assert make_cnpj("12ABC34501DE") == "12ABC34501DE35"
    assert format_cnpj("12ABC34501DE35") == OFFICIAL_ALPHANUMERIC_CNPJ


@pytest.mark.parametrize(
    "cnpj",
    [
        "12.ABC.345/01DE-36",  # wrong second check digit
        "12.ABC.345/01DE-45",  # wrong first check digit
        "12.ABC.345/01DF-35",  # a letter changed
        "12.ABC.345/01D3-5E",  # a letter among the check digits
        "12.ABC.345/01DE-3",  # 13 characters
        "12.ÀBC.345/01DE-35",  # not A-Z
        "12.ıBC.345/01DE-35",  # upper-cases to I, but is no ASCII letter
        "AAAAAAAAAAAAAA",
    ],
)
def test_invalid_alphanumeric_cnpjs_are_rejected(cnpj: str) -> None:
    assert not cnpj_is_valid(cnpj)


def test_an_alphanumeric_cnpj_is_stored_upper_case_without_punctuation() -> None:
    assert normalize_cnpj("12.abc.345/01de-35") == "12ABC34501DE35"
    assert normalize_cnpj(" 12 ABC 345 01DE 35 ") == "12ABC34501DE35"
    assert normalize_cnpj("11.222.333/0001-81") == "11222333000181"
    assert normalize_document(OFFICIAL_ALPHANUMERIC_CNPJ, PersonKind.PJ) == "12ABC34501DE35"
    with pytest.raises(ValidationError) as info:
        normalize_cnpj("12.ABC.345/01DE-36", "document")
    assert (info.value.field, info.value.message) == ("document", "CNPJ inválido")
    with pytest.raises(ValidationError, match="CPF inválido"):
        normalize_document(OFFICIAL_ALPHANUMERIC_CNPJ, PersonKind.PF)


cnpj_bases = st.text(alphabet=CNPJ_CHARACTERS, min_size=12, max_size=12).filter(
    lambda base: len(set(base)) > 1
)


@given(cnpj_bases)
def test_any_alphanumeric_base_with_its_check_digits_is_valid(base: str) -> None:
    cnpj = base + cnpj_check_digits(base)
    assert make_cnpj(base) == cnpj
    assert cnpj_is_valid(cnpj) and cnpj_is_valid(format_cnpj(cnpj).lower())
    assert normalize_cnpj(format_cnpj(cnpj)) == cnpj


def test_formatting() -> None:
    assert format_cpf("52998224725") == "529.982.247-25"
    assert format_cnpj("11222333000181") == "11.222.333/0001-81"
    assert only_digits("11.222.333/0001-81") == "11222333000181"


def test_normalize_document_by_person_kind() -> None:
    assert normalize_document("529.982.247-25", PersonKind.PF) == "52998224725"
    assert normalize_document("11.222.333/0001-81", PersonKind.PJ) == "11222333000181"
    with pytest.raises(ValidationError) as info:
        normalize_document("11.222.333/0001-81", PersonKind.PF)
    assert info.value.field == "document"
    assert info.value.message == "CPF inválido"


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("ABC1234", "ABC1234"),
        ("abc-1234", "ABC1234"),
        (" abc 1234 ", "ABC1234"),
        ("ABC1D23", "ABC1D23"),
        ("abc1d23", "ABC1D23"),
        ("ABC-1D23", "ABC1D23"),
    ],
)
def test_plates_are_normalised(raw: str, plate: str) -> None:
    assert normalize_plate(raw) == plate


@pytest.mark.parametrize(
    "raw", ["AB1234", "ABCD123", "ABC12345", "1BC1234", "ABC1DD3", "", "ÁBC1234", "ABC_1234"]
)
def test_bad_plates_raise_a_validation_error(raw: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalize_plate(raw)
    assert info.value.field == "plate"
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RegistryError)


def test_mercosul_conversion() -> None:
    assert to_mercosul("ABC1234") == "ABC1C34"
    assert to_mercosul("ABC1034") == "ABC1A34"
    assert to_mercosul("ABC1D23") == "ABC1D23"
    assert is_mercosul_plate("ABC1C34")
    assert not is_mercosul_plate("ABC1234")


@pytest.mark.parametrize(
    ("raw", "cep"),
    [("01310-200", "01310200"), ("01310200", "01310200"), (" 01.310-200 ", "01310200")],
)
def test_ceps_are_normalised(raw: str, cep: str) -> None:
    assert normalize_cep(raw) == cep


@pytest.mark.parametrize("raw", ["0131020", "013102000", "01310-2OO", ""])
def test_bad_ceps_raise(raw: str) -> None:
    with pytest.raises(ValidationError, match="CEP"):
        normalize_cep(raw)


def test_ufs() -> None:
    assert normalize_uf(" sp ") == "SP"
    with pytest.raises(ValidationError):
        normalize_uf("XX")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),
        ("(11) 3456-7890", "+551134567890"),
        ("(21) 2345-6789", "+552123456789"),
        ("(55) 99999-1234", "+5555999991234"),  # DDD 55 (Santa Maria), not the country
    ],
)
def test_phones_become_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "+1 212 555 0100",  # not Brazil
        "(10) 98765-4321",  # no such DDD
        "(11) 8765-4321",  # eight digits starting with 8: neither mobile nor landline
        "(11) 1234-5678",
        "98765-4321",  # no DDD
        "(11) 98765-432",
        "phone",
        "",
    ],
)
def test_bad_phones_raise(raw: str) -> None:
    with pytest.raises(ValidationError, match="Telefone inválido"):
        normalize_phone(raw)


def test_h3_ids_round_trip_through_signed_64_bits() -> None:
    high = "8f" + "f" * 14  # above 2**63: stored negative
    assert cell_to_signed(high) < 0
    assert signed_to_cell(cell_to_signed(high)) == high
    cell = point_cell(-23.5505, -46.6333)
    assert 0 <= cell < 2**63
    assert signed_to_cell(cell).startswith("88")
