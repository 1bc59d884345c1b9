"""Database size after N runs, without and with checkpoint pruning, side by side.

Two scratch databases get the same workload through ``Engine.run`` (the embedded
run path: thread row, run row, events, checkpoints): ``--runs`` runs of a five-node
workflow over ``--threads`` long-lived threads (each thread gets runs/threads runs,
as a conversation or a monitored asset would), ``--concurrency`` runs in flight.
The work goes in rounds (one run on every thread); each round runs on A, then on B:

* **A, no pruning**: checkpoints accumulate (what graphwright did before).
* **B, pruning**: after every ``--prune-every`` rounds, ``prune_threads`` (what the
  ``GW_PRUNE_INTERVAL_SECONDS`` job calls) with ``--keep`` (1) checkpoints per
  thread and no idle threshold (the job's default, ``GW_PRUNE_OLDER_THAN_SECONDS``
  = 1 h, only delays pruning; here time is compressed).

After each pass both databases get a plain ``VACUUM (ANALYZE)`` of the checkpoint
tables: what autovacuum does on its own schedule in a real deployment (deleted rows
become space the next inserts reuse; files do not shrink), done here at fixed points
so the runs are comparable. At the end B gets one last pass, both databases a plain
``VACUUM (ANALYZE)``, and the sizes are printed (``pg_total_relation_size`` of the
checkpoint tables and the event log, and ``pg_database_size``), then again after
``VACUUM FULL`` (the live data alone). Ratios are A / B. Before measuring, the
script checks that every thread's final state is the same in A and B (pruning
changed no outcome).

The event log (``gw_run_events``) is not pruned by this: it has its own
time-based retention (``GW_EVENT_RETENTION_SECONDS``, 7 days by default), so it
is the same in A and B.

Run: ``.venv/bin/python bench/bench_prune.py`` (1,000 runs, ~2-4 min here);
``--full`` for 10,000 runs (~25-40 min on this shared 2-core machine). Needs a
PostgreSQL server where it may create databases (``--database-url``, ``--keep-db``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psycopg
from _benchdb import DEFAULT_URL, scratch_database

from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.settings import Settings
from graphwright.store.pruning import PrunePolicy, prune_threads

TENANT = "bench"
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "gw_run_events", "gw_runs")

DOCUMENT: dict[str, Any] = {
    "dsl": "graphwright/v1",
    "id": "bench-prune",
    "title": "A request handled in five steps",
    "state": {
        "request": {"type": "string"},
        "category": {"type": "string", "nullable": True},
        "details": {"type": "object", "nullable": True},
        "score": {"type": "integer", "default": 0},
        "reply": {"type": "string", "nullable": True},
        "turns": {"type": "integer", "default": 0, "reducer": "add"},
    },
    "input": ["request"],
    "nodes": {
        "classify": {
            "kind": "function",
            "ref": "bp.classify",
            "inputs": {"request": "state.request"},
            "writes": "category",
        },
        "enrich": {
            "kind": "function",
            "ref": "bp.enrich",
            "inputs": {"request": "state.request", "category": "state.category"},
            "writes": "details",
        },
        "score": {
            "kind": "function",
            "ref": "bp.score",
            "inputs": {"details": "state.details"},
            "writes": "score",
        },
        "respond": {
            "kind": "function",
            "ref": "bp.respond",
            "inputs": {
                "category": "state.category",
                "score": "state.score",
                "request": "state.request",
            },
            "writes": "reply",
        },
        "count": {"kind": "function", "ref": "bp.count", "writes": "turns"},
    },
    "edges": [
        {"from": "START", "to": "classify"},
        {"from": "classify", "to": "enrich"},
        {"from": "enrich", "to": "score"},
        {"from": "score", "to": "respond"},
        {"from": "respond", "to": "count"},
        {"from": "count", "to": "END"},
    ],
}


def make_registry() -> Registry:
    """The five steps: a little deterministic string work, a few hundred bytes of state."""
    registry = Registry()

    def classify(request: str) -> str:
        return ("billing", "outage", "access", "other")[len(request) % 4]

    def enrich(request: str, category: str) -> dict[str, Any]:
        words = request.split()
        return {
            "category": category,
            "words": len(words),
            "keywords": sorted(set(words))[:12],
            "summary": " ".join(words[:30]),
        }

    def score(details: dict[str, Any]) -> int:
        return sum(len(k) for k in details["keywords"]) % 10

    def respond(category: str, score: int, request: str) -> str:
        return f"[{category}/{score}] We looked into: {request[:200]}"

    registry.add_function("bp.classify", classify)
    registry.add_function("bp.enrich", enrich)
    registry.add_function("bp.score", score)
    registry.add_function("bp.respond", respond)
    registry.add_function("bp.count", lambda: 1)
    return registry


def request_text(thread: int, turn: int) -> str:
    """A few hundred bytes of input, different every run."""
    words = [f"w{(thread * 7919 + turn * 104729 + i * 31) % 997}" for i in range(40)]
    return f"thread {thread} turn {turn}: " + " ".join(words)


@dataclass
class Variant:
    """One database and what happened on it."""

    name: str
    label: str
    url: str
    engine: Engine | None = None
    run_seconds: float = 0.0
    prune_seconds: float = 0.0
    prune_passes: int = 0
    pruned_rows: dict[str, int] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


async def run_round(variant: Variant, thread_ids: list[str], turn: int, concurrency: int) -> None:
    """One run on every thread, ``concurrency`` at a time."""
    engine = variant.engine
    assert engine is not None
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int, thread_id: str) -> None:
        async with limit:
            result = await engine.run(
                "bench-prune", {"request": request_text(index, turn)}, thread_id=thread_id
            )
            if result.status != "completed":
                raise RuntimeError(f"run on {thread_id} ended {result.status}: {result.error}")

    started = time.perf_counter()
    await asyncio.gather(*(one(i, t) for i, t in enumerate(thread_ids)))
    variant.run_seconds += time.perf_counter() - started


async def prune(variant: Variant, keep: int) -> None:
    """One pruning pass over every thread (what the periodic job does)."""
    engine = variant.engine
    assert engine is not None
    started = time.perf_counter()
    report = await prune_threads(engine.runtime.pool, PrunePolicy(keep=keep, tenant=TENANT))
    variant.prune_seconds += time.perf_counter() - started
    variant.prune_passes += 1
    for table, n in report.table_totals().items():
        variant.pruned_rows[table] = variant.pruned_rows.get(table, 0) + n


async def measure(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Sizes in bytes (tables with indexes and TOAST, and the whole database) and row counts."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        sizes: dict[str, int] = {}
        rows: dict[str, int] = {}
        for table in TABLES:
            cur = await conn.execute(
                "select pg_total_relation_size(%s::regclass), count(*) from "
                + table,  # names from TABLES above
                (table,),
            )
            row = await cur.fetchone()
            assert row is not None
            sizes[table], rows[table] = int(row[0]), int(row[1])
        cur = await conn.execute("select pg_database_size(current_database())")
        row = await cur.fetchone()
        assert row is not None
        sizes["database"] = int(row[0])
    return sizes, rows


async def vacuum(url: str, *, full: bool, tables: tuple[str, ...] = ()) -> None:
    """``VACUUM (ANALYZE)`` or ``VACUUM FULL`` of ``tables`` (default: the whole database)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        command = "vacuum (full, analyze)" if full else "vacuum (analyze)"
        await conn.execute(command + (" " + ", ".join(tables) if tables else ""))


