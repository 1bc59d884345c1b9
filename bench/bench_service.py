"""The HTTP service against the in-process Engine, side by side, in one run.

Workflows (node code in ``bench/_bench_nodes.py``, loaded by both sides):
``bench-chain`` is 5 ``bench.step`` function nodes in a row, each
``await asyncio.sleep(0)`` and a short hash; ``bench-gated`` is a node, an
approval gate, a node.

1. **Throughput and latency, 16 concurrent.** ``runs.wait`` through a
   ``graphwright serve`` subprocess with the official ``langgraph_sdk`` client
   (16 SDK clients, each one run at a time, each run on a new thread:
   ``runs.wait(uuid4, "bench-chain", input=..., if_not_exists="create")``)
   against ``Engine.run("bench-chain", ...)`` in this process (16 tasks), on the
   same PostgreSQL server and database. The two alternate in rounds (order
   reversed every round). Printed: runs/s, p50/p95 latency, runs slower than
   1 s, and CPU ms per run of this process, the server process and the
   PostgreSQL backends of the scratch database (from /proc).
   **Target: service >= 0.7x in-process throughput.**
2. **Time to first SSE event.** ``client.runs.stream(...)`` called -> first part
   (``metadata``) received, one stream at a time. Also: to the first data part
   and to the end of the stream. **Target: p50 < 20 ms.**
3. **Approval resume latency.** A ``bench-gated`` run stops at the gate
   (``runs.wait`` returns ``__interrupt__``); then the time of
   ``runs.wait(thread, "bench-gated", command={"resume": {"decision": "approve"}})``
   until it returns, one at a time. Also through ``POST /approvals/{id}/decide``
   followed by ``runs.join`` of the returned ``resume_run_id`` when the server's
   OpenAPI lists that endpoint (else skipped with a note), and
   ``Engine.resume(thread, "approve")`` in process for reference.
   **Target: p50 < 50 ms.**

Each ``--phases`` item is one server process: ``redis:N`` runs ``graphwright
serve`` with ``GW_WORKERS=N`` and ``GW_REDIS_URL``; ``local:N`` leaves
``GW_REDIS_URL`` unset (in-process bus, a diagnostic). Every phase measures its
own in-process baseline. One-at-a-time measurements stop early once
``--budget`` seconds are spent (at least 2 samples). The script creates
``gw_bench_<random>`` on ``--database-url``, publishes with ``graphwright
publish`` and drops the database at the end. Nothing asserts on timings.
``--profile`` adds a run of the first phase's server under cProfile.

The server runs on uvicorn's default loop (uvloop, installed with
``uvicorn[standard]``); this process on asyncio's own loop unless ``--uvloop``.

``redis:16`` gives the server as many run slots as the in-process side has runs in
flight (16), so both sides run the same concurrency; ``redis:4`` queues 12 of the 16
requests at any time (runs wait for a slot; new-thread runs created while a slot is
idle start in it directly).

Run: ``.venv/bin/python bench/bench_service.py [--phases redis:16,redis:4]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langgraph_sdk import get_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdb import DEFAULT_URL, percentile, scratch_database
from _procstat import proc_cpu, scan_procs

from graphwright.registry import load_registry_modules
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings

NODES = Path(__file__).resolve().parent / "_bench_nodes.py"
CHAIN = "bench-chain"
GATED = "bench-gated"
CHAIN_LABELS = ["n1", "n2", "n3", "n4", "n5"]
TARGET_THROUGHPUT = 0.7
TARGET_FIRST_EVENT_MS = 20.0
TARGET_RESUME_MS = 50.0
SLOW_SECONDS = 1.0


# ----------------------------------------------------------------------------- workflows


def workflow(workflow_id: str, labels: list[str], *, gate: bool = False) -> dict[str, Any]:
    """A chain of ``bench.step`` nodes; with ``gate``, an approval gate in the middle."""
    nodes: dict[str, Any] = {
        label: {
            "kind": "function",
            "ref": "bench.step",
            "inputs": {"label": f"'{label}'", "token": "state.token"},
        }
        for label in labels
    }
    order = list(labels)
    if gate:
        nodes["gate"] = {
            "kind": "approval",
            "prompt": "Continue ${state.token}?",
            "decisions": ["approve", "reject"],
            "writes": "review",
        }
        order.insert(len(order) // 2 or 1, "gate")
    edges = [{"from": "START", "to": order[0]}]
    edges += [{"from": a, "to": b} for a, b in itertools.pairwise(order)]
    edges.append({"from": order[-1], "to": "END"})
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "token": {"type": "string", "default": ""},
            "trail": {"type": "array", "items": {"type": "string"}, "reducer": "extend"},
            "review": {"type": "object", "nullable": True},
        },
        "input": ["token"],
        "output": ["trail", "review"],
        "nodes": nodes,
        "edges": edges,
        "limits": {"max_steps": 50},
    }


DOCUMENTS = {
    CHAIN: workflow(CHAIN, CHAIN_LABELS),
    GATED: workflow(GATED, ["before", "after"], gate=True),
}


def token() -> str:
    return uuid.uuid4().hex[:12]


def chain_ok(values: Any) -> bool:
    return isinstance(values, dict) and len(values.get("trail") or []) == len(CHAIN_LABELS)


def resumed_ok(values: Any) -> bool:
    return (
        isinstance(values, dict)
        and (values.get("review") or {}).get("decision") == "approve"
        and len(values.get("trail") or []) == 2
        and not values.get("__interrupt__")
    )


# ----------------------------------------------------------------------------- CPU accounting


@dataclass
class CpuMeter:
    """CPU seconds of this process, the server process and the database's backends."""

    dbname: str
    server_pid: int | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "bench": time.process_time(),
            "server": proc_cpu(self.server_pid) if self.server_pid else 0.0,
            "pg": {pid: proc_cpu(pid) for pid in scan_procs(self.dbname)[0]},
        }

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        # A backend that ended in between is lost; the pools keep theirs open.
        pg = sum(v - before["pg"].get(pid, 0.0) for pid, v in after["pg"].items())
        return {
            "bench": after["bench"] - before["bench"],
            "server": after["server"] - before["server"],
            "pg": pg,
        }


