"""HTTP helpers shared by the API: orjson responses and the JSON error shape.

Every API error is ``{"error": {"code": <stable>, "message": <text>, "fields": [...]}}``;
``fields`` appears on validation errors only.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class ORJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(content: Any, status_code: int = 200) -> ORJSONResponse:
    return ORJSONResponse(content, status_code=status_code)


def error_response(
    code: str, message: str, status_code: int, fields: list[dict[str, str]] | None = None
) -> ORJSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return json_response({"error": error}, status_code=status_code)
