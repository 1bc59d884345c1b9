"""Event delivery latency of SSE progress streams: node finished -> client receives.

One ``graphwright serve`` subprocess (Redis bus, ``GW_WORKERS`` = the largest
level + 8) on a scratch database. The workflow ``bench-ticks`` is one function
node ``tick`` in a loop (node code in ``bench/_stream_nodes.py``): each pass
sleeps ``seconds`` (``asyncio.sleep``), counts, and loops again until ``limit``
passes or the wall-clock deadline ``until``; so a run emits ``node.started`` /
``node.finished`` progress events at a steady pace for as long as asked.

Latency of one event = the time this process reads the bytes of its SSE frame
(``time.time()`` when the socket data arrives) minus the event's ``at`` (ISO
timestamp taken in the server's worker when the event is produced); both clocks
are this machine's wall clock. Only ``node.finished`` events whose ``at`` falls
in the measurement window count. Streams are ``GET
/threads/{tid}/runs/{rid}/stream?stream_mode=progress``, read with raw asyncio
protocols (uvloop, no HTTP library, frames only split and filtered by a byte
search while measuring; JSON is parsed afterwards) to keep the client's CPU low:
the client shares the 2 cores with the server, PostgreSQL and Redis.

Scenarios, for each level N of ``--levels``:

- ``per-run`` (one stream per run): N runs in flight, each followed by its own
  stream. The aggregate pace is held near ``--rate`` node.finished/s whatever N
  (node sleep = max(``--tick``, N / rate)), so the server's run work stays about
  the same and only the number of streams, runs and Redis channels grows. Runs
  start staggered over one node period and run past the window.
- ``fanout`` (N streams following the same run): one run ticking every
  ``--tick`` s, followed by N streams; every event is delivered N times.

With N = 1 both are the same (one run, one stream) and it is measured once.
A warm-up (fanout, 10 streams) comes first; then ``--rounds`` (2) rounds over all
levels, every other round in reverse order, ``--window`` (8) s each; the rounds
are pooled. Printed per level: samples, node.finished/s, frames/s delivered,
p50/p90/p99/max, a split of the latency at the event log insert
(``gw_run_events.created_at``, PostgreSQL ``now()`` of the insert: ``at`` ->
insert = the writer's queue and the pool; insert -> client = insert, Redis
publish, Redis reader, dispatch, SSE framing, sockets, client), the client's
event-loop lag, and CPU (% of one core) of this process, the server process, its
PostgreSQL backends, Redis and the rest of the machine (other people's work
competes for the same 2 cores), and the p99 of each round.
**Target: p99 < 50 ms at 200 streams.**

``--profile per-run:200`` (or ``fanout:200``) runs that level once more on a
fresh server whose event loop is profiled with cProfile during the window only,
and prints the top functions. Nothing asserts on timings.

Run: ``.venv/bin/python bench/bench_streams.py [--levels 1,50,200]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdb import DEFAULT_URL, percentile, scratch_database
from _procstat import machine_busy, proc_cpu, scan_procs

NODES = Path(__file__).resolve().parent / "_stream_nodes.py"
WORKFLOW = "bench-ticks"
TARGET_P99_MS = 50.0
TARGET_STREAMS = 200
FINISHED = b'"type":"node.finished"'

DOCUMENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": WORKFLOW,
    "state": {
        "n": {"type": "integer", "default": 0},
        "limit": {"type": "integer", "default": 5},
        "seconds": {"type": "number", "default": 0.05},
        "until": {"type": "number", "default": 0},
        "more": {"type": "boolean", "default": True},
    },
    "input": ["limit", "seconds", "until"],
    "output": ["n"],
    "nodes": {
        "tick": {
            "kind": "function",
            "ref": "bench.tick",
            "inputs": {
                "n": "state.n",
                "limit": "state.limit",
                "seconds": "state.seconds",
                "until": "state.until",
            },
        }
    },
    "edges": [
        {"from": "START", "to": "tick"},
        {"from": "tick", "cases": [{"when": "state.more", "to": "tick"}], "default": "END"},
    ],
    "limits": {"max_steps": 10_000},  # the DSL's ceiling; a run ticks a few hundred times
}

# Run inside the server subprocess for --profile: SIGUSR1 starts cProfile on the
# event-loop thread, SIGUSR2 stops it and writes the stats.
PROFILE_WRAPPER = """
import cProfile, signal, sys
out = sys.argv[1]
prof = cProfile.Profile()
def _on(*_): prof.enable()
def _off(*_):
    prof.disable()
    prof.dump_stats(out)