# ----------------------------------------------------------------------------- server process


@dataclass(frozen=True)
class PhaseSpec:
    """One server configuration: the bus (``redis`` or ``local``) and GW_WORKERS."""

    bus: str
    workers: int

    @property
    def label(self) -> str:
        return f"{self.bus}, GW_WORKERS={self.workers}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(database_url: str, extra: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env.update(
        {
            "GW_DATABASE_URL": database_url,
            "GW_REGISTRY_MODULES": str(NODES),
            "GW_DRAIN_SECONDS": "5",
        }
    )
    for item in extra:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def graphwright_script() -> str:
    return str(Path(sys.executable).parent / "graphwright")


def publish(env: dict[str, str], folder: Path) -> None:
    files = []
    for workflow_id, doc in DOCUMENTS.items():
        path = folder / f"{workflow_id}.json"
        path.write_text(json.dumps(doc, indent=1))
        files.append(str(path))
    done = subprocess.run(
        [graphwright_script(), "publish", *files], env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"graphwright publish failed:\n{done.stderr.decode()[-4000:]}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    paths: dict[str, Any] = field(default_factory=dict)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_server(
    env: dict[str, str],
    spec: PhaseSpec,
    redis_url: str,
    folder: Path,
    *,
    profile_to: Path | None = None,
    command: list[str] | None = None,
) -> Server:
    """Start ``graphwright serve`` and wait until it answers.

    With ``profile_to`` it runs under cProfile; ``command`` replaces the arguments given
    to this Python interpreter (the SQL-counting wrapper).
    """
    port = free_port()
    env = {**env, "GW_PORT": str(port), "GW_WORKERS": str(spec.workers)}
    if spec.bus == "redis":
        env["GW_REDIS_URL"] = redis_url
    else:
        env.pop("GW_REDIS_URL", None)
    log = folder / f"server-{spec.bus}-w{spec.workers}{'-prof' if profile_to else ''}.log"
    argv = [graphwright_script(), "serve"]
    if profile_to is not None:
        argv = [sys.executable, "-m", "cProfile", "-o", str(profile_to), *argv]
    if command is not None:
        argv = [sys.executable, *command]
    with log.open("wb") as handle:
        process = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    server = Server(url, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"graphwright serve exited early:\n{server.log_tail()}")
        try:
            response = httpx.get(url + "/openapi.json", timeout=1)
            if response.status_code == 200:
                server.paths = response.json().get("paths", {})
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise SystemExit(f"graphwright serve did not answer within 60 s:\n{server.log_tail()}")


def decide_path(paths: dict[str, Any]) -> str | None:
    """The approvals decide endpoint, if the server has one."""
    for path, ops in paths.items():
        if path.startswith("/approvals/") and path.endswith("/decide") and "post" in ops:
            return path
    return None


# ----------------------------------------------------------------------------- throughput


@dataclass
class Sample:
    """Timed runs of one variant (summed over rounds)."""

    wall: float = 0.0
    runs: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=lambda: {"bench": 0.0, "server": 0.0, "pg": 0.0})
    errors: int = 0

    def add(self, other: Sample) -> None:
        self.wall += other.wall
        self.runs += other.runs
        self.latencies += other.latencies
        self.errors += other.errors
        for key, value in other.cpu.items():
            self.cpu[key] += value

    @property
    def rate(self) -> float:
        return self.runs / self.wall if self.wall else float("nan")

    @property
    def slow(self) -> int:
        return sum(1 for v in self.latencies if v >= SLOW_SECONDS)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else float("nan")

    def cpu_ms(self, key: str) -> float:
        return self.cpu[key] / self.runs * 1000 if self.runs else float("nan")


Call = Callable[[], Awaitable[bool]]


