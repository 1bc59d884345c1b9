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
* ``A2 engine``       ``Engine.run()`` (adds thread rows, lease, final state read)
* ``B  handwritten``  plain LangGraph + the same savers, same durability

and, to see the CPU cost without the database, the same A/B pair on
``InMemorySaver``. Nothing here asserts on timings; it prints numbers and ratios.

Run: ``.venv/bin/python bench/bench_overhead.py [--runs 200] [--concurrency 8] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import operator
import os
import pstats
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdb import DEFAULT_URL, median, percentile, scratch_database  # noqa: E402

from graphwright.graphs.compiler import CompiledWorkflow, compile_workflow  # noqa: E402
from graphwright.nodes.context import RunContext  # noqa: E402
from graphwright.registry import Registry  # noqa: E402
from graphwright.runtime.engine import Engine  # noqa: E402
from graphwright.settings import Settings  # noqa: E402

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
        {"from": "score", "cases": [{"when": "state.score >= 7", "to": "respond"}], "default": "monitor"},
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
    wall: float = 0.0
    cpu: float = 0.0
    runs: int = 0

    @property
    def throughput(self) -> float:
        return self.runs / self.wall if self.wall else 0.0


async def run_batch(variant: Variant, start: int, count: int, concurrency: int) -> tuple[float, float, list[float]]:
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