signal.signal(signal.SIGUSR1, _on)
signal.signal(signal.SIGUSR2, _off)
sys.argv = ["graphwright", "serve"]
from graphwright.cli import main
main()
"""


# ----------------------------------------------------------------------------- CPU


@dataclass
class Cpu:
    """CPU seconds of: this process, the server, the database's backends, Redis, the machine."""

    client: float
    server: float
    pg: dict[int, float]
    redis: dict[int, float]
    machine: float

    @classmethod
    def take(cls, dbname: str, server_pid: int) -> Cpu:
        pg, redis = scan_procs(dbname)
        return cls(
            client=time.process_time(),
            server=proc_cpu(server_pid),
            pg={pid: proc_cpu(pid) for pid in pg},
            redis={pid: proc_cpu(pid) for pid in redis},
            machine=machine_busy(),
        )

    def redis_restarted(self, after: Cpu) -> bool:
        """A different redis-server process than at the start (someone restarted Redis)."""
        return set(self.redis) != set(after.redis)

    def percent_until(self, after: Cpu, seconds: float) -> dict[str, float]:
        pg = sum(v - self.pg.get(pid, 0.0) for pid, v in after.pg.items())
        values = {
            "client": after.client - self.client,
            "server": after.server - self.server,
            "pg": pg,
            "redis": sum(v - self.redis.get(pid, 0.0) for pid, v in after.redis.items()),
        }
        # Everything else on the machine: other people's work, other databases...
        values["other"] = max(0.0, after.machine - self.machine - sum(values.values()))
        return {k: 100.0 * v / seconds for k, v in values.items()}


# ----------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def graphwright_script() -> str:
    return str(Path(sys.executable).parent / "graphwright")


