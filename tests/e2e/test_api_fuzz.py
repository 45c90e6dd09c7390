"""Schema fuzzing: every API operation, as each built-in role and anonymously,
against the real server.

Schemathesis reads the server's own OpenAPI document and generates requests from
it (valid ones, and ones that break the schema). Every answer must not be a 500
and must come within ``MAX_RESPONSE_S`` (Schemathesis's ``max_response_time``
check, its limit set in the schema's configuration); the answer to a valid
request must also be a status, a content type and a body the document declares.
The short profile runs here, in ``make test``: a fixed seed (``derandomize``), a
few examples per operation for the administrator, operator, client-portal and
provider-portal users, and fewer for the other staff roles (Rede de Prestadores,
Fechamento/Faturamento, Supervisão, Analítico) and the anonymous caller, so that it
is the same run every time and stays short; ``FUZZ_EXAMPLES`` sets the count for
every pass and ``FUZZ_SEED`` varies it (docs/security.md: the long profile).

Operations that would end the fuzzing session itself (sign-out, a change to the
fuzzing users or their roles) are fuzzed with a throwaway session instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    max_response_time,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from registry import models as m
from registry.enums import UserKind
from registry.permissions import (
    ANALYTICS,
    CLIENT_PORTAL,
    CLOSING,
    OPERATIONS,
    PROVIDER_NETWORK,
    ROLE_PERMISSIONS,
    SUPERVISION,
)
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world, provider_user
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
"""Examples per operation for the four roles the API was built around."""
FEW_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
"""Examples per operation for the other staff roles and the anonymous caller."""
SEED = os.environ.get("FUZZ_SEED")  # unset: derandomized, the same run every time
MAX_RESPONSE_S = unit(5)
"""The longest an answer may take (docs/security.md: 5 s)."""
ANY_REQUEST = [not_a_server_error, max_response_time]
VALID_REQUEST = [
    *ANY_REQUEST,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ANONYMOUS = "anonymous"
STAFF = {  # login → built-in role, besides the administrator's
    "operacao": OPERATIONS,
    "rede": PROVIDER_NETWORK,
    "fechamento": CLOSING,
    "supervisao": SUPERVISION,
    "analitico": ANALYTICS,
}
PASSES = {  # who signs in → examples per operation
    **dict.fromkeys(("admin", "operacao", "cliente", "prestador"), EXAMPLES),
    **dict.fromkeys(("rede", "fechamento", "supervisao", "analitico", ANONYMOUS), FEW_EXAMPLES),
}
# Operations that end or change the fuzzing identity: fuzzed with a throwaway session.
SELF_HARM = {
    ("POST", "/api/v1/auth/logout"),
    ("PATCH", "/api/v1/users/{item_id}"),
    ("DELETE", "/api/v1/users/{item_id}"),
    ("PATCH", "/api/v1/roles/{item_id}"),
    ("DELETE", "/api/v1/roles/{item_id}"),
}


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("fuzz")
    # the fuzzer signs in many times from one address: no throttling in its way
    with running_server(
        settings, logs, LOGIN_MAX_FAILURES="100000", LOGIN_MAX_FAILURES_PER_ADDRESS="100000"
    ) as process:
        yield process


@dataclass
class Fuzzed:
    """What the fuzzing found: every failure, by operation."""

    failures: dict[str, list[str]] = field(default_factory=dict)

    def add(self, operation: str, problem: str) -> None:
        self.failures.setdefault(operation, []).append(problem)


def _session(base: str, login: str, password: str) -> requests.Session:
    session = requests.Session()
    signed = session.post(f"{base}/api/v1/auth/login", json={"login": login, "password": password})
    assert signed.status_code == 200, signed.text
    session.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
    return session


def _fuzz_operation(
    operation: Any, base: str, session: requests.Session, fuzzed: Fuzzed, seed: int, examples: int
) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=SEED is None,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(data=hypothesis.strategies.data())
    def run(data: Any) -> None:
        mode = data.draw(hypothesis.strategies.sampled_from(modes))
        case = data.draw(operation.as_strategy(generation_mode=mode))
        response = case.call(base_url=base, session=session, timeout=unit(30))
        try:
            checks = VALID_REQUEST if mode is GenerationMode.POSITIVE else ANY_REQUEST
            case.validate_response(response, checks=checks)
        except (AssertionError, FailureGroup) as exc:
            request = response.request
            body = (request.body or b"")[:300]
            fuzzed.add(
                name,
                f"{mode.value}: {request.method} {request.url} {body!r} → "
                f"{response.status_code} {response.text[:300]}\n{str(exc)[:600]}",
            )

    if SEED is not None:
        run = hypothesis.seed(seed)(run)
    run()


def _fuzz(
    server: ServerProcess, session: requests.Session, keep: Any, fuzzed: Fuzzed, examples: int
) -> None:
    base = server.url
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    # the limit max_response_time reads (without it, Schemathesis's default: 10 s)
    schema.config.checks.update(max_response_time=MAX_RESPONSE_S)
    for n, result in enumerate(schema.get_all_operations()):
        operation = result.ok()  # type: ignore[union-attr]  # our own document: valid
        if keep((operation.method.upper(), operation.path)):
            _fuzz_operation(operation, base, session, fuzzed, int(SEED or 0) + n, examples)


@pytest.fixture
async def fuzz_world(db: Sessions) -> dict[str, Any]:
    """The dispatch world, with a user of each built-in role."""
    world = await dispatch_world(db, providers=3)
    await provider_user(db, world["p"][0], "prestador", PASSWORD)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        for login, role_name, kind in (
            *((login, role, UserKind.STAFF) for login, role in STAFF.items()),
            ("cliente", CLIENT_PORTAL, UserKind.CLIENT),
        ):
            role = m.Role(name=role_name, permissions=sorted(ROLE_PERMISSIONS[role_name]))
            session.add(role)
            await session.flush()
            client = world["client"] if kind is UserKind.CLIENT else None
            session.add(
                m.User(
                    login=login,
                    name=login,
                    password_hash=cheap,
                    role_id=role.id,
                    kind=kind,
                    client_id=client,
                )
            )
    return world


def _report(fuzzed: Fuzzed) -> str:
    lines = []
    for operation, problems in sorted(fuzzed.failures.items()):
        lines.append(f"== {operation}: {len(problems)} failure(s)")
        lines.extend(problems[:2])
    return "\n".join(lines)


@pytest.mark.parametrize("role", list(PASSES))
def test_no_operation_fails_or_contradicts_the_document(
    server: ServerProcess, fuzz_world: dict[str, Any], role: str
) -> None:
    fuzzed, examples = Fuzzed(), PASSES[role]
    if role == ANONYMOUS:  # no session to lose: every operation in one pass
        _fuzz(server, requests.Session(), lambda op: True, fuzzed, examples)
        assert not fuzzed.failures, _report(fuzzed)
        return
    session = _session(server.url, role, PASSWORD)
    _fuzz(server, session, lambda op: op not in SELF_HARM, fuzzed, examples)
    for operation in sorted(SELF_HARM):
        try:
            throwaway = _session(server.url, role, PASSWORD)
        except AssertionError:  # an earlier one changed or removed the user: done
            break
        _fuzz(server, throwaway, lambda op, target=operation: op == target, fuzzed, examples)
    assert not fuzzed.failures, _report(fuzzed)
