"""API errors: the one table that turns every error into its HTTP answer.

Every error the API returns is ``{"error": {"code", "message", "fields"?}}``.
Handlers never catch to build one: they raise (or let through) the errors of the
packages they call, and :func:`translate` looks the exception's class up in
:data:`ERRORS` along its MRO, as Starlette looks up its exception handlers, so
that the most specific entry wins:

* :class:`ApiError` raised by the API itself (its status and stable code);
* pydantic validation errors → 422 ``validation_error`` listing each field with a
  pt-BR message (:func:`pydantic_fields`);
* registry errors → 422 / 404 / 409 (``in_use`` for a delete that other records
  reference), the CSV import's file errors → 422 with their code;
* operations errors → 404 / 422 / 409 (a refused coverage's verdict as the code,
  ``illegal_transition``) / 503 (``live_unavailable``);
* address errors → 422 with their code (503 for an unavailable geocoder);
* database integrity errors → 409 ``conflict`` (unique) or 422 (a reference or
  check that failed), told apart by asyncpg's exception classes;
* a value PostgreSQL refuses (its ``DataError`` class) → 422, the backstop behind
  the schemas' own bounds;
* PostgreSQL or Redis unreachable → 503 ``unavailable``.

An operation may say which request field an error that names none is about
(``Operation.blame``: a Maps link's errors are about ``url``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import asyncpg.exceptions
import pydantic
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from geo.addresses.errors import AddressError, GeocoderUnavailableError, InvalidAddressError
from operations import errors as ops
from registry.db import Base
from registry.errors import Conflict, InUse, NotFound, ProviderBlocked, RegistryError
from registry.errors import ValidationError as RegistryValidationError
from registry.importing.errors import ImportFileError

Field = dict[str, str]


class ApiError(Exception):
    """An error answered to the client as it is."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[Field] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers or {}


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Faça login para continuar.")


def forbidden() -> ApiError:
    return ApiError(403, "forbidden", "Seu perfil não permite esta ação.")


def not_found(what: str = "Registro") -> ApiError:
    return ApiError(404, "not_found", f"{what} não encontrado.")


def invalid(fields: list[Field]) -> ApiError:
    return ApiError(422, "validation_error", "Dados inválidos.", fields)


_MESSAGES: dict[str, str] = {
    "missing": "Campo obrigatório",
    "extra_forbidden": "Campo desconhecido",
    "string_type": "Informe um texto",
    "string_too_short": "Informe ao menos {min_length} caractere(s)",
    "string_too_long": "Use no máximo {max_length} caracteres",
    "string_pattern_mismatch": "Formato inválido",
    "int_type": "Informe um número inteiro",
    "int_parsing": "Informe um número inteiro",
    "int_from_float": "Informe um número inteiro",
    "float_type": "Informe um número",
    "float_parsing": "Informe um número",
    "finite_number": "Informe um número finito",
    "decimal_type": "Informe um valor numérico",
    "decimal_parsing": "Informe um valor numérico",
    "decimal_max_digits": "Valor grande demais",
    "decimal_max_places": "Use no máximo {decimal_places} casas decimais",
    "bool_type": "Informe verdadeiro ou falso",
    "bool_parsing": "Informe verdadeiro ou falso",
    "date_type": "Data inválida (use AAAA-MM-DD)",
    "date_parsing": "Data inválida (use AAAA-MM-DD)",
    "date_from_datetime_parsing": "Data inválida (use AAAA-MM-DD)",
    "datetime_type": "Data e hora inválidas (use ISO 8601)",
    "datetime_parsing": "Data e hora inválidas (use ISO 8601)",
    "greater_than": "Deve ser maior que {gt}",
    "greater_than_equal": "Deve ser maior ou igual a {ge}",
    "less_than": "Deve ser menor que {lt}",
    "less_than_equal": "Deve ser menor ou igual a {le}",
    "enum": "Valor inválido: use {expected}",
    "literal_error": "Valor inválido: use {expected}",
    "list_type": "Informe uma lista",
    "too_long": "Lista longa demais (máximo {max_length})",
    "dict_type": "Informe um objeto",
    "model_type": "Informe um objeto",
    "model_attributes_type": "Informe um objeto",
}


def _message(error: Any) -> str:
    context = error.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, RegistryValidationError):
        return cause.message
    if error["type"] == "string_too_short" and context.get("min_length") == 1:
        return "Campo obrigatório"
    template = _MESSAGES.get(error["type"])
    if template is None:
        return "Valor inválido"
    shown = {k: _number(v) for k, v in context.items()}
    try:
        return template.format(**shown)
    except (KeyError, IndexError):
        return template.split(":")[0]


def _number(value: Any) -> Any:
    """-90.0 → -90 in messages; other values as they are."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _field(error: Any, prefix: str) -> str:
    path = [str(part) for part in error["loc"]]
    cause = (error.get("ctx") or {}).get("error")
    if not path and isinstance(cause, RegistryValidationError):
        path = [cause.field]  # a model-level check names its own field
    return ".".join([prefix, *path] if prefix else path) or "body"


MAX_REPORTED_FIELDS = 50  # a 422 lists at most this many fields, then says how many more


def pydantic_fields(exc: pydantic.ValidationError, prefix: str = "") -> list[Field]:
    """Each error of a pydantic validation as ``{"field", "message"}`` in pt-BR (the
    first :data:`MAX_REPORTED_FIELDS`, then one line counting the rest)."""
    errors = exc.errors(include_url=False, include_input=False)
    fields = [
        {"field": _field(e, prefix), "message": _message(e)} for e in errors[:MAX_REPORTED_FIELDS]
    ]
    if len(errors) > MAX_REPORTED_FIELDS:
        more = len(errors) - MAX_REPORTED_FIELDS
        fields.append({"field": prefix or "body", "message": f"e mais {more} erro(s)"})
    return fields


def _field_error(status: int, code: str, message: str, field: str) -> ApiError:
    return ApiError(status, code, message, [{"field": field, "message": message}])


def _integrity(exc: IntegrityError) -> ApiError:
    """A database integrity error; the constraint names the field."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    field = _field_of_constraint(getattr(cause, "constraint_name", None))
    if isinstance(cause, asyncpg.exceptions.UniqueViolationError):
        return ApiError(
            409,
            "conflict",
            "Já existe um registro com este valor.",
            [{"field": field, "message": "Já cadastrado"}],
        )
    if isinstance(cause, asyncpg.exceptions.ForeignKeyViolationError):
        return invalid([{"field": field, "message": "Referência inexistente"}])
    return invalid([{"field": field, "message": "Valor não permitido"}])


