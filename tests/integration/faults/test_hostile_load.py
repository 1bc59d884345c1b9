"""Hostile documents and input against a live server: coded 4xx or run stops; /healthz unharmed.

The expression bomb, an expression that blows its run-time budget, metadata nested
300 deep, NUL and lone-surrogate strings and a runaway self-loop are sent again and
again while a thread pings ``/healthz``. The test asserts on codes and counts and
prints the ``/healthz`` latencies (p50/p95/max) with and without the hostile load.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.service.conftest import server_env, start_server

pytestmark = [pytest.mark.integration, pytest.mark.soak]

ROUNDS = 4
BOMB = "state.xs.map(a, state.xs.map(b, state.xs.map(c, state.xs.map(d, "
BOMB += "state.xs.map(e, state.xs.map(f, 'x'))))))"


def bomb_doc() -> dict[str, Any]:
    """Six nested maps in an approval prompt: refused at validation (expr.too_costly)."""
    return {
        "dsl": "graphwright/v1",
        "id": "hl-bomb",
        "state": {
            "xs": {"type": "array", "items": {"type": "integer"}, "default": list(range(10))},
            "review": {"type": "object", "nullable": True},
        },
        "nodes": {
            "gate": {
                "kind": "approval",
                "prompt": "Items: ${" + BOMB + "}",
                "decisions": ["approve"],
                "writes": "review",
            }
        },
        "edges": [{"from": "START", "to": "gate"}, {"from": "gate", "to": "END"}],
    }


COSTLY: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hl-costly",
    "state": {
        "xs": {"type": "array", "items": {"type": "integer"}, "default": list(range(1000))},
        "out": {"type": "integer", "nullable": True},
    },
    "nodes": {
        "count": {
            "kind": "function",
            "ref": "svc.count",
            "inputs": {"pairs": "state.xs.map(a, state.xs.map(b, a * b))"},
            "writes": "out",
        }
    },
    "edges": [{"from": "START", "to": "count"}, {"from": "count", "to": "END"}],
}

RUNAWAY: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "hl-runaway",
    "state": {"pad": {"type": "array", "items": {"type": "string"}, "reducer": "append"}},
    "nodes": {"grow": {"kind": "function", "ref": "svc.pad", "inputs": {"size": "20000"}}},
    "edges": [
        {"from": "START", "to": "grow"},
        {"from": "grow", "cases": [{"when": "true", "to": "grow"}], "default": "END"},
    ],
    "limits": {"max_steps": 10000},
}


class Pinger:
    """A thread calling ``/healthz`` every 20 ms, keeping latencies per phase."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.phase = "calm"
        self.times: dict[str, list[float]] = {"calm": [], "hostile": []}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    status = http.get("/healthz").status_code
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                else:
                    if status != 200:
                        self.failures.append(str(status))
                self.times[self.phase].append(time.perf_counter() - started)
                time.sleep(0.02)

    @contextmanager
    def running(self) -> Iterator[Pinger]:
        """Ping while the block runs."""
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(10)

    def summary(self, phase: str) -> str:
        """p50 / p95 / max in ms of one phase."""
        values = sorted(self.times[phase])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        return (
            f"{phase}: n={len(values)} p50={statistics.median(values) * 1000:.1f} ms"
            f" p95={p95 * 1000:.1f} ms max={values[-1] * 1000:.1f} ms"
        )


def problem_codes(response: httpx.Response) -> set[str]:
    """The top code and every listed problem's code of a problem answer."""
    body = response.json()
    listed = body.get("problems") or body.get("errors") or []
    return {body.get("code", ""), *(p.get("code", "") for p in listed)}


async def run_to_end(http: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    """Start a run on a new thread and wait for it: the run as the API returns it."""
    thread = (await http.post("/threads", json={})).json()["thread_id"]
    run = await http.post(f"/threads/{thread}/runs", json={"assistant_id": workflow_id})
    assert run.status_code == 200, run.text
    await http.get(f"/threads/{thread}/runs/{run.json()['run_id']}/join")
    ended: dict[str, Any] = (
        await http.get(f"/threads/{thread}/runs/{run.json()['run_id']}")
    ).json()
    return ended


async def hostile_round(http: httpx.AsyncClient) -> list[tuple[str, int, set[str]]]:
    """One round of every hostile request: (what, status, codes) of each answer."""
    deep = '{"metadata":' + '{"k":' * 300 + '"x"' + "}" * 300 + "}"
    sent = {
        "validate-bomb": http.post("/workflows/validate", json=bomb_doc()),
        "publish-bomb": http.post("/workflows", json=bomb_doc()),
        "deep-metadata": http.post(
            "/threads", content=deep, headers={"content-type": "application/json"}
        ),
        "nul-metadata": http.post(
            "/threads",
            content='{"metadata":{"a":"x\\u0000y"}}',
            headers={"content-type": "application/json"},
        ),
        "surrogate-search": http.post(
            "/threads/search",
            content='{"metadata":{"a":"x\\ud800"}}',
            headers={"content-type": "application/json"},
        ),
        "huge-offset": http.post("/threads/search", json={"offset": 10**20}),
    }
    answers = await asyncio.gather(*sent.values())
    found = [(what, r.status_code, problem_codes(r)) for what, r in zip(sent, answers, strict=True)]
    costly, runaway = await asyncio.gather(
        run_to_end(http, "hl-costly"), run_to_end(http, "hl-runaway")
    )
    for what, run in (("costly-run", costly), ("runaway-run", runaway)):
        found.append((what, 200, {run["status"], (run["error"] or {}).get("code", "")}))
    return found


async def test_hostile_input_is_refused_with_codes_and_healthz_stays_up(
    database_url: str, tmp_path: Path
) -> None:
    """Each hostile request gets its coded 4xx (or its run a coded stop); /healthz never fails."""
    env = server_env(database_url, GW_WORKERS="2", GW_MAX_STATE_BYTES="400000")
    server = start_server(env, tmp_path / "server.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            for doc in (COSTLY, RUNAWAY):
                assert (await http.post("/workflows", json=doc)).status_code in (200, 201)
            with Pinger(server.url).running() as pinger:
                await asyncio.sleep(3)
                pinger.phase = "hostile"
                rounds = [await hostile_round(http) for _ in range(ROUNDS)]
                pinger.phase = "calm"
    finally:
        server.stop()
    print(f"\n/healthz {pinger.summary('calm')}\n/healthz {pinger.summary('hostile')}")
    expected = {
        "validate-bomb": (422, "expr.too_costly"),
        "publish-bomb": (422, "expr.too_costly"),
        "deep-metadata": (422, "request.too_deep"),
        "nul-metadata": (422, "request.invalid_text"),
        "surrogate-search": (422, "request.invalid_text"),
        "huge-offset": (422, "request.invalid"),
        "costly-run": (200, "expr.budget_exceeded"),
        "runaway-run": (200, "run.state_too_large"),
    }
    for found in rounds:
        assert [what for what, _, _ in found] == list(expected)
        for what, status, codes in found:
            assert (status, expected[what][1] in codes) == (expected[what][0], True), (what, codes)
            if what.endswith("-run"):
                assert "error" in codes, (what, codes)
    assert not pinger.failures
    assert pinger.times["hostile"]