async def closed_loop(calls: list[Call], runs: int, meter: CpuMeter) -> Sample:
    """``runs`` calls spread over ``calls`` (one worker each, one call at a time)."""
    sample = Sample(runs=runs)
    remaining = runs

    async def loop(call: Call) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            ok = await call()
            sample.latencies.append(time.perf_counter() - started)
            sample.errors += not ok

    before = meter.snapshot()
    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in calls))
    sample.wall = time.perf_counter() - started
    sample.cpu = meter.delta(before, meter.snapshot())
    return sample


def service_call(client: Any) -> Call:
    async def call() -> bool:
        values = await client.runs.wait(
            str(uuid.uuid4()), CHAIN, input={"token": token()}, if_not_exists="create"
        )
        return chain_ok(values)

    return call


def engine_call(engine: Engine) -> Call:
    async def call() -> bool:
        result = await engine.run(CHAIN, {"token": token()})
        return result.status == "completed" and chain_ok(result.output)

    return call


# ----------------------------------------------------------------------------- one at a time


@dataclass
class Series:
    """Latencies of a one-at-a-time measurement (seconds)."""

    values: list[float] = field(default_factory=list)
    cut_short: bool = False

    def ms(self, q: float) -> float:
        return percentile(self.values, q) * 1000 if self.values else float("nan")


@dataclass
class StreamSeries:
    first: Series = field(default_factory=Series)
    first_data: Series = field(default_factory=Series)
    end: Series = field(default_factory=Series)
    first_events: set[str] = field(default_factory=set)


async def one_at_a_time(once: Callable[[], Awaitable[None]], samples: int, budget: float) -> bool:
    """Call ``once`` ``samples`` times; stop after ``budget`` s (2 samples at least).

    Returns True when cut short.
    """
    deadline = time.perf_counter() + budget
    for index in range(samples):
        if index >= 2 and time.perf_counter() > deadline:
            return True
        await once()
    return False


async def stream_once(client: Any, out: StreamSeries | None) -> None:
    """One ``runs.stream``: time to the first part, the first data part and the end."""
    first = first_data = None
    started = time.perf_counter()
    async for part in client.runs.stream(
        str(uuid.uuid4()),
        CHAIN,
        input={"token": token()},
        stream_mode="values",
        if_not_exists="create",
    ):
        now = time.perf_counter()
        if first is None:
            first = now - started
            if out is not None:
                out.first_events.add(part.event)
        elif first_data is None:
            first_data = now - started
    end = time.perf_counter() - started
    if out is not None and first is not None:
        out.first.values.append(first)
        out.first_data.values.append(first_data if first_data is not None else end)
        out.end.values.append(end)


async def interrupted_thread(client: Any) -> str:
    """A new thread whose ``bench-gated`` run waits at the gate.

    Set-up, not timed: polls the run (``runs.get`` every 5 ms) rather than waiting on
    it, so a lost live notification costs nothing here.
    """
    thread_id = str(uuid.uuid4())
    run = await client.runs.create(
        thread_id, GATED, input={"token": token()}, if_not_exists="create"
    )
    deadline = time.perf_counter() + 30
    while run["status"] in ("pending", "running"):
        if time.perf_counter() > deadline:
            raise SystemExit(f"{GATED} run {run['run_id']} did not stop within 30 s")
        await asyncio.sleep(0.005)
        run = await client.runs.get(thread_id, run["run_id"])
    if run["status"] != "interrupted":
        raise SystemExit(f"{GATED} did not stop at its gate: {run!r}")
    return thread_id


@dataclass
class Counter:
    bad: int = 0


async def resume_sdk_once(client: Any, out: Series | None, counter: Counter) -> None:
    thread_id = await interrupted_thread(client)
    started = time.perf_counter()
    values = await client.runs.wait(thread_id, GATED, command={"resume": {"decision": "approve"}})
    elapsed = time.perf_counter() - started
    counter.bad += not resumed_ok(values)
    if out is not None:
        out.values.append(elapsed)


async def resume_decide_once(
    client: Any, http: httpx.AsyncClient, path: str, out: Series | None, counter: Counter
) -> None:
    """``POST /approvals/{id}/decide``, then ``runs.join`` of the resume run."""
    thread_id = await interrupted_thread(client)
    listed = await http.get("/approvals", params={"thread_id": thread_id, "status": "pending"})
    listed.raise_for_status()
    body = listed.json()
    items = body if isinstance(body, list) else body.get("items", [])
    mine = [a for a in items if a.get("thread_id") == thread_id]
    if not mine:
        raise RuntimeError(f"no pending approval listed for thread {thread_id}")
    url = path.replace(path[path.index("{") : path.index("}") + 1], str(mine[0]["approval_id"]))
    started = time.perf_counter()
    decided = await http.post(url, json={"decision": "approve"})
    decided.raise_for_status()
    run_id = decided.json().get("resume_run_id")
    if run_id is None:
        run_id = (await client.runs.list(thread_id, limit=1))[0]["run_id"]
    values = await client.runs.join(thread_id, run_id)
    elapsed = time.perf_counter() - started
    counter.bad += not resumed_ok(values)
    if out is not None:
        out.values.append(elapsed)


