"""The one error table: looked up along the class's MRO, most specific first."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from geo.addresses.errors import InvalidCoordinatesError, ShortLinkError
from operations.errors import (
    ClientWeightsError,
    IllegalTransitionError,
    InvalidInputError,
    NotFoundError,
    OperationsError,
)
from operations.lifecycle import JobStatus
from registry.errors import InUse, NotFound, ValidationError
from registry.importing.errors import ImportFileError
from server.api.errors import ERRORS, ApiError, translate


def test_the_most_specific_class_wins() -> None:
    file = translate(ImportFileError("empty_file", "Arquivo vazio."))
    assert file is not None and (file.status, file.code) == (422, "empty_file")
    assert file.fields == [{"field": "file", "message": "Arquivo vazio."}]
    plain = translate(ValidationError("plate", "Placa inválida"))
    assert plain is not None and (plain.code, plain.fields) == (
        "validation_error",
        [{"field": "plate", "message": "Placa inválida"}],
    )
    in_use = translate(InUse())
    assert in_use is not None and (in_use.status, in_use.code) == (409, "in_use")


def test_each_package_tree_has_its_answers() -> None:
    cases = {
        NotFoundError("Atendimento"): (404, "not_found"),
        InvalidInputError("origin.maps_url", "Link inválido."): (422, "validation_error"),
        IllegalTransitionError(JobStatus.COMPLETED, JobStatus.OPEN): (409, "illegal_transition"),
        ClientWeightsError("distance > 1"): (409, "bad_weights"),
        OperationsError("outro"): (422, "operations_error"),  # a subclass without its own row
        NotFound("Papel inexistente"): (404, "not_found"),
        ShortLinkError("Link curto."): (422, "maps_url_short_link"),
        RedisConnectionError("down"): (503, "unavailable"),
        ConnectionRefusedError(): (503, "unavailable"),
    }
    for exc, expected in cases.items():
        error = translate(exc)
        assert error is not None and (error.status, error.code) == expected, exc


def test_an_operation_says_which_field_an_error_is_about() -> None:
    bad = InvalidCoordinatesError("lat", "Latitude inválida.")
    assert translate(bad) is not None
    assert translate(bad).fields == [{"field": "lat", "message": "Latitude inválida."}]  # type: ignore[union-attr]
    blamed = translate(bad, {ShortLinkError: "x", InvalidCoordinatesError: "url"})
    assert blamed is not None and blamed.fields == [
        {"field": "url", "message": "Latitude inválida."}
    ]


def test_a_bug_is_not_translated() -> None:
    assert translate(KeyError("oops")) is None
    assert translate(ZeroDivisionError()) is None
    assert ApiError in ERRORS and translate(ApiError(418, "teapot", "Chá.")) is not None