def _field_of_constraint(name: str | None) -> str:
    """``uq_vehicles_plate`` → ``plate``; ``fk_users_role_id_roles`` → ``role_id``."""
    if not name:
        return "body"
    for table in Base.metadata.tables.values():
        for constraint in [*table.constraints, *table.indexes]:
            if getattr(constraint, "name", None) == name:
                columns = [c.name for c in getattr(constraint, "columns", [])]
                return ",".join(c for c in columns if c not in ("client_id",)) or "body"
    return "body"


def _data_error(exc: DBAPIError) -> ApiError | None:
    """A value PostgreSQL refused (a NUL in text, a number or date beyond its type):
    a 422. Inputs are checked before they reach the database; this is the backstop
    for a field a schema forgot. Any other database error is a bug (None: 500)."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    if isinstance(cause, asyncpg.exceptions.DataError):
        return invalid([{"field": "body", "message": "Valor não aceito pelo banco de dados"}])
    return None


def _address(exc: AddressError) -> ApiError:
    if isinstance(exc, InvalidAddressError):
        return _field_error(422, exc.code, exc.message, exc.field)
    return ApiError(422, exc.code, exc.message)


UNAVAILABLE = ApiError(503, "unavailable", "Serviço temporariamente indisponível. Tente novamente.")


def _unavailable(exc: BaseException) -> ApiError:
    return UNAVAILABLE


Translation = Callable[[Any], ApiError | None]  # None: not ours to answer (a bug)

ERRORS: dict[type[BaseException], Translation] = {
    ApiError: lambda exc: exc,
    pydantic.ValidationError: lambda exc: invalid(pydantic_fields(exc)),
    # registry
    RegistryValidationError: lambda exc: invalid([{"field": exc.field, "message": exc.message}]),
    ImportFileError: lambda exc: _field_error(422, exc.code, exc.message, exc.field),
    NotFound: lambda exc: ApiError(404, "not_found", str(exc)),
    InUse: lambda exc: ApiError(409, "in_use", str(exc)),
    Conflict: lambda exc: ApiError(409, "conflict", str(exc)),
    ProviderBlocked: lambda exc: ApiError(403, "provider_blocked", str(exc)),
    RegistryError: lambda exc: ApiError(400, "bad_request", str(exc)),
    # operations
    ops.NotFoundError: lambda exc: not_found(exc.entity),
    ops.InvalidInputError: lambda exc: _field_error(
        422, "validation_error", exc.message, exc.field
    ),
    ops.CoverageRefusedError: lambda exc: ApiError(409, exc.coverage.verdict.value, exc.message),
    ops.IllegalTransitionError: lambda exc: ApiError(409, "illegal_transition", exc.message),
    ops.OfferConflictError: lambda exc: ApiError(409, exc.code, exc.message),
    ops.IllegalOfferTransitionError: lambda exc: ApiError(409, "illegal_transition", exc.message),
    ops.ClientWeightsError: lambda exc: ApiError(409, "bad_weights", exc.message),
    ops.LiveUnavailableError: lambda exc: ApiError(503, "live_unavailable", exc.message),
    ops.ExpiredLinkError: lambda exc: ApiError(410, "link_expired", exc.message),
    ops.InvalidLinkError: lambda exc: ApiError(404, "link_invalid", exc.message),
    ops.DeliveryError: lambda exc: ApiError(503, f"{exc.channel}_unavailable", exc.message),
    ops.OperationsError: lambda exc: ApiError(422, "operations_error", exc.message),
    # geo
    AddressError: _address,
    GeocoderUnavailableError: lambda exc: ApiError(503, exc.code, exc.message),
    # the database and Redis
    IntegrityError: _integrity,
    DBAPIError: _data_error,
    OperationalError: _unavailable,
    InterfaceError: _unavailable,
    PoolTimeout: _unavailable,
    RedisConnectionError: _unavailable,
    RedisTimeoutError: _unavailable,
    OSError: _unavailable,
}
"""How each error is answered, by class; :func:`translate` walks the MRO."""


def _lookup(table: Mapping[type[BaseException], Any], exc: BaseException) -> Any:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def translate(
    exc: BaseException, blame: Mapping[type[BaseException], str] | None = None
) -> ApiError | None:
    """The answer to ``exc``, or None for an error nobody expects (a bug: 500).

    Args:
        blame: request fields that errors of these classes are about, for errors
            that name no field of their own (or name another one).
    """
    translation = _lookup(ERRORS, exc)
    if translation is None:
        return None
    error: ApiError | None = translation(exc)
    if error is None:
        return None
    field = _lookup(blame, exc) if blame else None
    if field is not None:
        return ApiError(
            error.status,
            error.code,
            error.message,
            [{"field": field, "message": error.message}],
            error.headers,
        )
    return error