async def measure(
    variants: list[Variant], *, runs: int, concurrency: int, rounds: int, warmup: int
) -> None:
    for v in variants:  # warm-up: connections, caches, thread pool, JIT-free paths
        await run_batch(v, 0, warmup, concurrency)
    per_round = [runs // rounds + (1 if r < runs % rounds else 0) for r in range(rounds)]
    counter = 10_000
    for r, count in enumerate(per_round):
        # rotate the order each round so no variant always runs first or last
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        if r % 2:
            order = order[::-1]
        for v in order:
            wall, cpu, lat = await run_batch(v, counter, count, concurrency)
            counter += count
            v.wall += wall
            v.cpu += cpu
            v.runs += count
            v.latencies.extend(lat)


def print_table(title: str, variants: list[Variant], baseline: Variant) -> None:
    print(f"\n{title}")
    head = f"  {'variant':<34}{'runs':>6}{'runs/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'cpu ms/run':>12}"
    head += f"{'time/run ratio':>16}{'p50 ratio':>11}"
    print(head)
    print("  " + "-" * (len(head) - 2))
    b_p50 = median(baseline.latencies)
    for v in variants:
        p50, p95 = median(v.latencies), percentile(v.latencies, 95)
        inv = baseline.throughput / v.throughput if v.throughput else float("nan")
        print(
            f"  {v.label:<34}{v.runs:>6}{v.throughput:>9.1f}{p50 * 1e3:>9.2f}{p95 * 1e3:>9.2f}"
            f"{v.cpu / v.runs * 1e3:>12.2f}{inv:>16.3f}{p50 / b_p50:>11.3f}"
        )


def verdict(v: Variant, baseline: Variant) -> str:
    inv = baseline.throughput / v.throughput
    p50 = median(v.latencies) / median(baseline.latencies)
    ok = inv <= TARGET_RATIO and p50 <= TARGET_RATIO
    return (
        f"  {v.label}: throughput^-1 ratio {inv:.3f}, p50 ratio {p50:.3f} -> "
        f"{'MEETS' if ok else 'MISSES'} target <= {TARGET_RATIO:.2f} "
        f"(overhead {100 * (max(inv, p50) - 1):+.1f}%)"
    )


# --------------------------------------------------------------------------- profiling


def profile_stats(prof: cProfile.Profile) -> dict[tuple[str, int, str], tuple[int, float, float]]:
    st = pstats.Stats(prof)
    return {k: (v[1], v[2], v[3]) for k, v in st.stats.items()}  # type: ignore[attr-defined]


def short(key: tuple[str, int, str]) -> str:
    file, line, func = key
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{func} ({file}:{line})" if line else func


async def profile_variants(a: Variant, b: Variant, runs: int, concurrency: int, out_dir: Path, top: int) -> None:
    """cProfile ``runs`` runs of each variant; print totals, top tottime and A-B differences."""
    profiles: dict[str, dict[tuple[str, int, str], tuple[int, float, float]]] = {}
    for v in (a, b):
        prof = cProfile.Profile()
        prof.enable()
        await run_batch(v, 50_000, runs, concurrency)
        prof.disable()
        path = out_dir / f"gw_bench_{v.key}.prof"
        prof.dump_stats(path)
        profiles[v.key] = profile_stats(prof)
        total = sum(t for _, t, _ in profiles[v.key].values())
        idle = sum(t for k, (_, t, _) in profiles[v.key].items() if "poll" in k[2] or "select" in k[2])
        print(
            f"\n  [{v.label}] profiled {runs} runs: {total / runs * 1e3:.2f} ms/run in profiled "
            f"functions (of which {idle / runs * 1e3:.2f} ms waiting in select/poll); saved {path}"
        )
        ranked = sorted(profiles[v.key].items(), key=lambda kv: kv[1][1], reverse=True)[:top]
        print(f"    {'tottime ms/run':>14} {'calls/run':>10}  function")
        for key, (calls, tt, _) in ranked:
            print(f"    {tt / runs * 1e3:>14.3f} {calls / runs:>10.1f}  {short(key)}")

    pa, pb = profiles[a.key], profiles[b.key]
    diff = []
    for key in set(pa) | set(pb):
        ca, ta, _ = pa.get(key, (0, 0.0, 0.0))
        cb, tb, _ = pb.get(key, (0, 0.0, 0.0))
        diff.append((ta - tb, ca - cb, key))
    diff.sort(reverse=True)
    print(f"\n  where {a.label} spends more own time (tottime) than {b.label}, per run:")
    print(f"    {'extra ms/run':>12} {'extra calls/run':>16}  function")
    for dt, dc, key in diff[:top]:
        if "poll" in key[2] or "select" in key[2]:
            continue
        print(f"    {dt / runs * 1e3:>12.3f} {dc / runs:>16.1f}  {short(key)}")

    own = [(ct, c, tt, k) for k, (c, tt, ct) in pa.items() if "graphwright" in k[0]]
    own.sort(reverse=True)
    print(f"\n  graphwright's own functions in {a.label} (by cumulative time; coroutine "
          "cumtime counts each resume):")
    print(f"    {'cumtime ms/run':>14} {'tottime ms/run':>14} {'calls/run':>10}  function")
    for ct, c, tt, key in own[:top]:
        print(f"    {ct / runs * 1e3:>14.3f} {tt / runs * 1e3:>14.3f} {c / runs:>10.1f}  {short(key)}")


# --------------------------------------------------------------------------- main


def outputs_of(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in OUTPUT_KEYS}


async def main(args: argparse.Namespace) -> None:
    registry = make_registry()
    cw: CompiledWorkflow = compile_workflow(DOCUMENT, registry=registry)
    hand = handwritten_builder()
    print(
        f"bench_overhead: runs={args.runs} per variant, concurrency={args.concurrency}, "
        f"rounds={args.rounds}, warm-up={args.warmup} runs/variant, savers={args.savers}, "
        f"pool={args.pool_size}, durability=sync, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}"
    )

    # ---- without a database: CPU cost of the framework alone
    mem_a_graph = cw.graph(InMemorySaver())
    mem_b_graph = hand.compile(checkpointer=InMemorySaver())

    async def mem_a(i: int) -> dict[str, Any]:
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        return await mem_a_graph.ainvoke(
            cw.make_input(INPUTS[i % 2]), config, context=RunContext(), durability="sync"
        )

    async def mem_b(i: int) -> dict[str, Any]:
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        return await mem_b_graph.ainvoke(dict(INPUTS[i % 2]), config, durability="sync")

    for i in range(2):
        got_a, got_b = outputs_of(await mem_a(i)), outputs_of(await mem_b(i))
        if got_a != got_b:
            raise SystemExit(f"variants disagree on input {i}:\n  A {got_a}\n  B {got_b}")

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
            serde = JsonPlusSerializer(allowed_msgpack_modules=None)  # as the Engine does
            savers = [AsyncPostgresSaver(pool, serde=serde) for _ in range(args.savers)]  # type: ignore[arg-type]
            await savers[0].setup()
            graphs_a = [cw.graph(s) for s in savers]
            graphs_b = [hand.compile(checkpointer=s) for s in savers]

            async def run_a(i: int) -> dict[str, Any]:
                config = {"configurable": {"thread_id": str(uuid.uuid4())}}
                return await graphs_a[i % len(graphs_a)].ainvoke(
                    cw.make_input(INPUTS[i % 2]), config, context=RunContext(), durability="sync"
                )

            async def run_b(i: int) -> dict[str, Any]:
                config = {"configurable": {"thread_id": str(uuid.uuid4())}}
                return await graphs_b[i % len(graphs_b)].ainvoke(
                    dict(INPUTS[i % 2]), config, durability="sync"
                )

            async with Engine(settings, registry=registry) as engine:
                await engine.publish(DOCUMENT)

                async def run_a2(i: int) -> dict[str, Any]:
                    result = await engine.run(WORKFLOW_ID, INPUTS[i % 2])
                    if result.status != "completed":
                        raise RuntimeError(f"engine run ended {result.status}: {result.error}")
                    return result.output

                for i in range(2):  # the three paths compute the same result
                    outs = [outputs_of(await f(i)) for f in (run_a, run_a2, run_b)]
                    if not outs[0] == outs[1] == outs[2]:
                        raise SystemExit(f"variants disagree on input {i}: {outs}")

                a = Variant("A", "A  graphwright (compiled graph)", run_a)
                a2 = Variant("A2", "A2 graphwright Engine.run()", run_a2)
                b = Variant("B", "B  handwritten LangGraph", run_b)
                ma = Variant("Amem", "A  graphwright, InMemorySaver", mem_a)
                mb = Variant("Bmem", "B  handwritten, InMemorySaver", mem_b)

                t0 = time.perf_counter()
                await measure(
                    [a, a2, b], runs=args.runs, concurrency=args.concurrency,
                    rounds=args.rounds, warmup=args.warmup,
                )
                await measure(
                    [ma, mb], runs=args.runs, concurrency=args.concurrency,
                    rounds=args.rounds, warmup=args.warmup,
                )
                elapsed = time.perf_counter() - t0

                print_table(
                    "PostgreSQL (AsyncPostgresSaver, durability=sync); ratios vs B:", [a, a2, b], b
                )
                print_table("InMemorySaver (framework CPU only); ratios vs B:", [ma, mb], mb)
                print(f"\nTarget: graphwright/handwritten ratio <= {TARGET_RATIO:.2f} "
                      "(time per run = 1/throughput, and p50 latency)")
                for v, base in ((a, b), (a2, b), (ma, mb)):
                    print(verdict(v, base))
                print(f"(measured in {elapsed:.1f} s; cpu ms/run = this process's CPU time, all "
                      "threads, per run; PostgreSQL's own CPU is not included)")

                if args.profile:
                    print("\ncProfile (whole event loop, one variant at a time):")
                    out_dir = Path(args.profile_dir)
                    out_dir.mkdir(parents=True, exist_ok=True)
                    n = args.profile_runs
                    await profile_variants(ma, mb, n, args.concurrency, out_dir, args.top)
                    await profile_variants(a, b, n, args.concurrency, out_dir, args.top)
        finally:
            await pool.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200, help="timed runs per variant (default 200)")
    p.add_argument("--concurrency", type=int, default=8, help="runs in flight (default 8)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--warmup", type=int, default=16, help="warm-up runs per variant (default 16)")
    p.add_argument("--savers", type=int, default=4,
                   help="AsyncPostgresSaver instances, used by A, B and the Engine alike "
                        "(default 4 = the Engine's default GW_CHECKPOINTERS)")
    p.add_argument("--pool-size", type=int, default=10, help="connections per pool (default 10)")
    p.add_argument("--database-url", default=DEFAULT_URL,
                   help=f"server to create the scratch database on (default {DEFAULT_URL})")
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    p.add_argument("--profile", action="store_true", help="also cProfile A vs B and print hot spots")
    p.add_argument("--profile-runs", type=int, default=200, help="runs per profiled variant")
    p.add_argument("--profile-dir", default="/tmp", help="where .prof files go (default /tmp)")
    p.add_argument("--top", type=int, default=25, help="rows per profile table")
    args = p.parse_args(argv)
    if args.runs < args.rounds or args.concurrency < 1 or args.savers < 1:
        p.error("need runs >= rounds, concurrency >= 1, savers >= 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