def server_env(database_url: str, redis_url: str, workers: int, max_streams: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
    env.update(
        {
            "GW_DATABASE_URL": database_url,
            "GW_REDIS_URL": redis_url,
            "GW_REGISTRY_MODULES": str(NODES),
            "GW_WORKERS": str(workers),
            "GW_MAX_STREAMS": str(max_streams),
            "GW_DRAIN_SECONDS": "5",
        }
    )
    return env


def publish(env: dict[str, str], folder: Path) -> None:
    path = folder / f"{WORKFLOW}.json"
    path.write_text(json.dumps(DOCUMENT, indent=1))
    done = subprocess.run(
        [graphwright_script(), "publish", str(path)], env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"graphwright publish failed:\n{done.stderr.decode()[-4000:]}")


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_server(env: dict[str, str], folder: Path, *, profile_to: Path | None = None) -> Server:
    port = free_port()
    env = {**env, "GW_PORT": str(port)}
    argv = [graphwright_script(), "serve"]
    log = folder / "server.log"
    if profile_to is not None:
        argv = [sys.executable, "-c", PROFILE_WRAPPER, str(profile_to)]
        log = folder / "server-profile.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT)
    server = Server("127.0.0.1", port, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"graphwright serve exited early:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise SystemExit(f"graphwright serve did not answer within 60 s:\n{server.log_tail()}")


# ----------------------------------------------------------------------------- SSE client


class SseStream(asyncio.Protocol):
    """One ``GET ... /stream`` on its own connection, parsed with as little work as possible.

    Each read is stamped once (``time.time()``); the response is de-chunked and
    split into SSE frames; frames holding a ``node.finished`` event are kept as
    ``(receive time, frame bytes)`` in ``sink`` (parsed later). ``done`` resolves
    when the response ends or the connection closes.
    """

    def __init__(self, request: bytes, sink: list[tuple[float, bytes]]) -> None:
        self.request = request
        self.sink = sink
        self.frames = 0
        self.opened: float | None = None
        self.error: str | None = None
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._sse = bytearray()
        self._head = True
        self._need = 0  # bytes of the current chunk still to read, including its CRLF

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass: no isinstance check.
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self._buf
        buf += data
        if self._head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            del buf[: end + 4]
            self._head = False
            self.opened = now
            if not head.startswith(b"http/1.1 200") or b"transfer-encoding: chunked" not in head:
                self.error = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self._finish()
                return
        while True:
            if self._need == 0:
                nl = buf.find(b"\r\n")
                if nl < 0:
                    return
                size = int(bytes(buf[:nl]).split(b";", 1)[0], 16)
                del buf[: nl + 2]
                if size == 0:
                    self._finish()
                    return
                self._need = size + 2
            if len(buf) < self._need:
                return
            self._sse += buf[: self._need - 2]
            del buf[: self._need]
            self._need = 0
            sse = self._sse
            while True:
                end = sse.find(b"\n\n")
                if end < 0:
                    break
                frame = bytes(sse[:end])
                del sse[: end + 2]
                self.frames += 1
                if FINISHED in frame:
                    self.sink.append((now, frame))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head and self.error is None:
            self.error = f"connection lost before the response ({exc})"
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        self._finish()


async def open_stream(
    server: Server, thread_id: str, run_id: str, sink: list[tuple[float, bytes]]
) -> SseStream:
    path = f"/threads/{thread_id}/runs/{run_id}/stream?stream_mode=progress"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-store\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: SseStream(request, sink), server.host, server.port
    )
    return proto


async def create_run(
    http: httpx.AsyncClient, *, limit: int, seconds: float, until: float
) -> tuple[str, str]:
    thread_id = str(uuid.uuid4())
    response = await http.post(
        f"/threads/{thread_id}/runs",
        json={
            "assistant_id": WORKFLOW,
            "input": {"limit": limit, "seconds": seconds, "until": until},
            "stream_mode": ["progress"],
            "if_not_exists": "create",
        },
    )
    response.raise_for_status()
    return thread_id, str(response.json()["run_id"])


async def server_gauges(http: httpx.AsyncClient) -> dict[str, float]:
    """``graphwright_sse_streams_active`` and ``graphwright_worker_active_runs``."""
    text = (await http.get("/metrics")).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        for name in ("graphwright_sse_streams_active", "graphwright_worker_active_runs"):
            if line.startswith(name):
                out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


async def wait_idle(http: httpx.AsyncClient, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        gauges = await server_gauges(http)
        if not any(gauges.values()):
            return
        await asyncio.sleep(0.2)
    print(f"  (server not idle after {limit:.0f} s: {await server_gauges(http)})")


class LoopLag:
    """This process's event-loop lag: how late a 10 ms sleep wakes up."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.recording = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            if self.recording:
                self.values.append(time.perf_counter() - started - 0.01)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


# ----------------------------------------------------------------------------- one level


@dataclass
class Level:
    """What one scenario at one level measured."""

    label: str
    streams: int
    runs: int
    window: float
    latencies: list[float] = field(default_factory=list)  # ms
    to_log: list[float] = field(default_factory=list)  # ms: at -> log insert
    from_log: list[float] = field(default_factory=list)  # ms: log insert -> client
    events: int = 0  # distinct node.finished events in the window
    frames: int = 0  # SSE frames received by all streams during the window
    lag: list[float] = field(default_factory=list)  # ms
    cpu: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    node_seconds: float = 0.0
    per_round: list[tuple[float, float, float]] = field(default_factory=list)  # p50, p99, other%

    def merge(self, other: Level) -> None:
        """Pool another round of the same scenario into this one (CPU: averaged)."""
        if not self.per_round:
            self.per_round.append((self.p(50), self.p(99), self.cpu.get("other", 0.0)))
        self.per_round.append((other.p(50), other.p(99), other.cpu.get("other", 0.0)))
        total = self.window + other.window
        self.cpu = {
            k: (v * self.window + other.cpu.get(k, 0.0) * other.window) / total
            for k, v in self.cpu.items()
        }
        self.window = total
        self.latencies += other.latencies
        self.to_log += other.to_log
        self.from_log += other.from_log
        self.events += other.events
        self.frames += other.frames
        self.lag += other.lag
        self.gauges = other.gauges
        self.errors = sorted(set(self.errors) | set(other.errors))

    def p(self, q: float, values: list[float] | None = None) -> float:
        values = self.latencies if values is None else values
        return percentile(values, q) if values else float("nan")


@dataclass
class Scenario:
    mode: str  # "per-run" or "fanout"
    streams: int

    @property
    def label(self) -> str:
        if self.streams == 1:
            return "1 stream, 1 run"
        if self.mode == "per-run":
            return f"per-run: {self.streams} streams, {self.streams} runs"
        return f"fanout: {self.streams} streams, 1 run"


async def run_level(
    server: Server,
    http: httpx.AsyncClient,
    scenario: Scenario,
    args: argparse.Namespace,
    dbname: str,
    *,
    window: float,
    on_window: tuple[Any, Any] | None = None,
) -> Level:
    """Start the runs and streams of ``scenario``, measure ``window`` seconds, tear down."""
    n = scenario.streams
    per_run = scenario.mode == "per-run" and n > 1
    runs = n if per_run else 1
    seconds = max(args.tick, n / args.rate) if per_run else args.tick
    ramp = seconds if per_run else 0.0
    level = Level(scenario.label, n, runs, window, node_seconds=seconds)
    sink: list[tuple[float, bytes]] = []
    streams: list[SseStream] = []
    run_ids: list[str] = []
    # The window opens once every run and stream is up and has settled, and runs
    # end a second after it closes (their last events fall outside the window).
    started = time.time()
    t0 = started + ramp + args.settle + 0.5
    t1 = t0 + window
    until = t1 + 1.0

    async def lane(index: int) -> None:
        await asyncio.sleep(index * ramp / runs)
        thread_id, run_id = await create_run(http, limit=10**9, seconds=seconds, until=until)
        run_ids.append(run_id)
        for _ in range(n if not per_run else 1):
            streams.append(await open_stream(server, thread_id, run_id, sink))

    with LoopLag() as lag:
        await asyncio.gather(*(lane(i) for i in range(runs)))
        if time.time() > t0 - args.settle / 2:
            level.errors.append(f"set-up overran the settle time by {time.time() - t0:+.2f} s")
        await asyncio.sleep(max(0.0, t0 - time.time()))
        frames_before = sum(s.frames for s in streams)
        cpu_before = Cpu.take(dbname, server.process.pid)
        lag.recording = True
        if on_window is not None:
            on_window[0]()
        await asyncio.sleep(window / 2)
        level.gauges = await server_gauges(http)
        await asyncio.sleep(max(0.0, t1 - time.time()))
        if on_window is not None:
            on_window[1]()
        lag.recording = False
        cpu_after = Cpu.take(dbname, server.process.pid)
        level.frames = sum(s.frames for s in streams) - frames_before
        level.lag = [v * 1000 for v in lag.values]
    level.cpu = cpu_before.percent_until(cpu_after, window)
    if cpu_before.redis_restarted(cpu_after):
        level.errors.append("redis-server was restarted during the window (not by this benchmark)")
    # Runs stop at ``until``; their streams end after the run's last events.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*(s.done for s in streams)), timeout=max(5.0, seconds + 10.0)
        )
    for s in streams:
        if s.error:
            level.errors.append(s.error)
        s.close()
    level.errors = sorted(set(level.errors))
    await analyse(level, sink, t0, t1, run_ids, dbname, args.database_url_scratch)
    await wait_idle(http)
    return level


def _frame_fields(frame: bytes) -> tuple[dict[str, Any], int]:
    data: dict[str, Any] = {}
    seq = 0
    for line in frame.split(b"\n"):
        if line.startswith(b"data: "):
            data = json.loads(line[6:])
        elif line.startswith(b"id: "):
            seq = int(line[4:])
    return data, seq


async def analyse(
    level: Level,
    sink: list[tuple[float, bytes]],
    t0: float,
    t1: float,
    run_ids: list[str],
    dbname: str,
    database_url: str,
) -> None:
    """Latencies of the window's node.finished events, and the split at the log insert."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute(
            "select run_id, seq, extract(epoch from created_at)::float8 from gw_run_events"
            " where run_id = any(%s) and event = 'progress'",
            (run_ids,),
        )
        inserted = {(r, s): t for r, s, t in await cur.fetchall()}
    seen: set[tuple[str, int]] = set()
    for received, frame in sink:
        data, seq = _frame_fields(frame)
        at = datetime.fromisoformat(data["at"]).timestamp()
        if not t0 <= at <= t1:
            continue
        key = (str(data["run_id"]), seq)
        seen.add(key)
        level.latencies.append((received - at) * 1000)
        logged = inserted.get(key)
        if logged is not None:
            level.to_log.append((logged - at) * 1000)
            level.from_log.append((received - logged) * 1000)
    level.events = len(seen)


# ----------------------------------------------------------------------------- report


def print_levels(levels: list[Level]) -> None:
    print(
        f"  {'scenario':<36} {'samples':>7} {'nf/s':>6} {'frm/s':>6} | "
        f"{'p50':>6} {'p90':>6} {'p99':>6} {'max':>6} | "
        f"{'>log p50':>8} {'p99':>6} {'log> p50':>8} {'p99':>6} | "
        f"{'lag p99':>7} | {'client':>6} {'server':>6} {'pg':>5} {'redis':>5} {'other':>5}"
    )
    print("  " + "-" * 156)
    for lv in levels:
        print(
            f"  {lv.label:<36} {len(lv.latencies):>7} {lv.events / lv.window:>6.1f}"
            f" {lv.frames / lv.window:>6.0f} | "
            f"{lv.p(50):>6.1f} {lv.p(90):>6.1f} {lv.p(99):>6.1f} "
            f"{max(lv.latencies, default=float('nan')):>6.1f} | "
            f"{lv.p(50, lv.to_log):>8.1f} {lv.p(99, lv.to_log):>6.1f} "
            f"{lv.p(50, lv.from_log):>8.1f} {lv.p(99, lv.from_log):>6.1f} | "
            f"{lv.p(99, lv.lag):>7.1f} | "
            f"{lv.cpu.get('client', 0):>5.0f}% {lv.cpu.get('server', 0):>5.0f}% "
            f"{lv.cpu.get('pg', 0):>4.0f}% {lv.cpu.get('redis', 0):>4.0f}%"
            f" {lv.cpu.get('other', 0):>4.0f}%"
        )
    print()
    for lv in levels:
        streams = lv.gauges.get("graphwright_sse_streams_active", float("nan"))
        active = lv.gauges.get("graphwright_worker_active_runs", float("nan"))
        extra = f"; errors: {'; '.join(lv.errors)}" if lv.errors else ""
        rounds = ""
        if lv.per_round:
            rounds = "; p99 by round " + ", ".join(
                f"{p99:.1f} (other {other:.0f}%)" for _, p99, other in lv.per_round
            )
        print(
            f"  {lv.label}: node sleep {lv.node_seconds * 1000:.0f} ms; server mid-window:"
            f" {streams:.0f} streams open, {active:.0f} runs executing{rounds}{extra}"
        )


def verdicts(levels: list[Level]) -> None:
    print(f"\nTarget: p99 < {TARGET_P99_MS:.0f} ms at {TARGET_STREAMS} streams")
    found = False
    for lv in levels:
        if lv.streams != TARGET_STREAMS or not lv.latencies:
            continue
        found = True
        p99 = lv.p(99)
        verdict = "MEETS" if p99 < TARGET_P99_MS else "MISSES"
        rounds = ""
        if lv.per_round:
            rounds = "; by round " + ", ".join(f"{p:.1f}" for _, p, _ in lv.per_round)
        print(
            f"  {lv.label}: p99 {p99:.1f} ms -> {verdict}"
            f" (p50 {lv.p(50):.1f} ms; {len(lv.latencies)} samples{rounds})"
        )
    if not found:
        print(f"  (no level with {TARGET_STREAMS} streams was measured)")


def print_profile(path: Path, top: int) -> None:
    stats = pstats.Stats(str(path))
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    print(f"\n  busy time of the server's event-loop thread in the window: {total:.2f} s")
    print("  top functions by own time (tottime):")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in rows[:top]:
        where = _short(filename)
        print(f"    {tottime:7.3f} s {cumtime:8.3f} cum {ncalls:>8}  {name}  ({where}:{line})")
    print("  graphwright functions by cumulative time:")
    own = [
        kv
        for kv in stats.stats.items()  # type: ignore[attr-defined]
        if "/graphwright/" in kv[0][0]
    ]
    own.sort(key=lambda kv: kv[1][3], reverse=True)
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in own[:top]:
        where = _short(filename)
        print(f"    {cumtime:7.3f} s cum {tottime:7.3f} own {ncalls:>8}  {name}  ({where}:{line})")


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# ----------------------------------------------------------------------------- main


def scenarios(args: argparse.Namespace) -> Iterator[Scenario]:
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if 1 in levels:
        yield Scenario("per-run", 1)
    for mode in modes:
        for n in levels:
            if n != 1:
                yield Scenario(mode, n)


async def measure(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, keep=args.keep_db) as url:
        args.database_url_scratch = url
        dbname = urlsplit(url).path.lstrip("/")
        levels = [int(x) for x in args.levels.split(",") if x.strip()]
        workers = max(levels) + 8
        env = server_env(url, args.redis_url, workers, max(1000, 2 * max(levels)))
        with tempfile.TemporaryDirectory(prefix="gw-bench-streams-") as tmp:
            folder = Path(tmp)
            publish(env, folder)
            server = start_server(env, folder)
            print(
                f"graphwright serve: pid {server.process.pid}, GW_WORKERS={workers}, Redis bus"
                f" ({args.redis_url}); {os.cpu_count()} CPUs, load average"
                f" {os.getloadavg()[0]:.2f} at start"
            )
            print(
                f"per-run: aggregate pace ~{args.rate:g} node.finished/s (node sleep ="
                f" max({args.tick * 1000:.0f} ms, N / {args.rate:g} s)); fanout: one run,"
                f" node sleep {args.tick * 1000:.0f} ms; window {args.window:g} s per level\n"
            )
            results: list[Level] = []
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                    warm = await run_level(
                        server, http, Scenario("fanout", 10), args, dbname, window=args.warmup
                    )
                    print(
                        f"warm-up (fanout, 10 streams, {args.warmup:g} s, not counted):"
                        f" {len(warm.latencies)} samples, p50 {warm.p(50):.1f} ms"
                    )
                    order = list(scenarios(args))
                    pooled: dict[str, Level] = {}
                    for index in range(args.rounds):
                        # Every other round runs the levels in reverse order, so a
                        # drift (or a neighbour's load) does not hit one level only.
                        for scenario in order if index % 2 == 0 else order[::-1]:
                            level = await run_level(
                                server, http, scenario, args, dbname, window=args.window
                            )
                            print(
                                f"  round {index + 1}, {level.label}: p50 {level.p(50):.1f} ms,"
                                f" p99 {level.p(99):.1f} ms ({len(level.latencies)} samples;"
                                f" rest of the machine {level.cpu.get('other', 0):.0f}% CPU)",
                                flush=True,
                            )
                            if scenario.label in pooled:
                                pooled[scenario.label].merge(level)
                            else:
                                pooled[scenario.label] = level
                    results = [pooled[s.label] for s in order]
            finally:
                server.stop()
            print(
                f"\nnode finished -> SSE frame received (ms); {args.rounds} round(s) of"
                f" {args.window:g} s per level, pooled:"
            )
            print_levels(results)
            print(
                "\n  nf/s = node.finished events per second produced in the window (distinct);"
                " frm/s = SSE frames received\n  per second by all streams; >log = at -> the"
                " event-log insert (created_at); log> = insert -> received;\n  lag p99 ="
                " this client's event-loop lag; CPU = % of one core over the window (2 cores"
                " = 200%);\n  other = the rest of the machine (processes not part of this"
                " benchmark)."
            )
            print(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            verdicts(results)
            if args.profile:
                await profile(args, env, folder, dbname)


async def profile(args: argparse.Namespace, env: dict[str, str], folder: Path, dbname: str) -> None:
    mode, _, count = args.profile.partition(":")
    scenario = Scenario(mode, int(count or TARGET_STREAMS))
    out = folder / "server.prof"
    server = start_server(env, folder, profile_to=out)
    pid = server.process.pid
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            await run_level(server, http, Scenario("fanout", 10), args, dbname, window=2.0)
            level = await run_level(
                server,
                http,
                scenario,
                args,
                dbname,
                window=args.window,
                on_window=(
                    lambda: os.kill(pid, signal.SIGUSR1),
                    lambda: os.kill(pid, signal.SIGUSR2),
                ),
            )
    finally:
        server.stop()
    print(
        f"\ncProfile of the server during {scenario.label} ({args.window:g} s window; the"
        f" profiler slows the server: p50 {level.p(50):.1f} ms, p99 {level.p(99):.1f} ms here)"
    )
    for _ in range(50):
        if out.exists():
            break
        await asyncio.sleep(0.1)
    if out.exists():
        print_profile(out, args.profile_top)
    else:
        print("  (no profile written)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument(
        "--redis-url", default=os.environ.get("GW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--levels", default="1,50,200", help="stream counts (default 1,50,200)")
    parser.add_argument("--modes", default="per-run,fanout", help="per-run and/or fanout")
    parser.add_argument(
        "--window", type=float, default=8.0, help="seconds measured per level and round"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all levels")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up window (s)")
    parser.add_argument("--settle", type=float, default=1.5, help="s between set-up and window")
    parser.add_argument("--tick", type=float, default=0.05, help="shortest node sleep (s)")
    parser.add_argument(
        "--rate", type=float, default=40.0, help="per-run aggregate node.finished/s"
    )
    parser.add_argument(
        "--profile", default="", help="also profile one level, e.g. per-run:200 or fanout:200"
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(measure(args))
    else:
        uvloop.run(measure(args))


if __name__ == "__main__":
    main()
