"""The OpenAPI 3.1 document, built from the same operations and pydantic models
that the server uses to validate requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from server.api.core import PREFIX, Access, BodyKind, Operation

REF = "#/components/schemas/{model}"
_CONVERTOR = re.compile(r"\{(\w+):\w+\}")
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}


def _schema_of(annotation: Any, components: dict[str, Any], mode: str) -> dict[str, Any]:
    schema = TypeAdapter(annotation).json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    components.update(schema.pop("$defs", {}))
    return schema


def _model_schema(model: type[BaseModel], components: dict[str, Any], mode: str) -> dict[str, Any]:
    _, top = models_json_schema([(model, mode)], ref_template=REF)  # type: ignore[list-item]
    components.update(top.get("$defs", {}))
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
        for name in _CONVERTOR.findall(op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(ref_template=REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _responses(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    error = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }
    responses: dict[str, Any] = {}
    if op.status == 204:
        responses["204"] = {"description": "Done"}
    else:
        content = (
            {"application/json": {"schema": _schema_of(op.response, components, "serialization")}}
            if op.response is not None
            else {}
        )
        responses[str(op.status)] = {"description": "OK", "content": content}
    return {**responses, **{str(code): error for code in sorted(_error_codes(op))}}


def _names_rows(model: type[BaseModel] | None) -> bool:
    return model is not None and any(name.endswith(("_id", "_ids")) for name in model.model_fields)


def _error_codes(op: Operation) -> set[int]:
    """Every error status ``op`` may answer: by its kind, and its own ``errors``."""
    codes = {503, *op.errors}  # PostgreSQL or Redis unavailable
    if op.body_kind is not BodyKind.NONE or op.query:
        codes |= {400, 422}
    if op.body_kind is not BodyKind.NONE:
        codes.add(413)
    if op.access is not Access.PUBLIC:
        codes |= {401, 403}
    if "{" in op.path or _names_rows(op.query) or _names_rows(op.body):
        codes.add(404)  # a row the path, the query or the body names does not exist
    if op.method in ("POST", "PATCH", "PUT", "DELETE"):
        codes.add(409)
    return codes


def _operation(op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}",
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": _responses(op, components),
    }
    spec["operationId"] = re.sub(r"[{}:]", "", spec["operationId"])
    if op.body is not None and op.body_kind in (BodyKind.MODEL, BodyKind.PATCH):
        schema = _model_schema(op.body, components, "validation")
        if op.body_kind is BodyKind.PATCH:
            schema = {
                "description": "Any subset of the fields of " + op.body.__name__,
                "allOf": [schema],
            }
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    elif op.body_kind is BodyKind.RAW:
        spec["requestBody"] = {
            "required": True,
            "content": {
                ctype: {"schema": {"type": "string", "format": "binary"}}
                for ctype in op.raw_content_types
            },
        }
    if op.permission is not None and op.access is not Access.PUBLIC:
        spec["x-permission"] = str(op.permission)
    if op.access is Access.PUBLIC:
        spec["security"] = []
    return spec


def build_openapi(operations: list[Operation], version: str) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for op in operations:
        path = PREFIX + _CONVERTOR.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Acionar API",
            "version": version,
            "description": "Acionar's HTTP API. Errors are JSON: "
            "{error: {code, message, fields?}}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "acionar_session"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"bearer": []}],
    }
