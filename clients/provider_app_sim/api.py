"""What a fleet in answering mode needs from Acionar's HTTP API, and nothing more.

:class:`Api` signs in (an operator's login and password, or an API bearer token) and
reads the refusal reasons (``GET /api/v1/refusal_reasons``), the providers and their
rates (``GET /api/v1/providers``), and issues device tokens
(``POST /api/v1/providers/{id}/device_tokens``), as an operator configuring phones
would. The simulator still imports nothing of the server: these are public
endpoints (docs/api.md and the OpenAPI document).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from clients.provider_app_sim.profiles import History

HTTP_TIMEOUT_S = 15.0
"""Longest wait for one API request."""

PAGE_SIZE = 500
"""Rows per page read (the API's largest)."""

MAX_PAGES = 200
"""Most pages read from one list (100 000 rows)."""

TOKEN_NAME = "acionar-sim"
"""The name of the device tokens the simulator issues (to find and revoke them)."""


class ApiError(Exception):
    """The API refused a request or could not be reached; the message says which."""


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """A provider as the fleet needs it."""

    id: int
    name: str
    channels: tuple[str, ...]
    history: History


def _fraction(value: object) -> float | None:
    """A rate of the API (a decimal string or number, 0–1) as a float."""
    if value is None:
        return None
    try:
        rate = float(str(value))
    except ValueError:
        return None
    return rate if 0.0 <= rate <= 1.0 else None


class Api:
    """A signed-in client of the HTTP API (use as an async context manager).

    Args:
        base_url: ``http://host:port``.
        login, password: an operator with ``providers.edit`` (issuing tokens) and
            registry read access; or
        api_token: an API bearer token of such a user.
    """

    def __init__(
        self,
        base_url: str,
        *,
        login: str | None = None,
        password: str | None = None,
        api_token: str | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1", headers=headers, timeout=HTTP_TIMEOUT_S
        )
        self._login = (login, password) if login and password and not api_token else None

    async def __aenter__(self) -> Api:
        if self._login is not None:
            login, password = self._login
            body = await self._call(
                "POST", "/auth/login", json={"login": login, "password": password}
            )
            self._http.headers["X-CSRF-Token"] = str(body["csrf_token"])
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    async def _all(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._call(
                "GET", path, params={**params, "page": page, "page_size": PAGE_SIZE}
            )
            rows += body["items"]
            if len(rows) >= int(body["total"]) or not body["items"]:
                break
        return rows

    async def refusal_reasons(self) -> tuple[int, ...]:
        """Ids of the active refusal reasons, in the API's order (by name)."""
        rows = await self._all("/refusal_reasons", {"active": "true"})
        return tuple(int(row["id"]) for row in rows)

    async def providers(self) -> list[ProviderInfo]:
        """Active providers reachable by the app channel, by id."""
        rows = await self._all("/providers", {"status": "active", "sort": "id"})
        found = [
            ProviderInfo(
                id=int(row["id"]),
                name=str(row["name"]),
                channels=tuple(row.get("channels") or ()),
                history=History(
                    acceptance_rate=_fraction(row.get("acceptance_rate")),
                    on_time_rate=_fraction(row.get("on_time_rate")),
                ),
            )
            for row in rows
        ]
        return sorted((p for p in found if "app" in p.channels), key=lambda p: p.id)

    async def issue_device_token(self, provider_id: int) -> str:
        """A new device token of the provider (shown once by the API)."""
        body = await self._call(
            "POST", f"/providers/{provider_id}/device_tokens", json={"name": TOKEN_NAME}
        )
        return str(body["token"])