async def final_states(engine: Engine, thread_ids: list[str]) -> list[dict[str, Any]]:
    """Every thread's current values."""
    return [(await engine.get_state(t)).values for t in thread_ids]


def mb(n: int) -> str:
    return f"{n / 2**20:9.2f}"


def print_sizes(a: Variant, b: Variant, stage: str) -> None:
    print(f"\n{stage}:")
    print(f"  {'relation':<22}{'A MB':>10}{'B MB':>10}{'A / B':>9}{'A rows':>11}{'B rows':>10}")
    for key in (*TABLES, "checkpoint tables", "database"):
        if key == "checkpoint tables":
            sa = sum(a.sizes[stage][t] for t in TABLES[:3])
            sb = sum(b.sizes[stage][t] for t in TABLES[:3])
            ra = sum(a.rows[t] for t in TABLES[:3])
            rb = sum(b.rows[t] for t in TABLES[:3])
        else:
            sa, sb = a.sizes[stage][key], b.sizes[stage][key]
            ra, rb = a.rows.get(key, 0), b.rows.get(key, 0)
        ratio = f"{sa / sb:8.2f}x" if sb else "      -"
        shown = (f"{ra:>11,}", f"{rb:>10,}") if key != "database" else ("", "")
        print(f"  {key:<22}{mb(sa):>10}{mb(sb):>10}{ratio:>9}{shown[0]}{shown[1]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--runs", type=int, default=1000, help="runs per variant (default 1000)")
    parser.add_argument("--full", action="store_true", help="10,000 runs per variant")
    parser.add_argument("--threads", type=int, default=100, help="threads the runs go to")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--keep", type=int, default=1, help="checkpoints kept per thread")
    parser.add_argument(
        "--prune-every", type=int, default=0, help="rounds between passes (default: runs/10)"
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    runs = 10_000 if args.full else args.runs
    rounds = max(1, runs // args.threads)
    runs = rounds * args.threads
    every = args.prune_every or max(1, rounds // 10)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"bench_prune: {runs:,} runs per variant ({'--full' if args.full else '--runs'}), "
        f"{args.threads} threads x {rounds} runs, 5 nodes per run, concurrency "
        f"{args.concurrency}; B prunes every {every} rounds keeping {args.keep}; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    registry = make_registry()
    thread_ids = [f"thread-{i:04}" for i in range(args.threads)]
    async with (
        scratch_database(args.database_url, keep=args.keep_db) as url_a,
        scratch_database(args.database_url, keep=args.keep_db) as url_b,
    ):
        a = Variant("A", "no pruning", url_a)
        b = Variant("B", f"pruning (keep {args.keep})", url_b)
        engines = []
        for variant in (a, b):
            settings = Settings(
                database_url=variant.url, tenant=TENANT, pool_min_size=2, pool_max_size=10
            )
            engine = Engine(settings, registry=registry)
            await engine.open()
            await engine.publish(DOCUMENT)
            variant.engine = engine
            engines.append(engine)
        try:
            for turn in range(rounds):
                await run_round(a, thread_ids, turn, args.concurrency)
                await run_round(b, thread_ids, turn, args.concurrency)
                if (turn + 1) % every == 0:
                    await prune(b, args.keep)
                    for variant in (a, b):  # what autovacuum does on its own schedule
                        await vacuum(variant.url, full=False, tables=TABLES[:3])
                if (turn + 1) % max(1, rounds // 10) == 0:
                    print(f"  round {turn + 1}/{rounds}", flush=True)
            await prune(b, args.keep)
            assert a.engine is not None
            assert b.engine is not None
            if await final_states(a.engine, thread_ids) != await final_states(b.engine, thread_ids):
                raise SystemExit("final states differ between A and B: pruning changed a result")
        finally:
            for engine in engines:
                await engine.close()
        for stage, full in (("after VACUUM (ANALYZE)", False), ("after VACUUM FULL", True)):
            for variant in (a, b):
                await vacuum(variant.url, full=full)
                variant.sizes[stage], variant.rows = await measure(variant.url)
    print("\nfinal states of all threads: identical in A and B")
    for variant in (a, b):
        print(
            f"  {variant.name} {variant.label:<18} {runs / variant.run_seconds:7.1f} runs/s"
            + (
                f"; {variant.prune_passes} pruning passes, {variant.prune_seconds:.2f} s in all "
                f"({variant.prune_seconds / variant.prune_passes * 1000:.0f} ms per pass); "
                f"deleted {variant.pruned_rows}"
                if variant.prune_passes
                else ""
            )
        )
    for stage in ("after VACUUM (ANALYZE)", "after VACUUM FULL"):
        print_sizes(a, b, stage)
    print(
        "\n  gw_run_events is pruned by GW_EVENT_RETENTION_SECONDS (time), not by this: "
        "equal in A and B."
    )


if __name__ == "__main__":
    asyncio.run(main())
