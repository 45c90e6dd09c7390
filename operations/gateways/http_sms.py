"""The HTTP SMS gateway (``SMS_GATEWAY=http``): one JSON POST per message.

Brazilian and international SMS providers (Zenvia, Twilio's JSON bridges, Infobip,
Comtele, ...) differ in the shape of their JSON, not in what it says, so the body
is a template: a JSON object whose string values may hold ``{to}`` (the recipient
in E.164), ``{to_digits}`` (the same without ``+``) and ``{text}``; nothing else in
it changes. The answer's message id is read at ``id_field`` (a dotted path,
``messages.0.id`` say) and kept, so that the provider's delivery reports
(``POST /api/v1/sms/delivery-reports``) can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from operations.errors import DeliveryError, InvalidInputError
from operations.gateways.messages import MessageKind, Sms

MAX_TEMPLATE_CHARS = 4_000
"""Longest body template accepted (a settings value)."""


@dataclass(frozen=True, slots=True)
class HttpSmsConfig:
    url: str
    body_template: str
    auth_header: str | None = None  # "Authorization: Bearer abc"
    id_field: str | None = None
    timeout_s: float = 10.0


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, text in values.items():
            value = value.replace("{" + name + "}", text)
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def _dig(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        elif isinstance(document, dict) and part in document:
            document = document[part]
        else:
            return None
    return document


def check_template(template: str) -> dict[str, Any]:
    """The template as a JSON object.

    Raises:
        InvalidInputError: not a JSON object, too long, or without ``{text}``.
    """
    if len(template) > MAX_TEMPLATE_CHARS or "{text}" not in template:
        raise InvalidInputError("SMS_HTTP_BODY", "O modelo precisa conter {text}.")
    try:
        body = orjson.loads(template)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError("SMS_HTTP_BODY", "O modelo não é JSON válido.") from exc
    if not isinstance(body, dict):
        raise InvalidInputError("SMS_HTTP_BODY", "O modelo deve ser um objeto JSON.")
    return body


class HttpSms:
    """:class:`~operations.gateways.messages.SmsGateway` over a JSON HTTP API."""

    def __init__(self, config: HttpSmsConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._template = check_template(config.body_template)
        self._headers: dict[str, str] = {}
        if config.auth_header:
            name, _, value = config.auth_header.partition(":")
            self._headers[name.strip()] = value.strip()
        self._client = client or httpx.AsyncClient(timeout=config.timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send_sms(self, message: Sms) -> str:
        """Post ``message``; the provider's message id (empty if it gives none).

        Raises:
            DeliveryError: the provider could not be reached, timed out, or
                answered with an error status.
        """
        values = {"to": message.to, "to_digits": message.to.lstrip("+"), "text": message.text}
        body = _fill(self._template, values)
        try:
            response = await self._client.post(self.config.url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(MessageKind.SMS, f"Provedor de SMS inacessível ({exc}).") from exc
        if response.status_code >= 300:
            raise DeliveryError(
                MessageKind.SMS,
                f"O provedor de SMS recusou a mensagem (HTTP {response.status_code}).",
            )
        if not self.config.id_field:
            return ""
        try:
            found = _dig(response.json(), self.config.id_field)
        except ValueError:
            return ""
        return "" if found is None else str(found)[:120]
