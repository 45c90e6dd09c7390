"""API errors and their translation from lower layers.

Every error the API returns is ``{"error": {"code", "message", "fields"?}}``:

* :class:`ApiError` raised by handlers (its status and stable code);
* pydantic validation errors → 422 ``validation_error`` listing each field with a
  pt-BR message (:func:`pydantic_fields`);
* registry errors → 422 / 404 / 409;
* database integrity errors → 409 ``conflict`` (unique), 409 ``in_use`` (a delete
  that other records reference) or 422 (a check or reference that failed).
"""

from __future__ import annotations

from typing import Any

import pydantic
from sqlalchemy.exc import IntegrityError

from registry.db import Base
from registry.errors import Conflict, NotFound, RegistryError
from registry.errors import ValidationError as RegistryValidationError

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


def pydantic_fields(exc: pydantic.ValidationError, prefix: str = "") -> list[Field]:
    """Each error of a pydantic validation as ``{"field", "message"}`` in pt-BR."""
    return [{"field": _field(e, prefix), "message": _message(e)} for e in exc.errors()]


def from_registry(exc: RegistryError) -> ApiError:
    if isinstance(exc, RegistryValidationError):
        return invalid([{"field": exc.field, "message": exc.message}])
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", str(exc))
    return ApiError(400, "bad_request", str(exc))


def _constraint(exc: IntegrityError) -> tuple[str | None, str | None]:
    """(sqlstate, constraint name) of an integrity error raised through asyncpg."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    sqlstate = getattr(cause, "sqlstate", None) or getattr(exc.orig, "sqlstate", None)
    return sqlstate, getattr(cause, "constraint_name", None)


def from_integrity(exc: IntegrityError, *, deleting: bool = False) -> ApiError:
    """Translate a database integrity error; the constraint names the field."""
    sqlstate, constraint = _constraint(exc)
    field = _field_of_constraint(constraint)
    if sqlstate == "23505":
        return ApiError(
            409,
            "conflict",
            "Já existe um registro com este valor.",
            [{"field": field, "message": "Já cadastrado"}],
        )
    if sqlstate == "23503" and deleting:
        return ApiError(409, "in_use", "O registro está em uso e não pode ser excluído.")
    if sqlstate == "23503":
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
