"""graphwright's per-run overhead over a hand-written LangGraph graph, side by side.

One threat-triage-like workflow, built twice:

* **graphwright** - a JSON document compiled with ``compile_workflow`` (typed
  Pydantic state, validated updates, CEL condition);
* **handwritten** - the same graph in plain LangGraph (TypedDict state,
  ``operator.add`` reducer, a Python condition).

Shape: intake -> (malware | network | reputation, async, no latency) -> join ->
score -> ``state.score >= 7`` ? respond : monitor -> END. Half of the inputs take
each branch.

Variants timed in the same process, interleaved in alternating rounds:

* ``A  graphwright``  compiled graph + AsyncPostgresSaver, ``ainvoke(durability="sync")``
* ``A0 lean input``    diagnostic: A, but the input leaves out the fields
                      ``make_input`` only sets to an empty default (fewer writes)
* ``A1 engine calls``  the compiled graph driven the way the Engine drives it
                      (``astream`` with tasks/custom modes and subgraphs, then
                      ``aget_state``) but without graphwright's own tables
* ``A2 engine``       ``Engine.run()`` (adds workflow lookup, thread row, claim/lease)
* ``B  handwritten``  plain LangGraph + the same savers, same durability

and, to see the CPU cost without the database, the same A/B pair on
``InMemorySaver``. Nothing here asserts on timings; it prints numbers and ratios.

Run: ``.venv/bin/python bench/bench_overhead.py [--runs 200] [--concurrency 8] [--profile]``
(``--help`` lists every option).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import hashlib
import operator
import os
import pstats
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdb import DEFAULT_URL, median, percentile, scratch_database

from graphwright.graphs.compiler import CompiledWorkflow, compile_workflow
from graphwright.nodes.context import RunContext
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings

TARGET_RATIO = 1.05
WORKFLOW_ID = "bench-triage"

# --------------------------------------------------------------------------- node logic
# The same plain-Python logic backs both variants; only the wrappers differ.

MALWARE = {"mimikatz": 5, "cobaltstrike": 5, "emotet": 4}
PORTS = {4444: 3, 6667: 3, 23: 2, 3389: 2}
BAD_PREFIXES = {"203.0.113.": 4, "198.51.100.": 2}


def intake_logic(target: str, indicators: Sequence[str]) -> dict[str, Any]:
    ordered = sorted({i.strip().lower() for i in indicators})
    digest = hashlib.sha256("\n".join([target, *ordered]).encode()).hexdigest()
    return {"indicators": ordered, "case_id": f"case-{digest[:10]}"}


def analyse_logic(analyzer: str, kind: str, indicators: Sequence[str]) -> dict[str, Any]:
    scores: dict[str, int] = {}
    for indicator in indicators:
        prefix, _, value = indicator.partition(":")
        if prefix != kind:
            continue
        if kind == "file":
            points = max((s for n, s in MALWARE.items() if n in value), default=0)
        elif kind == "port":
            points = PORTS.get(int(value), 0) if value.isdigit() else 0
        else:
            points = max((s for p, s in BAD_PREFIXES.items() if value.startswith(p)), default=0)
        if points:
            scores[value] = points
    return {"analyzer": analyzer, "score": min(5, sum(scores.values())), "matches": sorted(scores)}


def score_logic(analyses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    total = min(10, sum(int(a["score"]) for a in analyses))
    severity = (
        "critical" if total >= 9 else "high" if total >= 7 else "medium" if total >= 4 else "low"
    )
    return {"score": total, "severity": severity}


def respond_logic(case_id: str, target: str, score: int) -> dict[str, Any]:
    return {"incident": {"id": f"inc-{case_id[5:]}", "target": target, "p": 1 if score >= 9 else 2}}


def monitor_logic(case_id: str, target: str, score: int) -> dict[str, Any]:
    return {"watch": {"case_id": case_id, "target": target, "hours": 6 if score >= 4 else 24}}


INPUTS: tuple[dict[str, Any], ...] = (
    # score 10 -> respond
    {"target": "web-01", "indicators": ["file:mimikatz.exe", "port:4444", "ip:203.0.113.7"]},
    # score 2 -> monitor
    {"target": "db-02", "indicators": ["file:notes.txt", "port:3389", "ip:10.0.0.1"]},
)

# --------------------------------------------------------------------------- A: graphwright

DOCUMENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": WORKFLOW_ID,
    "title": "Benchmark: threat triage without latency",
    "state": {
        "target": {"type": "string"},
        "indicators": {"type": "array", "items": {"type": "string"}, "default": []},
        "case_id": {"type": "string", "nullable": True},
        "analyses": {
            "type": "array",
            "items": {"type": "object"},
            "reducer": "append",
            "default": [],
        },
        "score": {"type": "integer", "nullable": True},
        "severity": {
            "type": "string",
            "enum": ["low", "medium", "high", "critical"],
            "nullable": True,
        },
        "incident": {"type": "object", "nullable": True},
        "watch": {"type": "object", "nullable": True},
    },
    "input": ["target", "indicators"],
    "output": ["case_id", "analyses", "score", "severity", "incident", "watch"],
    "nodes": {
        "intake": {"kind": "function", "ref": "bench.intake"},
        "malware": {"kind": "function", "ref": "bench.scan_malware", "writes": "analyses"},
        "network": {"kind": "function", "ref": "bench.scan_network", "writes": "analyses"},
        "reputation": {"kind": "function", "ref": "bench.check_reputation", "writes": "analyses"},
        "score": {"kind": "function", "ref": "bench.score"},
        "respond": {"kind": "function", "ref": "bench.respond"},
        "monitor": {"kind": "function", "ref": "bench.monitor"},
    },
    "edges": [
        {"from": "START", "to": "intake"},
        {"from": "intake", "to": ["malware", "network", "reputation"]},
        {"from": ["malware", "network", "reputation"], "to": "score"},
        {
            "from": "score",
            "cases": [{"when": "state.score >= 7", "to": "respond"}],
            "default": "monitor",
        },
        {"from": "respond", "to": "END"},
        {"from": "monitor", "to": "END"},
    ],
    "limits": {"max_steps": 25},
}


def make_registry() -> Registry:
    registry = Registry()

    # intake/score/respond/monitor are sync (run in a worker thread by both
    # variants), the analyzers async, as in the threat-triage example.
    @registry.function("bench.intake")
    def gw_intake(state: Any) -> dict[str, Any]:
        return intake_logic(state.target, state.indicators)

    @registry.function("bench.scan_malware")
    async def gw_malware(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return analyse_logic("malware", "file", state.indicators)

    @registry.function("bench.scan_network")
    async def gw_network(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return analyse_logic("network", "port", state.indicators)

    @registry.function("bench.check_reputation")
    async def gw_reputation(state: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return analyse_logic("reputation", "ip", state.indicators)

    @registry.function("bench.score")
    def gw_score(state: Any) -> dict[str, Any]:
        return score_logic(state.analyses)

    @registry.function("bench.respond")
    def gw_respond(state: Any) -> dict[str, Any]:
        return respond_logic(state.case_id, state.target, state.score)

    @registry.function("bench.monitor")
    def gw_monitor(state: Any) -> dict[str, Any]:
        return monitor_logic(state.case_id, state.target, state.score)

    return registry


# --------------------------------------------------------------------------- B: handwritten


class TriageState(TypedDict, total=False):
    target: str
    indicators: list[str]
    case_id: str | None
    analyses: Annotated[list[dict[str, Any]], operator.add]
    score: int | None
    severity: str | None
    incident: dict[str, Any] | None
    watch: dict[str, Any] | None


def lg_intake(state: TriageState) -> dict[str, Any]:
    return intake_logic(state["target"], state["indicators"])


async def lg_malware(state: TriageState) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"analyses": [analyse_logic("malware", "file", state["indicators"])]}


async def lg_network(state: TriageState) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"analyses": [analyse_logic("network", "port", state["indicators"])]}


async def lg_reputation(state: TriageState) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"analyses": [analyse_logic("reputation", "ip", state["indicators"])]}


def lg_score(state: TriageState) -> dict[str, Any]:
    return score_logic(state["analyses"])


def lg_respond(state: TriageState) -> dict[str, Any]:
    return respond_logic(state["case_id"], state["target"], state["score"])


def lg_monitor(state: TriageState) -> dict[str, Any]:
    return monitor_logic(state["case_id"], state["target"], state["score"])


def lg_route(state: TriageState) -> str:
    return "respond" if state["score"] >= 7 else "monitor"


def handwritten_builder() -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(TriageState)
    builder.add_node("intake", lg_intake)
    builder.add_node("malware", lg_malware)
    builder.add_node("network", lg_network)
    builder.add_node("reputation", lg_reputation)
    builder.add_node("score", lg_score)
    builder.add_node("respond", lg_respond)
    builder.add_node("monitor", lg_monitor)
    builder.add_edge(START, "intake")
    for analyzer in ("malware", "network", "reputation"):
        builder.add_edge("intake", analyzer)
    builder.add_edge(["malware", "network", "reputation"], "score")
    builder.add_conditional_edges("score", lg_route, ["respond", "monitor"])
    builder.add_edge("respond", END)
    builder.add_edge("monitor", END)
    return builder


# --------------------------------------------------------------------------- measuring

RunFn = Callable[[int], Awaitable[dict[str, Any]]]
OUTPUT_KEYS = ("case_id", "analyses", "score", "severity", "incident", "watch")


@dataclass
class Variant:
    key: str
    label: str
    run: RunFn
    latencies: list[float] = field(default_factory=list)
    rounds: list[tuple[int, float, float]] = field(default_factory=list)  # (runs, wall, cpu)

    @property
    def runs(self) -> int:
        return sum(r[0] for r in self.rounds)

    @property
    def wall(self) -> float:
        return sum(r[1] for r in self.rounds)

    @property
    def cpu(self) -> float:
        return sum(r[2] for r in self.rounds)

    @property
    def throughput(self) -> float:
        return self.runs / self.wall if self.wall else 0.0


async def run_batch(
    variant: Variant, start: int, count: int, concurrency: int
) -> tuple[float, float, list[float]]:
    """Run ``count`` runs with ``concurrency`` in flight; return (wall s, cpu s, latencies)."""
    indices = iter(range(start, start + count))
    latencies: list[float] = []

    async def worker() -> None:
        for i in indices:
            t0 = time.perf_counter()
            await variant.run(i)
            latencies.append(time.perf_counter() - t0)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, time.process_time() - cpu0, latencies


_counter = 10_000  # run indices: even/odd picks the input, so branches stay balanced


async def measure(
    variants: list[Variant], *, runs: int, concurrency: int, rounds: int, warmup: int
) -> None:
    """Warm up each variant, then alternate them in ``rounds`` rounds of equal size."""
    global _counter
    for v in variants:
        await run_batch(v, 0, warmup, concurrency)
    per_round = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    for r, count in enumerate(per_round):
        # rotate (and every other round reverse) the order: nobody always goes first
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        if r % 2:
            order = order[::-1]
        for v in order:
            wall, cpu, lat = await run_batch(v, _counter, count, concurrency)
            _counter += count + (count % 2)
            v.rounds.append((count, wall, cpu))
            v.latencies.extend(lat)


def round_ratios(v: Variant, base: Variant) -> list[float]:
    """Per-round time-per-run ratios (rounds are interleaved, so drift mostly cancels)."""
    return [
        (w / n) / (bw / bn) for (n, w, _), (bn, bw, _) in zip(v.rounds, base.rounds, strict=True)
    ]


def best_cpu(v: Variant) -> float:
    """Lowest CPU seconds per run of any round: the least disturbed by other processes."""
    return min(cpu / n for n, _, cpu in v.rounds)


def print_table(title: str, variants: list[Variant], base: Variant) -> None:
    print(f"\n{title}")
    head = (
        f"  {'variant':<40}{'runs/s':>7}{'p50 ms':>7}{'p95 ms':>7}{'cpu ms':>7}{'best':>6}"
        f" | {'time/run':>8}{'rnd med':>8}{'p50':>6}{'cpu':>6}{'best':>6}"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))
    b_p50 = median(base.latencies)
    for v in variants:
        p50, p95 = median(v.latencies), percentile(v.latencies, 95)
        inv = base.throughput / v.throughput if v.throughput else float("nan")
        per_round = median(round_ratios(v, base))
        cpu_ratio = (v.cpu / v.runs) / (base.cpu / base.runs)
        best_ratio = best_cpu(v) / best_cpu(base)
        print(
            f"  {v.label:<40}{v.throughput:>7.1f}{p50 * 1e3:>7.1f}{p95 * 1e3:>7.1f}"
            f"{v.cpu / v.runs * 1e3:>7.2f}{best_cpu(v) * 1e3:>6.2f} | {inv:>8.3f}"
            f"{per_round:>8.3f}{p50 / b_p50:>6.3f}{cpu_ratio:>6.3f}{best_ratio:>6.3f}"
        )


def verdict(v: Variant, base: Variant) -> str:
    inv = base.throughput / v.throughput
    p50 = median(v.latencies) / median(base.latencies)
    rr = round_ratios(v, base)
    ok = inv <= TARGET_RATIO and p50 <= TARGET_RATIO
    return (
        f"  {v.label.strip()}: time/run {inv:.3f} (per round {min(rr):.3f}..{max(rr):.3f}), "
        f"p50 {p50:.3f} -> {'MEETS' if ok else 'MISSES'} <= {TARGET_RATIO:.2f} "
        f"(overhead {100 * (max(inv, p50) - 1):+.1f}%)"
    )


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


# --------------------------------------------------------------------------- DB statement counts


@contextlib.contextmanager
def count_db_calls() -> Iterator[dict[str, int]]:
    """Count statements sent (execute calls + executemany rows) and pool checkouts."""
    counts = {"statements": 0, "checkouts": 0}
    orig_execute, orig_many = AsyncCursor.execute, AsyncCursor.executemany
    orig_getconn = AsyncConnectionPool.getconn

    async def execute(self: Any, *a: Any, **k: Any) -> Any:
        counts["statements"] += 1
        return await orig_execute(self, *a, **k)

    async def executemany(self: Any, query: Any, params_seq: Any, **k: Any) -> Any:
        params = list(params_seq)
        counts["statements"] += len(params)
        return await orig_many(self, query, params, **k)

    async def getconn(self: Any, *a: Any, **k: Any) -> Any:
        counts["checkouts"] += 1
        return await orig_getconn(self, *a, **k)

    AsyncCursor.execute, AsyncCursor.executemany = execute, executemany  # type: ignore[method-assign]
    AsyncConnectionPool.getconn = getconn  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        AsyncCursor.execute, AsyncCursor.executemany = orig_execute, orig_many  # type: ignore[method-assign]
        AsyncConnectionPool.getconn = orig_getconn  # type: ignore[method-assign]


async def db_calls_per_run(variants: list[Variant], runs: int = 20) -> None:
    print("\nDatabase work per run (counted outside the timed rounds, concurrency 1):")
    for v in variants:
        with count_db_calls() as counts:
            await run_batch(v, 90_000, runs, 1)
        print(
            f"  {v.label:<40} {counts['statements'] / runs:5.1f} statements, "
            f"{counts['checkouts'] / runs:4.1f} pool checkouts"
        )


# --------------------------------------------------------------------------- profiling

Stats = dict[tuple[str, int, str], tuple[int, float, float]]


def _idle(key: tuple[str, int, str]) -> bool:
    return "epoll" in key[2] or key[2] == "<method 'poll' of 'select.poll' objects>"


def short(key: tuple[str, int, str]) -> str:
    file, line, func = key
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file}:{line})" if line else func


async def profile_variant(
    v: Variant, runs: int, concurrency: int, out_dir: Path, top: int
) -> Stats:
    # Default (wall-clock) timer: a Python-level timer such as time.thread_time costs
    # more than the functions it measures. Profiling runs one at a time, so the only
    # waiting is idle time in epoll, which the totals and differences leave out.
    prof = cProfile.Profile()
    prof.enable()
    await run_batch(v, 50_000, runs, concurrency)
    prof.disable()
    path = out_dir / f"gw_bench_{v.key}.prof"
    prof.dump_stats(path)
    raw = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    stats: Stats = {k: (val[1], val[2], val[3]) for k, val in raw.items()}
    total = sum(t for k, (_, t, _) in stats.items() if not _idle(k))
    print(
        f"\n  [{v.label.strip()}] {runs} runs: {total / runs * 1e3:.2f} ms/run busy in the "
        f"event-loop thread (idle epoll wait excluded); saved {path}"
    )
    ranked = sorted(
        ((k, x) for k, x in stats.items() if not _idle(k)), key=lambda kv: kv[1][1], reverse=True
    )[:top]
    print(f"    {'tottime ms/run':>14} {'calls/run':>10}  function")
    for key, (calls, tt, _) in ranked:
        print(f"    {tt / runs * 1e3:>14.3f} {calls / runs:>10.1f}  {short(key)}")
    return stats


def print_diff(a: Variant, sa: Stats, b: Variant, sb: Stats, runs: int, top: int) -> None:
    diff = []
    for key in set(sa) | set(sb):
        if _idle(key):
            continue
        ca, ta, _ = sa.get(key, (0, 0.0, 0.0))
        cb, tb, _ = sb.get(key, (0, 0.0, 0.0))
        diff.append((ta - tb, ca - cb, key))
    diff.sort(reverse=True)
    tot = sum(d for d, _, _ in diff)
    print(
        f"\n  {a.label.strip()} minus {b.label.strip()}: {tot / runs * 1e3:+.3f} ms/run busy "
        "time (event-loop thread); largest increases:"
    )
    print(f"    {'extra ms/run':>12} {'extra calls/run':>16}  function")
    for dt, dc, key in diff[:top]:
        print(f"    {dt / runs * 1e3:>12.3f} {dc / runs:>16.1f}  {short(key)}")


def print_own(v: Variant, stats: Stats, runs: int, top: int) -> None:
    own = [(ct, c, tt, k) for k, (c, tt, ct) in stats.items() if "/graphwright/" in k[0]]
    own.sort(reverse=True)
    total_tt = sum(tt for _, _, tt, _ in own)
    print(
        f"\n  graphwright's own functions in {v.label.strip()}: {total_tt / runs * 1e3:.3f} ms/run "
        "own time in total; by cumulative time (includes awaited I/O):"
    )
    print(f"    {'cumtime ms/run':>14} {'tottime ms/run':>14} {'calls/run':>10}  function")
    for ct, c, tt, key in own[:top]:
        print(
            f"    {ct / runs * 1e3:>14.3f} {tt / runs * 1e3:>14.3f} {c / runs:>10.1f}  {short(key)}"
        )


# --------------------------------------------------------------------------- main


def outputs_of(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in OUTPUT_KEYS}


def fresh_config() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


async def main(args: argparse.Namespace) -> None:
    registry = make_registry()
    cw: CompiledWorkflow = compile_workflow(DOCUMENT, registry=registry)
    hand = handwritten_builder()
    print(
        f"bench_overhead: {args.runs} timed runs per variant, concurrency {args.concurrency}, "
        f"{args.rounds} interleaved rounds, warm-up {args.warmup} runs/variant, "
        f"{args.savers} AsyncPostgresSaver(s), pool {args.pool_size}, durability=sync; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {loadavg()}"
    )

    # ---- without a database: the framework's CPU cost alone
    mem_a_graph = cw.graph(InMemorySaver())
    mem_b_graph = hand.compile(checkpointer=InMemorySaver())

    async def mem_a(i: int) -> dict[str, Any]:
        return await mem_a_graph.ainvoke(
            cw.make_input(INPUTS[i % 2]), fresh_config(), context=RunContext(), durability="sync"
        )

    async def mem_b(i: int) -> dict[str, Any]:
        return await mem_b_graph.ainvoke(dict(INPUTS[i % 2]), fresh_config(), durability="sync")

    async with scratch_database(args.database_url, keep=args.keep_db) as url:
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=args.pool_size,
            max_size=args.pool_size,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
        )
        await pool.open(wait=True)
        settings = Settings(
            database_url=url,
            tenant="bench" + os.urandom(4).hex(),
            checkpointers=args.savers,
            pool_min_size=args.pool_size,
            pool_max_size=args.pool_size,
            durability="sync",
        )
        try:
            serde = JsonPlusSerializer(allowed_msgpack_modules=None)  # strict, as the Engine
            savers = [AsyncPostgresSaver(pool, serde=serde) for _ in range(args.savers)]  # type: ignore[arg-type]
            await savers[0].setup()
            graphs_a = [cw.graph(s) for s in savers]
            graphs_b = [hand.compile(checkpointer=s) for s in savers]

            async def run_a(i: int) -> dict[str, Any]:
                return await graphs_a[i % len(graphs_a)].ainvoke(
                    cw.make_input(INPUTS[i % 2]),
                    fresh_config(),
                    context=RunContext(),
                    durability="sync",
                )

            def lean_input(i: int) -> dict[str, Any]:
                # make_input minus the fields it only sets to their empty default (None, an
                # Overwrite of []); LangGraph's state model fills those in when nodes read.
                full = cw.make_input(INPUTS[i % 2])
                return {
                    k: v
                    for k, v in full.items()
                    if v is not None and not (isinstance(v, Overwrite) and v.value == [])
                }

            async def run_a0(i: int) -> dict[str, Any]:
                return await graphs_a[i % len(graphs_a)].ainvoke(
                    lean_input(i), fresh_config(), context=RunContext(), durability="sync"
                )

            async def run_a1(i: int) -> dict[str, Any]:
                # What Engine.run asks of LangGraph, without graphwright's own tables:
                # astream(tasks+custom, subgraphs) and a final aget_state.
                graph = graphs_a[i % len(graphs_a)]
                config = fresh_config()
                config["configurable"]["run_id"] = str(uuid.uuid4())
                config["recursion_limit"] = cw.spec.limits.max_steps
                async for _ in graph.astream(
                    cw.make_input(INPUTS[i % 2]),
                    config,
                    context=RunContext(),
                    stream_mode=["tasks", "custom"],
                    subgraphs=True,
                    durability="sync",
                ):
                    pass
                return (await graph.aget_state(config)).values  # type: ignore[no-any-return]

            async def run_b(i: int) -> dict[str, Any]:
                return await graphs_b[i % len(graphs_b)].ainvoke(
                    dict(INPUTS[i % 2]), fresh_config(), durability="sync"
                )

            async with Engine(settings, registry=registry) as engine:
                await engine.publish(DOCUMENT)

                async def run_a2(i: int) -> dict[str, Any]:
                    result = await engine.run(WORKFLOW_ID, INPUTS[i % 2])
                    if result.status != "completed":
                        raise RuntimeError(f"engine run ended {result.status}: {result.error}")
                    return result.output

                for i in range(2):  # every path computes the same result (both branches)
                    outs = [
                        outputs_of(await f(i))
                        for f in (mem_a, mem_b, run_a, run_a0, run_a1, run_a2, run_b)
                    ]
                    if any(o != outs[0] for o in outs):
                        raise SystemExit(f"variants disagree on input {i}: {outs}")

                a = Variant("A", "A  graphwright: compiled graph, ainvoke", run_a)
                a0 = Variant("A0", "A0 = A, input without empty defaults", run_a0)
                a1 = Variant("A1", "A1 = A, driven like the Engine", run_a1)
                a2 = Variant("A2", "A2 graphwright Engine.run()", run_a2)
                b = Variant("B", "B  handwritten LangGraph, ainvoke", run_b)
                ma = Variant("Amem", "A  graphwright, InMemorySaver", mem_a)
                mb = Variant("Bmem", "B  handwritten, InMemorySaver", mem_b)
                pg_variants = [a, a0, a1, a2, b] if args.decompose else [a, a2, b]

                t0 = time.perf_counter()
                await measure(
                    pg_variants,
                    runs=args.runs,
                    concurrency=args.concurrency,
                    rounds=args.rounds,
                    warmup=args.warmup,
                )
                await measure(
                    [ma, mb],
                    runs=args.runs,
                    concurrency=args.concurrency,
                    rounds=args.rounds,
                    warmup=args.warmup,
                )
                elapsed = time.perf_counter() - t0

                print_table(
                    "PostgreSQL (AsyncPostgresSaver, durability=sync) - ratios vs B:",
                    pg_variants,
                    b,
                )
                print_table(
                    "InMemorySaver (framework CPU, no database) - ratios vs B:", [ma, mb], mb
                )
                print(
                    "\n  cpu ms = this process's CPU time per run, all threads (PostgreSQL's "
                    "own CPU not included); best = the lowest per-round value. Ratios vs B: "
                    "time/run = B's throughput / the variant's, over all rounds; rnd med = median "
                    "of the per-round time/run ratios; p50 = p50 latency; cpu, best = cpu ms."
                )
                print(
                    f"\nTarget: graphwright / handwritten <= {TARGET_RATIO:.2f} "
                    "(time per run and p50 latency)"
                )
                for v, base in ((a, b), (a2, b), (ma, mb)):
                    print(verdict(v, base))
                print(f"(timed part took {elapsed:.1f} s; load average now {loadavg()})")

                await db_calls_per_run(pg_variants)

                if args.profile:
                    print(
                        "\ncProfile: one variant at a time, one run at a time, event-loop "
                        "thread only (sync node functions run in worker threads and are not "
                        f"seen), {args.profile_runs} runs each. Times are per run."
                    )
                    out_dir = Path(args.profile_dir)
                    os.makedirs(out_dir, exist_ok=True)
                    n, top = args.profile_runs, args.top
                    stats = {}
                    for v in (ma, mb, a, b, a2):
                        stats[v.key] = await profile_variant(v, n, 1, out_dir, top)
                    print_diff(ma, stats["Amem"], mb, stats["Bmem"], n, top)
                    print_own(ma, stats["Amem"], n, top)
                    print_diff(a, stats["A"], b, stats["B"], n, top)
                    print_diff(a2, stats["A2"], a, stats["A"], n, top)
                    print_own(a2, stats["A2"], n, top)
        finally:
            await pool.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--runs", type=int, default=200, help="timed runs per variant (default 200)")
    p.add_argument("--concurrency", type=int, default=8, help="runs in flight (default 8)")
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    p.add_argument("--warmup", type=int, default=16, help="warm-up runs per variant (default 16)")
    p.add_argument(
        "--savers",
        type=int,
        default=4,
        help="AsyncPostgresSaver instances used by A, B and the Engine alike "
        "(default 4 = the Engine's default GW_CHECKPOINTERS)",
    )
    p.add_argument("--pool-size", type=int, default=10, help="connections per pool (default 10)")
    p.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"server to create the scratch database on (default {DEFAULT_URL})",
    )
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    p.add_argument(
        "--no-decompose",
        dest="decompose",
        action="store_false",
        help="skip the diagnostic variants A0 and A1",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile the variants and print where the time goes",
    )
    p.add_argument("--profile-runs", type=int, default=200, help="runs per profiled variant")
    p.add_argument("--profile-dir", default="/tmp", help="where .prof files go (default /tmp)")
    p.add_argument("--top", type=int, default=20, help="rows per profile table (default 20)")
    args = p.parse_args(argv)
    if args.runs < args.rounds or args.concurrency < 1 or args.savers < 1 or args.rounds < 1:
        p.error("need runs >= rounds >= 1, concurrency >= 1, savers >= 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