async def resume_engine_once(engine: Engine, out: Series | None, counter: Counter) -> None:
    first = await engine.run(GATED, {"token": token()})
    if first.status != "interrupted":
        raise SystemExit(f"{GATED} in process did not stop at its gate: {first.status}")
    started = time.perf_counter()
    done = await engine.resume(first.thread_id, "approve")
    elapsed = time.perf_counter() - started
    counter.bad += done.status != "completed"
    if out is not None:
        out.values.append(elapsed)


# ----------------------------------------------------------------------------- phases


@dataclass
class Phase:
    spec: PhaseSpec
    service: Sample = field(default_factory=Sample)
    engine: Sample = field(default_factory=Sample)
    round_ratios: list[float] = field(default_factory=list)
    stream: StreamSeries = field(default_factory=StreamSeries)
    resume_sdk: Series = field(default_factory=Series)
    resume_decide: Series = field(default_factory=Series)
    resume_engine: Series = field(default_factory=Series)
    notes: list[str] = field(default_factory=list)
    counter: Counter = field(default_factory=Counter)


@contextlib.asynccontextmanager
async def sdk_clients(url: str, count: int) -> AsyncIterator[list[Any]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(get_client(url=url)) for _ in range(count)]


async def run_phase(
    args: argparse.Namespace,
    spec: PhaseSpec,
    engine: Engine,
    env: dict[str, str],
    folder: Path,
    meter: CpuMeter,
) -> Phase:
    phase = Phase(spec)
    server = start_server(env, spec, args.redis_url, folder)
    meter.server_pid = server.process.pid
    started = time.perf_counter()
    try:
        async with (
            sdk_clients(server.url, args.concurrency) as clients,
            httpx.AsyncClient(base_url=server.url, timeout=60) as http,
        ):
            sdk = clients[0]
            svc_calls = [service_call(c) for c in clients]
            eng_calls = [engine_call(engine) for _ in range(args.concurrency)]
            path = decide_path(server.paths)
            # Warm-up: connections, compile caches and every code path measured below.
            await closed_loop(svc_calls, args.warmup, meter)
            await closed_loop(eng_calls, args.warmup, meter)
            warm = Counter()
            await stream_once(sdk, None)
            await resume_sdk_once(sdk, None, warm)
            await resume_engine_once(engine, None, warm)
            if path is None:
                phase.notes.append(
                    "POST /approvals/{id}/decide is not in the server's OpenAPI: variant skipped"
                )
            else:
                try:
                    await resume_decide_once(sdk, http, path, None, warm)
                except (httpx.HTTPError, RuntimeError, KeyError, IndexError) as exc:
                    phase.notes.append(f"{path} failed in warm-up ({exc!r}): variant skipped")
                    path = None
            per_round = max(1, args.runs // args.rounds)
            for index in range(args.rounds):
                order = [("svc", svc_calls), ("eng", eng_calls)]
                if index % 2:
                    order.reverse()
                got = {name: await closed_loop(calls, per_round, meter) for name, calls in order}
                phase.service.add(got["svc"])
                phase.engine.add(got["eng"])
                phase.round_ratios.append(got["svc"].rate / got["eng"].rate)
            n, budget, c = args.samples, args.budget, phase.counter
            st = phase.stream
            st.first.cut_short = await one_at_a_time(lambda: stream_once(sdk, st), n, budget)
            phase.resume_sdk.cut_short = await one_at_a_time(
                lambda: resume_sdk_once(sdk, phase.resume_sdk, c), n, budget
            )
            if path is not None:
                decide = path
                phase.resume_decide.cut_short = await one_at_a_time(
                    lambda: resume_decide_once(sdk, http, decide, phase.resume_decide, c),
                    n,
                    budget,
                )
            phase.resume_engine.cut_short = await one_at_a_time(
                lambda: resume_engine_once(engine, phase.resume_engine, c), n, budget
            )
            c.bad += phase.service.errors + phase.engine.errors
    finally:
        server.stop()
        meter.server_pid = None
    if server.process.returncode not in (0, -signal.SIGTERM):
        print(f"(server {spec.label} exited with {server.process.returncode})\n{server.log_tail()}")
    print(f"  phase {spec.label}: {time.perf_counter() - started:.0f} s", flush=True)
    return phase


# ----------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "MEETS" if ok else "MISSES"


def report(args: argparse.Namespace, phases: list[Phase]) -> None:
    n = phases[0].service.runs
    print(
        f"\n1. Throughput: {CHAIN} (5 function nodes), {args.concurrency} concurrent, new thread "
        f"per run,\n   {n} runs per variant and phase in {args.rounds} alternating rounds"
    )
    head = (
        f"   {'phase / variant':46s} {'runs/s':>6s} {'p50 ms':>7s} {'p95 ms':>7s} {'>=1s':>4s} |"
        f" {'cpu ms/run: bench':>17s} {'server':>6s} {'pg':>5s} {'sum':>5s}"
    )
    print(head)
    print("   " + "-" * (len(head) - 3))
    for phase in phases:
        print(f"   {phase.spec.label}")
        for label, s in (
            ("  in-process Engine.run()", phase.engine),
            ("  service: SDK runs.wait", phase.service),
        ):
            total = s.cpu_ms("bench") + s.cpu_ms("server") + s.cpu_ms("pg")
            print(
                f"   {label:46s} {s.rate:6.1f} {s.p(50):7.1f} {s.p(95):7.1f} {s.slow:4d} |"
                f" {s.cpu_ms('bench'):17.2f} {s.cpu_ms('server'):6.2f} {s.cpu_ms('pg'):5.2f}"
                f" {total:5.2f}"
            )
    print(
        "   cpu: bench = this process (the 16 SDK clients, or the in-process Engine); server = "
        "the graphwright serve\n   process; pg = PostgreSQL backends of the scratch database "
        "(Redis and PostgreSQL's background processes not counted)."
    )

    print(
        f"\n2. Time to first SSE event: runs.stream({CHAIN}, stream_mode=values), one at a time,"
        f" up to {args.samples} samples or {args.budget:.0f} s"
    )
    print(
        f"   {'phase':28s} {'n':>3s}  {'first part p50/p95':>19s}  {'first data p50/p95':>19s}"
        f"  {'stream end p50/p95':>19s}  first part"
    )
    for phase in phases:
        st = phase.stream
        print(
            f"   {phase.spec.label:28s} {len(st.first.values):3d}  "
            f"{st.first.ms(50):9.1f}/{st.first.ms(95):9.1f}  "
            f"{st.first_data.ms(50):9.1f}/{st.first_data.ms(95):9.1f}  "
            f"{st.end.ms(50):9.1f}/{st.end.ms(95):9.1f}  {','.join(sorted(st.first_events))}"
        )

    print(
        f"\n3. Approval resume: {GATED} waits at its gate; resume sent -> run completed, one at a"
        f" time, up to {args.samples} samples or {args.budget:.0f} s"
    )
    print(f"   {'phase / how':64s} {'n':>3s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for phase in phases:
        print(f"   {phase.spec.label}")
        rows = [
            ("  SDK runs.wait(command={resume: {decision: approve}})", phase.resume_sdk),
            ("  POST /approvals/{id}/decide, then SDK runs.join", phase.resume_decide),
            ("  in-process Engine.resume(thread, 'approve')", phase.resume_engine),
        ]
        for label, series in rows:
            if series.values:
                print(
                    f"   {label:64s} {len(series.values):3d} {series.ms(50):8.1f}"
                    f" {series.ms(95):8.1f}"
                )
    for note in sorted({note for phase in phases for note in phase.notes}):
        print(f"   note: {note}")
    bad = sum(phase.counter.bad for phase in phases)
    if bad:
        print(f"\n   WARNING: {bad} run(s) returned an unexpected result")

    print("\nTargets:")
    for phase in phases:
        ratio = phase.service.rate / phase.engine.rate
        rounds = sorted(phase.round_ratios)
        print(
            f"  throughput service/in-process >= {TARGET_THROUGHPUT}  {phase.spec.label:26s}"
            f" {ratio:5.2f}  (rounds {rounds[0]:.2f}..{rounds[-1]:.2f})"
            f"  -> {verdict(ratio >= TARGET_THROUGHPUT)}"
        )
    for phase in phases:
        p50 = phase.stream.first.ms(50)
        print(
            f"  first SSE event p50 < {TARGET_FIRST_EVENT_MS:.0f} ms       {phase.spec.label:26s}"
            f" {p50:7.1f} ms  -> {verdict(p50 < TARGET_FIRST_EVENT_MS)}"
        )
    for phase in phases:
        for how, series in (("SDK", phase.resume_sdk), ("decide", phase.resume_decide)):
            if not series.values:
                continue
            p50 = series.ms(50)
            print(
                f"  resume p50 < {TARGET_RESUME_MS:.0f} ms ({how:6s})        "
                f"{phase.spec.label:26s} {p50:7.1f} ms  -> {verdict(p50 < TARGET_RESUME_MS)}"
            )


# ----------------------------------------------------------------------------- profile


SQL_COUNTER = """
import collections, json, os, signal, sys
import psycopg

counts = collections.Counter()
path = os.environ["BENCH_SQL_COUNTS"]


def label(query):
    text = query.as_string(None) if hasattr(query, "as_string") else query
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:90]


def wrap(name, rows):
    original = getattr(psycopg.AsyncCursor, name)

    async def counted(self, query, params=None, *args, **kwargs):
        if rows:
            params = list(params or [])
        counts[label(query)] += len(params) if rows else 1
        return await original(self, query, params, *args, **kwargs)

    setattr(psycopg.AsyncCursor, name, counted)


def dump(*_):
    with open(path, "w") as handle:
        json.dump(counts, handle)


wrap("execute", False)
wrap("executemany", True)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["graphwright", "serve"]
from graphwright.cli import main

main()
"""
"""Runs ``graphwright serve`` counting SQL statements by text (dumped on SIGUSR1)."""


@contextlib.contextmanager
def counting_sql() -> Iterator[dict[str, int]]:
    """Count statements sent through psycopg's AsyncCursor in this process, by text."""
    import psycopg

    counts: dict[str, int] = {}
    originals = {name: getattr(psycopg.AsyncCursor, name) for name in ("execute", "executemany")}

    def label(query: Any) -> str:
        text = query.as_string(None) if hasattr(query, "as_string") else query
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return " ".join(str(text).split())[:90]

    def wrap(name: str, rows: bool) -> Any:
        original = originals[name]

        async def counted(self: Any, query: Any, params: Any = None, *a: Any, **kw: Any) -> Any:
            if rows:
                params = list(params or [])  # it may be a generator: count a copy
            key = label(query)
            counts[key] = counts.get(key, 0) + (len(params) if rows else 1)
            return await original(self, query, params, *a, **kw)

        return counted

    psycopg.AsyncCursor.execute = wrap("execute", False)  # type: ignore[method-assign]
    psycopg.AsyncCursor.executemany = wrap("executemany", True)  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        psycopg.AsyncCursor.execute = originals["execute"]  # type: ignore[method-assign]
        psycopg.AsyncCursor.executemany = originals["executemany"]  # type: ignore[method-assign]


async def server_sql_counts(
    args: argparse.Namespace, env: dict[str, str], folder: Path, meter: CpuMeter, runs: int
) -> dict[str, int]:
    """Statements the server sends for ``runs`` runs.wait (after a warm-up), by text."""
    spec = args.profile_spec
    out = folder / "sql-counts.json"
    env = {**env, "BENCH_SQL_COUNTS": str(out)}
    server = start_server(env, spec, args.redis_url, folder, command=["-c", SQL_COUNTER])
    meter.server_pid = server.process.pid

    async def snapshot() -> dict[str, int]:
        out.unlink(missing_ok=True)
        server.process.send_signal(signal.SIGUSR1)
        for _ in range(200):
            await asyncio.sleep(0.02)
            if out.exists():
                with contextlib.suppress(ValueError):
                    return dict(json.loads(out.read_text()))
        raise SystemExit("the SQL-counting server did not write its counts")

    try:
        async with sdk_clients(server.url, args.concurrency) as clients:
            calls = [service_call(c) for c in clients]
            await closed_loop(calls, args.warmup, meter)
            await asyncio.sleep(0.5)  # let the last runs' trailing writes finish
            before = await snapshot()
            await closed_loop(calls, runs, meter)
            await asyncio.sleep(0.5)
            after = await snapshot()
    finally:
        server.stop()
        meter.server_pid = None
    return {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}


ProfileRows = dict[tuple[str, int, str], tuple[int, float]]
"""cProfile rows: (file, line, function) -> (calls, own seconds)."""

BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("graphwright", ("/src/graphwright/",)),
    ("bench nodes", ("/bench/_bench_nodes.py",)),
    ("langgraph, langchain_core", ("/langgraph/", "/langchain_core/")),
    ("psycopg, psycopg_pool", ("/psycopg/", "/psycopg_pool/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("fastapi, starlette", ("/fastapi/", "/starlette/")),
    ("uvicorn, h11, httptools", ("/uvicorn/", "/h11/", "/httptools/")),
    ("redis", ("/redis/",)),
    ("asyncio", ("/asyncio/",)),
    ("json (stdlib)", ("/json/",)),
    ("other packages", ("/site-packages/",)),
    ("other stdlib", ("/lib/python3",)),
]


def _idle(key: tuple[str, int, str]) -> bool:
    return "epoll" in key[2] or key[2] == "<method 'poll' of 'select.poll' objects>"


def _bucket(key: tuple[str, int, str]) -> str:
    for name, marks in BUCKETS:
        if any(mark in key[0] for mark in marks):
            return name
    return "C builtins" if key[0] == "~" else "other"


def profile_rows(stats: pstats.Stats) -> ProfileRows:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return {key: (int(v[1]), float(v[2])) for key, v in raw.items() if not _idle(key)}


def rows_minus(after: ProfileRows, before: ProfileRows) -> ProfileRows:
    """What happened between two profiles of one process (start-up cancels out)."""
    out: ProfileRows = {}
    for key, (calls, own) in after.items():
        calls0, own0 = before.get(key, (0, 0.0))
        if calls > calls0:
            out[key] = (calls - calls0, max(own - own0, 0.0))
    return out


def by_bucket(rows: ProfileRows) -> dict[str, float]:
    totals: dict[str, float] = {}
    for key, (_, own) in rows.items():
        totals[_bucket(key)] = totals.get(_bucket(key), 0.0) + own
    return totals


def _where(key: tuple[str, int, str]) -> str:
    path, line, name = key
    for mark in ("/src/", "/site-packages/", "/lib/python3.11/"):
        if mark in path:
            path = path.split(mark, 1)[1]
            break
    return f"{name}  ({path}:{line})" if path != "~" else name


async def server_profile(
    args: argparse.Namespace, env: dict[str, str], folder: Path, meter: CpuMeter, runs: int
) -> tuple[ProfileRows, Sample]:
    """Profile rows of a cProfile'd server: start-up, warm-up, then ``runs`` runs.wait x16."""
    spec = args.profile_spec
    prof = Path(args.profile_dir) / f"bench_service_{spec.bus}_w{spec.workers}_{runs}.prof"
    prof.unlink(missing_ok=True)
    server = start_server(env, spec, args.redis_url, folder, profile_to=prof)
    meter.server_pid = server.process.pid
    try:
        async with sdk_clients(server.url, args.concurrency) as clients:
            calls = [service_call(c) for c in clients]
            await closed_loop(calls, args.warmup, meter)
            sample = await closed_loop(calls, runs, meter) if runs else Sample()
    finally:
        # uvicorn re-raises the signal it caught once it has shut down: SIGINT becomes a
        # KeyboardInterrupt, which lets cProfile write its file (SIGTERM would not).
        server.stop(signal.SIGINT)
        meter.server_pid = None
    if not prof.exists():
        raise SystemExit(f"no profile written by the server:\n{server.log_tail()}")
    return profile_rows(pstats.Stats(str(prof))), sample


async def profile_phase(
    args: argparse.Namespace, engine: Engine, env: dict[str, str], folder: Path, meter: CpuMeter
) -> None:
    """Where the CPU goes per run: the server's event loop vs. the in-process Engine."""
    runs = args.profile_runs
    base, _ = await server_profile(args, env, folder, meter, 0)
    loaded, sample = await server_profile(args, env, folder, meter, runs)
    server_rows = rows_minus(loaded, base)
    profiler = cProfile.Profile()
    profiler.enable()
    await closed_loop([engine_call(engine) for _ in range(args.concurrency)], runs, meter)
    profiler.disable()
    engine_rows = profile_rows(pstats.Stats(profiler))
    spec = args.profile_spec
    print(
        f"\nProfile: cProfile own time per run (ms), event-loop thread, idle epoll wait left out;"
        f" {runs} runs x{args.concurrency} concurrent\n  server = graphwright serve ({spec.label})"
        f" under runs.wait, the profile of start-up + warm-up subtracted;\n  in-process ="
        f" Engine.run() in this process. cProfile inflates everything (server at"
        f" {sample.rate:.1f} runs/s here); read proportions."
    )
    server_b, engine_b = by_bucket(server_rows), by_bucket(engine_rows)
    names = sorted(set(server_b) | set(engine_b), key=lambda n: -server_b.get(n, 0.0))
    print(f"  {'package':30s} {'server':>8s} {'in-proc':>8s}")
    for name in names:
        print(
            f"  {name:30s} {server_b.get(name, 0.0) / runs * 1000:8.2f}"
            f" {engine_b.get(name, 0.0) / runs * 1000:8.2f}"
        )
    print(
        f"  {'total':30s} {sum(server_b.values()) / runs * 1000:8.2f}"
        f" {sum(engine_b.values()) / runs * 1000:8.2f}"
    )
    server_sql = await server_sql_counts(args, env, folder, meter, runs)
    with counting_sql() as engine_sql:
        await closed_loop([engine_call(engine) for _ in range(args.concurrency)], runs, meter)
    print(
        f"\n  SQL statements per run, by text (server: {sum(server_sql.values()) / runs:.1f},"
        f" in-process: {sum(engine_sql.values()) / runs:.1f}; executemany counted per row;"
        f" counted without cProfile)"
    )
    print(f"  {'server':>7s} {'in-proc':>7s}  statement")
    for text in sorted(
        set(server_sql) | set(engine_sql),
        key=lambda t: (-server_sql.get(t, 0), -engine_sql.get(t, 0)),
    ):
        print(
            f"  {server_sql.get(text, 0) / runs:7.2f} {engine_sql.get(text, 0) / runs:7.2f}  {text}"
        )
    for title, rows, only in (
        ("server: top functions by own time", server_rows, None),
        ("server: graphwright functions by own time", server_rows, "graphwright"),
        ("in-process: graphwright functions by own time", engine_rows, "graphwright"),
    ):
        picked = [
            (key, count, own)
            for key, (count, own) in rows.items()
            if only is None or _bucket(key) == only
        ]
        picked.sort(key=lambda item: -item[2])
        print(f"\n  {title} (calls/run, own ms/run):")
        for key, count, own in picked[: args.top]:
            print(f"  {count / runs:9.2f} {own / runs * 1000:8.3f}  {_where(key)[:150]}")


# ----------------------------------------------------------------------------- main


def environment_line() -> str:
    import importlib.metadata as md

    load = os.getloadavg()
    versions = ", ".join(
        f"{name} {md.version(name)}"
        for name in ("langgraph", "langgraph-sdk", "uvicorn", "psycopg")
    )
    import graphwright

    where = Path(graphwright.__file__).parent
    return (
        f"{os.cpu_count()} cores, load average {load[0]:.2f} at start; {versions};"
        f" graphwright from {where}"
    )


def print_log_tails(folder: Path) -> None:
    """Print the end of every server log in ``folder`` to stderr."""
    for log in sorted(folder.glob("*.log")):
        tail = log.read_text(errors="replace")[-4000:]
        print(f"--- {log.name} (tail) ---\n{tail}", file=sys.stderr)


def keep_logs(folder: Path, target: Path) -> None:
    for log in folder.glob("*.log"):
        (target / f"bench_service_{log.name}").write_bytes(log.read_bytes())


async def main(args: argparse.Namespace) -> None:
    print(f"bench_service: {environment_line()}", flush=True)
    started = time.perf_counter()
    async with scratch_database(args.database_url, keep=args.keep_db) as url:
        meter = CpuMeter(url.rsplit("/", 1)[1].split("?", 1)[0])
        env = base_env(url, args.server_env)
        with tempfile.TemporaryDirectory(prefix="gw_bench_service_") as tmp:
            folder = Path(tmp)
            publish(env, folder)
            settings = Settings(database_url=url, registry_modules=[str(NODES)])
            registry = load_registry_modules([str(NODES)])
            phases: list[Phase] = []
            async with Engine(settings, registry=registry) as engine:
                for spec in args.phase_specs:
                    try:
                        phases.append(await run_phase(args, spec, engine, env, folder, meter))
                    except BaseException:
                        print_log_tails(folder)  # why the server failed
                        raise
                report(args, phases)
                if args.profile:
                    await profile_phase(args, engine, env, folder, meter)
            if args.keep_logs:
                keep_logs(folder, Path(args.profile_dir))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--database-url", default=DEFAULT_URL, help=f"admin URL (default {DEFAULT_URL})")
    p.add_argument(
        "--redis-url",
        default=os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis of redis:N phases (default redis://127.0.0.1:6379/0)",
    )
    p.add_argument(
        "--phases",
        default="redis:16,redis:4",
        help="server configurations, BUS:GW_WORKERS with BUS redis or local (default "
        "redis:16,redis:4; local = GW_REDIS_URL unset, a diagnostic)",
    )
    p.add_argument("--runs", type=int, default=720, help="timed runs per variant and phase (720)")
    p.add_argument("--rounds", type=int, default=6, help="alternating rounds (default 6)")
    p.add_argument("--concurrency", type=int, default=16, help="concurrent clients (default 16)")
    p.add_argument("--warmup", type=int, default=48, help="warm-up runs per variant (default 48)")
    p.add_argument("--samples", type=int, default=40, help="one-at-a-time samples (default 40)")
    p.add_argument(
        "--budget", type=float, default=8.0, help="seconds per one-at-a-time series (default 8)"
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="GW_NAME=VALUE",
        help="extra environment of the server processes (repeatable; diagnostics)",
    )
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    p.add_argument(
        "--uvloop",
        action="store_true",
        help="run this process (the in-process Engine and the SDK clients) on uvloop, the loop "
        "`graphwright serve` gets from uvicorn; default: asyncio's own loop",
    )
    p.add_argument("--profile", action="store_true", help="add a cProfile'd server run")
    p.add_argument(
        "--profile-phase", default=None, help="server configuration to profile (default: first)"
    )
    p.add_argument("--profile-runs", type=int, default=400, help="runs.wait calls when profiling")
    p.add_argument("--profile-dir", default="/tmp", help="where .prof files (and logs) go")
    p.add_argument("--keep-logs", action="store_true", help="copy server logs to --profile-dir")
    p.add_argument("--top", type=int, default=25, help="rows per profile table (default 25)")
    args = p.parse_args(argv)
    specs = []
    for item in args.phases.split(","):
        bus, _, workers = item.strip().partition(":")  # e.g. redis:4
        if bus not in ("redis", "local") or not workers.isdigit() or int(workers) < 1:
            p.error(f"--phases item {item!r}: expected redis:N or local:N")
        specs.append(PhaseSpec(bus, int(workers)))
    args.phase_specs = specs
    args.profile_spec = specs[0]
    if args.profile_phase:
        bus, _, workers = args.profile_phase.partition(":")
        if bus not in ("redis", "local") or not workers.isdigit() or int(workers) < 1:
            p.error(f"--profile-phase {args.profile_phase!r}: expected redis:N or local:N")
        args.profile_spec = PhaseSpec(bus, int(workers))
    return args


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.uvloop:
        import uvloop

        uvloop.run(main(parsed))
    else:
        asyncio.run(main(parsed))
