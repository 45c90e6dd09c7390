"""Schema fuzzing: every API operation, as each role, against the real server.

Schemathesis reads the server's own OpenAPI document and generates requests from
it (valid ones, and ones that break the schema); each answer must not be a 500,
must be a status and a body the document declares, and must come within
``MAX_RESPONSE_S``. The short profile runs here, in ``make test``: a fixed seed
(``derandomize``) and a few examples per operation and role, so that it is the same
run every time; ``FUZZ_EXAMPLES`` raises the count and ``FUZZ_SEED`` varies it
(docs/security.md, "Fuzzing": the long profile).

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
from registry.permissions import CLIENT_PORTAL, OPERATIONS, ROLE_PERMISSIONS
from server.settings import Settings
from tests.conftest import unit
from tests.e2e.dispatch_support import PASSWORD, Sessions, dispatch_world, provider_user
from tests.support.server import ServerProcess, running_server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("FUZZ_SEED")  # unset: derandomized, the same run every time
MAX_RESPONSE_S = 5.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    max_response_time,
]
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
    operation: Any, base: str, session: requests.Session, fuzzed: Fuzzed, seed: int
) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]

    @hypothesis.settings(
        max_examples=EXAMPLES,
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
            case.validate_response(response, checks=CHECKS if mode is modes[0] else CHECKS[:1])
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


def _fuzz(server: ServerProcess, session: requests.Session, keep: Any, fuzzed: Fuzzed) -> None:
    base = server.url
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    for n, result in enumerate(schema.get_all_operations()):
        operation = result.ok()  # type: ignore[union-attr]  # our own document: valid
        if keep((operation.method.upper(), operation.path)):
            _fuzz_operation(operation, base, session, fuzzed, int(SEED or 0) + n)


@pytest.fixture
async def fuzz_world(db: Sessions) -> dict[str, Any]:
    """The dispatch world, with a user of each kind of role."""
    world = await dispatch_world(db, providers=3)
    await provider_user(db, world["p"][0], "prestador", PASSWORD)
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    async with db() as session, session.begin():
        for login, role_name, kind in (
            ("operacao", OPERATIONS, UserKind.STAFF),
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


@pytest.mark.parametrize("role", ["admin", "operacao", "cliente", "prestador"])
def test_no_operation_fails_or_contradicts_the_document(
    server: ServerProcess, fuzz_world: dict[str, Any], role: str
) -> None:
    fuzzed = Fuzzed()
    session = _session(server.url, role, PASSWORD)
    _fuzz(server, session, lambda op: op not in SELF_HARM, fuzzed)
    for operation in sorted(SELF_HARM):
        try:
            throwaway = _session(server.url, role, PASSWORD)
        except AssertionError:  # an earlier one changed or removed the user: done
            break
        _fuzz(server, throwaway, lambda op, target=operation: op == target, fuzzed)
    assert not fuzzed.failures, _report(fuzzed)
