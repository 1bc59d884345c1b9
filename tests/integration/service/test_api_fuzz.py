"""Schemathesis fuzzes a live server from its /openapi.json: no 5xx, every answer documented.

The server runs on its own tenant with the example workflows published and one
thread stopped at an approval gate. Every operation gets positive and negative
cases with generated ids, then positive cases whose path ids name those real
objects, so requests also reach the code behind the 404s. Each answer must not be
a server error and must match the document: status code, content type, body
schema and documented headers (a 503's ``Retry-After``).

``MAX_EXAMPLES`` bounds the cases per operation and pass, ``BUDGET_SECONDS`` the
whole run (an operation not started by then is counted as skipped). Set
``GW_FUZZ_SEED`` to replay a run; the summary line prints its seed.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from tests.integration.service.conftest import Server, publish_examples, server_env, start_server

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 6
"""Cases per operation in each pass (positive, negative, real ids)."""
BUDGET_SECONDS = 45.0
"""No operation is started after this many seconds of fuzzing."""
REQUEST_TIMEOUT = 15.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Follows a thread's runs until the client leaves: with a real thread id it never ends.
ENDLESS = {"GET /threads/{thread_id}/stream"}


@pytest.fixture(scope="module")
def fuzz_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on a tenant of its own, examples published, one run slot, a secrets key."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = server_env(
        database_url, tenant=f"fuzz-{secrets.token_hex(4)}", GW_WORKERS="1", GW_SECRET_KEY=key
    )
    folder = tmp_path_factory.mktemp("fuzz")
    publish_examples(env, folder)
    running = start_server(env, folder / "server.log")
    yield running
    running.stop()


def real_ids(url: str) -> dict[str, str]:
    """Ids of real objects: a thread of ``svc-gated`` stopped at its gate, its run and approval."""
    with httpx.Client(base_url=url, timeout=60) as http:
        thread_id = http.post("/threads", json={}).json()["thread_id"]
        done = http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "svc-gated"})
        assert done.status_code == 200, done.text
        run_id = http.get(f"/threads/{thread_id}/runs").json()[0]["run_id"]
        state = http.get(f"/threads/{thread_id}/state").json()
        approvals = http.get("/approvals", params={"thread_id": thread_id}).json()
    assert approvals, "the gated run left no pending approval"
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "checkpoint_id": state["checkpoint"]["checkpoint_id"],
        "approval_id": approvals[0]["approval_id"],
        "assistant_id": "svc-gated",
        "workflow_id": "svc-gated",
        "name": "fuzz-secret",
    }


@dataclass(frozen=True)
class Pass:
    """Cases of one operation in one generation mode, with real ids in its path or not."""

    operation: APIOperation
    mode: GenerationMode
    path_ids: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.operation.label} ({self.mode.value}{', real ids' if self.path_ids else ''})"


@dataclass
class Fuzzer:
    """Runs passes against the server and keeps count of what it did and found."""

    session: requests.Session
    seed: int
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def run(self, passes: Iterable[Pass], *, budget: float) -> float:
        """Run each pass until ``budget`` seconds are spent (later ones are skipped); the time."""
        started = time.monotonic()
        for one in passes:
            if time.monotonic() - started > budget:
                self.skipped.append(str(one))
            else:
                self.fuzz(one)
        return time.monotonic() - started

    def fuzz(self, one: Pass) -> None:
        """Send up to ``MAX_EXAMPLES`` cases; keep one report per kind of failed check."""
        strategy = one.operation.as_strategy(
            generation_mode=one.mode, path_parameters=one.path_ids or None
        )
        found: dict[str, str] = {}

        @hypothesis_seed(self.seed)
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def send(case: Case) -> None:
            self.cases += 1
            try:
                case.call_and_validate(session=self.session, checks=CHECKS, timeout=REQUEST_TIMEOUT)
            except FailureGroup as exc:
                found.setdefault(" ".join(sorted({f.code for f in exc.exceptions})), exc.message)
            except requests.RequestException as exc:  # a dead or hung server
                found.setdefault(type(exc).__name__, f"{exc}\n{case.as_curl_command()}")

        try:
            send()
        except Unsatisfiable:  # nothing to negate: a body that may be any JSON value
            self.unsatisfiable.append(str(one))
        self.operations.add(one.operation.label)
        self.failures += [f"{one}: {report}" for report in found.values()]


def negatable(operation: APIOperation) -> bool:
    """Whether some input has a schema a value can break (any text fits a plain path string).

    Hypothesis spends seconds before it gives up on an operation without one.
    """
    annotations = {"title", "description"}
    for parameter in operation.iter_parameters():
        schema = parameter.definition.get("schema", {})
        if parameter.definition["in"] != "path" or set(schema) - annotations - {"type"}:
            return True
    return any(set(body.definition.get("schema", {})) - annotations for body in operation.body)


def passes(schema: BaseSchema, ids: dict[str, str]) -> Iterator[Pass]:
    """Every operation positive, then negative, then positive with real ids (deletions last)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        yield Pass(operation, GenerationMode.POSITIVE)
    for operation in operations:
        if negatable(operation):
            yield Pass(operation, GenerationMode.NEGATIVE)
    for operation in sorted(operations, key=lambda o: o.method.upper() == "DELETE"):
        names = re.findall(r"{(\w+)}", operation.path)
        real = {name: ids[name] for name in names if name in ids}
        if real and operation.label not in ENDLESS:
            yield Pass(operation, GenerationMode.POSITIVE, real)


def test_fuzzed_requests_get_documented_answers_and_no_server_error(fuzz_server: Server) -> None:
    """Generated requests, valid and invalid, get no 5xx and only documented answers."""
    seed = int(os.environ.get("GW_FUZZ_SEED") or secrets.randbits(64))
    ids = real_ids(fuzz_server.url)
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")
    with requests.Session() as session:
        fuzzer = Fuzzer(session, seed)
        took = fuzzer.run(passes(schema, ids), budget=BUDGET_SECONDS)
    print(
        f"\nschemathesis: {fuzzer.cases} cases on {len(fuzzer.operations)} operations in "
        f"{took:.1f} s ({len(fuzzer.skipped)} passes skipped for time, "
        f"{len(fuzzer.unsatisfiable)} with nothing to negate), "
        f"{len(fuzzer.failures)} failures, seed {seed}"
    )
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
