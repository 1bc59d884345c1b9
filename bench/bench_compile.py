"""How long a large workflow document takes to validate, compile and load from the catalog.

A generated 500-node document (chains, fan-outs with joins, conditionals with CEL,
maps and approval gates, every function registered) is measured, each step
``--repeats`` times (min and median printed):

* ``validate``                 ``validate_workflow(dict)``: parse into the spec models,
                               semantic checks, CEL compilation
* ``compile_workflow(dict)``   the above plus building the LangGraph ``StateGraph``
* ``.graph(None)``             LangGraph's ``StateGraph.compile()`` of that builder
* ``total``                    ``compile_workflow(dict).graph(None)``: validation + compile,
                               the figure the target applies to
* ``compile_workflow(spec)``   from an already parsed ``WorkflowSpec`` (what ``Catalog.load``
                               does on a cache miss after reading the row)

and, against a scratch PostgreSQL database, ``Catalog.load``: the first (cold) load,
then cached loads by explicit version (in-memory hit) and by "latest" (one query
that reads and re-parses the stored spec, then the in-memory hit), and
``LoadedWorkflow.graph(saver)``, which the Engine calls once per checkpoint saver.

Run: ``.venv/bin/python bench/bench_compile.py [--nodes 500] [--repeats 7] [--profile]``
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import itertools
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchdb import DEFAULT_URL, median, scratch_database
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from graphwright.graphs.compiler import compile_workflow
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import validate_workflow
from graphwright.registry import Registry
from graphwright.runtime.catalog import Catalog
from graphwright.runtime.database import Database
from graphwright.settings import Settings
from graphwright.store.workflows import WorkflowStore

TARGET_SECONDS = 0.5
WORKFLOW_ID = "bench-large"

# --------------------------------------------------------------------------- registry


def make_registry() -> Registry:
    registry = Registry()

    @registry.function("big.step")
    def step(state: Any) -> dict[str, Any]:
        return {"counter": (state.counter or 0) + 1}

    @registry.function("big.bump")
    def bump(amount: int) -> dict[str, Any]:
        return {"score": amount}

    @registry.function("big.analyse")
    async def analyse(state: Any) -> dict[str, Any]:
        return {"analyzer": "x", "score": 1}

    @registry.function("big.route")
    def route(state: Any) -> dict[str, Any]:
        return {"label": "checked"}

    @registry.function("big.double")
    async def double(item: int) -> int:
        return item * 2

    return registry


# --------------------------------------------------------------------------- document


def make_document(total_nodes: int) -> dict[str, Any]:
    """A valid document with exactly ``total_nodes`` nodes, built from repeating blocks.

    Blocks, in turn: a chain of 5 (every other node with a CEL ``inputs``), a fan-out
    to 4 analyzers joined into one node (6), a conditional with two CEL cases (4), a
    map over a list (1) and an approval gate (1). Each block's exits lead to the next
    block's entry; the last exits lead to END.
    """
    nodes: dict[str, Any] = {}
    edges: list[dict[str, Any]] = [{"from": "START", "to": "n0_0"}]
    exits: list[str] = []
    block = 0

    def link(entry: str) -> None:
        for e in exits:
            edges.append({"from": e, "to": entry})

    kinds = ("chain", "fanout", "cond", "map", "approval")
    while len(nodes) < total_nodes:
        left = total_nodes - len(nodes)
        kind = kinds[block % len(kinds)]
        size = {"chain": 5, "fanout": 6, "cond": 4, "map": 1, "approval": 1}[kind]
        if size > left:
            kind, size = "chain", left
        p = f"n{block}"
        if kind == "chain":
            names = [f"{p}_{i}" for i in range(size)]
            for i, name in enumerate(names):
                if i % 2:
                    nodes[name] = {
                        "kind": "function",
                        "ref": "big.bump",
                        "inputs": {"amount": "state.score + state.counter"},
                    }
                else:
                    nodes[name] = {
                        "kind": "function",
                        "ref": "big.step",
                        "retry": {"max_attempts": 2},
                    }
            if block:
                link(names[0])
            for a, b in itertools.pairwise(names):
                edges.append({"from": a, "to": b})
            exits = [names[-1]]
        elif kind == "fanout":
            head, join = f"{p}_0", f"{p}_join"
            branches = [f"{p}_b{i}" for i in range(4)]
            nodes[head] = {"kind": "function", "ref": "big.step"}
            for b in branches:
                nodes[b] = {
                    "kind": "function",
                    "ref": "big.analyse",
                    "writes": "analyses",
                    "timeout": 30,
                }
            nodes[join] = {"kind": "function", "ref": "big.step"}
            link(head)
            edges.append({"from": head, "to": branches})
            edges.append({"from": branches, "to": join})
            exits = [join]
        elif kind == "cond":
            head, hot, cold, warm = f"{p}_0", f"{p}_hot", f"{p}_cold", f"{p}_warm"
            nodes[head] = {"kind": "function", "ref": "big.route"}
            for n in (hot, cold, warm):
                nodes[n] = {"kind": "function", "ref": "big.step"}
            link(head)
            edges.append(
                {
                    "from": head,
                    "cases": [
                        {"when": "state.score >= 7 && size(state.analyses) > 2", "to": hot},
                        {
                            "when": "state.label == 'checked' || input.name.startsWith('x')",
                            "to": warm,
                        },
                    ],
                    "default": cold,
                }
            )
            exits = [hot, cold, warm]
        elif kind == "map":
            name = f"{p}_map"
            nodes[name] = {
                "kind": "map",
                "over": "state.items.filter(x, x > 0)",
                "node": {"kind": "function", "ref": "big.double", "writes": "doubled"},
                "max_concurrency": 4,
            }
            link(name)
            exits = [name]
        else:
            name = f"{p}_gate"
            nodes[name] = {
                "kind": "approval",
                "prompt": "Block "
                + str(block)
                + ": continue ${input.name} at score ${state.score}?",
                "decisions": ["approve", "reject", "edit"],
                "editable": ["label"],
                "show": {"analyses": "size(state.analyses)"},
                "writes": "review",
            }
            link(name)
            exits = [name]
        block += 1
    for e in exits:
        edges.append({"from": e, "to": "END"})
    return {
        "dsl": "graphwright/v1",
        "id": WORKFLOW_ID,
        "title": f"Benchmark: {total_nodes} generated nodes",
        "state": {
            "name": {"type": "string"},
            "items": {"type": "array", "items": {"type": "integer"}, "default": []},
            "counter": {"type": "integer", "default": 0},
            "score": {"type": "integer", "default": 0},
            "label": {"type": "string", "nullable": True},
            "analyses": {
                "type": "array",
                "items": {"type": "object"},
                "reducer": "append",
                "default": [],
            },
            "doubled": {
                "type": "array",
                "items": {"type": "integer"},
                "reducer": "append",
                "default": [],
            },
            "review": {"type": "object", "nullable": True},
        },
        "input": ["name", "items"],
        "output": ["counter", "score", "analyses", "doubled", "review"],
        "nodes": nodes,
        "edges": edges,
        "limits": {"max_steps": 10_000},
    }


def describe(doc: dict[str, Any]) -> str:
    kinds: dict[str, int] = {}
    for node in doc["nodes"].values():
        kinds[node["kind"]] = kinds.get(node["kind"], 0) + 1
    cel = sum(1 for e in doc["edges"] for _ in e.get("cases", []))
    joins = sum(1 for e in doc["edges"] if isinstance(e["from"], list))
    fanouts = sum(1 for e in doc["edges"] if isinstance(e.get("to"), list))
    kinds_text = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    return (
        f"{len(doc['nodes'])} nodes ({kinds_text}), {len(doc['edges'])} edges "
        f"({fanouts} fan-outs, {joins} joins, {cel} CEL cases), "
        f"{len(json.dumps(doc)) / 1024:.0f} KiB of JSON"
    )


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any], repeats: int, *, collect: bool = True) -> list[float]:
    """Time ``fn`` ``repeats`` times; with ``collect``, collect garbage before each
    (GC stays enabled while timing). Sub-millisecond steps skip it: a full collection
    right before would evict the caches they depend on."""
    out = []
    for _ in range(repeats):
        if collect:
            gc.collect()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


async def atimed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t0)
    return out


def row(label: str, times: list[float]) -> str:
    lo, mid = min(times), median(times)
    unit, scale = ("ms", 1e3) if mid >= 1e-3 else ("us", 1e6)
    return f"  {label:<46}{lo * scale:>10.2f}{mid * scale:>10.2f}  {unit}  (n={len(times)})"


async def main(args: argparse.Namespace) -> None:
    registry = make_registry()
    doc = make_document(args.nodes)
    print(f"bench_compile: {describe(doc)}; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    # warm-up (imports, pydantic schema caches, CEL)
    compile_workflow(doc, registry=registry).graph(None)
    spec = validate_workflow(doc, registry=registry)
    builder = compile_workflow(doc, registry=registry)
    lg_nodes = len(builder.graph(None).nodes)

    r = args.repeats
    results = {
        "validate": timed(lambda: validate_workflow(doc, registry=registry), r),
        "compile_workflow(dict)": timed(lambda: compile_workflow(doc, registry=registry), r),
        ".graph(None)": timed(lambda: builder.graph(None), r),
        "total": timed(lambda: compile_workflow(doc, registry=registry).graph(None), r),
        "compile_workflow(spec)": timed(lambda: compile_workflow(spec, registry=registry), r),
    }
    print(f"\nIn memory ({lg_nodes} LangGraph nodes after compiling):")
    print(f"  {'step':<46}{'min':>10}{'median':>10}")
    print(row("validate_workflow(dict)", results["validate"]))
    print(row("compile_workflow(dict)  (validates too)", results["compile_workflow(dict)"]))
    print(row(".graph(None)  (LangGraph compile)", results[".graph(None)"]))
    print(row("total = compile_workflow(dict).graph(None)", results["total"]))
    print(row("compile_workflow(spec)  (already parsed)", results["compile_workflow(spec)"]))

    if not args.no_db:
        await catalog_section(args, registry, doc)

    total = median(results["total"])
    print(
        f"\nTarget: validation + compile of {args.nodes} nodes < {TARGET_SECONDS:.1f} s -> "
        f"median {total:.3f} s ({'MEETS' if total < TARGET_SECONDS else 'MISSES'}; "
        f"{total / TARGET_SECONDS:.0%} of the budget)"
    )

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            compile_workflow(doc, registry=registry).graph(None)
        prof.disable()
        path = Path(args.profile_dir) / "gw_bench_compile.prof"
        prof.dump_stats(path)
        print(f"\ncProfile of 3 x compile_workflow(dict).graph(None) (saved {path}), per compile:")
        st = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        for title, idx in (("cumulative", 3), ("own (tottime)", 2)):
            print(f"  top by {title}:")
            ranked = sorted(st.items(), key=lambda kv: kv[1][idx], reverse=True)[: args.top]
            for (file, line, func), (_, nc, tt, ct, _) in ranked:
                for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
                    if marker in file:
                        file = file.split(marker, 1)[1]
                        break
                print(
                    f"    {ct / 3 * 1e3:>9.1f} ms cum {tt / 3 * 1e3:>8.1f} ms own "
                    f"{nc / 3:>9.0f} calls  {func} ({file}:{line})"
                )


async def catalog_section(
    args: argparse.Namespace, registry: Registry, doc: dict[str, Any]
) -> None:
    async with scratch_database(args.database_url) as url:
        settings = Settings(database_url=url, tenant="bench" + os.urandom(4).hex())
        async with Database(settings) as db:
            store = WorkflowStore(db.pool)
            tenant = settings.tenant
            publisher = Catalog(store, registry, cache_size=16)
            t0 = time.perf_counter()
            published = await publisher.publish(tenant, doc)
            publish_s = time.perf_counter() - t0

            cold: list[float] = []
            for _ in range(args.repeats):  # a new Catalog each time: empty cache
                catalog = Catalog(store, registry, cache_size=16)
                t0 = time.perf_counter()
                await catalog.load(tenant, WORKFLOW_ID, None)
                cold.append(time.perf_counter() - t0)

            catalog = Catalog(store, registry, cache_size=16)
            await catalog.load(tenant, WORKFLOW_ID, None)  # fill the cache
            n = max(args.repeats, 50)
            by_version = await atimed(
                lambda: catalog.load(tenant, WORKFLOW_ID, published.version), n
            )
            latest = await atimed(lambda: catalog.load(tenant, WORKFLOW_ID, None), args.repeats * 3)
            fetch = await atimed(lambda: store.get(tenant, WORKFLOW_ID, None), args.repeats * 3)
            loaded = await catalog.load(tenant, WORKFLOW_ID, published.version)
            assert loaded is await catalog.load(tenant, WORKFLOW_ID, None)  # same cached object
            stored = loaded.published.spec.model_dump(
                mode="json", by_alias=True, exclude_unset=True
            )
            parse = timed(lambda: WorkflowSpec.model_validate(stored), args.repeats * 3)
            # The Engine binds each LoadedWorkflow to each of its savers (GW_CHECKPOINTERS,
            # 4 by default); the first use of each saver compiles the LangGraph graph again.
            savers = [AsyncPostgresSaver(db.pool) for _ in range(args.repeats)]  # type: ignore[arg-type]
            first_bind = []
            for saver in savers:
                t0 = time.perf_counter()
                loaded.graph(saver)
                first_bind.append(time.perf_counter() - t0)
            again = timed(lambda: loaded.graph(savers[0]), 50, collect=False)
            base = loaded.graph(savers[0])
            copy_bind = timed(
                lambda: base.copy(update={"checkpointer": savers[1]}), 50, collect=False
            )

        print(
            f"\nCatalog against PostgreSQL (scratch database; "
            f"publish took {publish_s * 1e3:.0f} ms):"
        )
        print(f"  {'step':<46}{'min':>10}{'median':>10}")
        print(row("Catalog.load, cold (fresh Catalog)", cold))
        print(row("Catalog.load(version=N), cached", by_version))
        print(row("Catalog.load(version=None), cached", latest))
        print(row("  of which WorkflowStore.get(latest)", fetch))
        print(row("    of which WorkflowSpec.model_validate", parse))
        print(row("LoadedWorkflow.graph(saver), new saver", first_bind))
        print(row("LoadedWorkflow.graph(saver), same saver", again))
        print(row("  for comparison: compiled.copy(checkpointer=)", copy_bind))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--nodes", type=int, default=500, help="document nodes (default 500)")
    p.add_argument("--repeats", type=int, default=7, help="repeats per measurement (default 7)")
    p.add_argument(
        "--database-url",
        default=DEFAULT_URL,
        help=f"server for the scratch database (default {DEFAULT_URL})",
    )
    p.add_argument("--no-db", action="store_true", help="skip the Catalog (PostgreSQL) part")
    p.add_argument(
        "--profile", action="store_true", help="cProfile the compile and print hot spots"
    )
    p.add_argument("--profile-dir", default="/tmp", help="where the .prof file goes (default /tmp)")
    p.add_argument("--top", type=int, default=20, help="rows per profile table (default 20)")
    args = p.parse_args(argv)
    if args.nodes < 5 or args.repeats < 1:
        p.error("need --nodes >= 5 and --repeats >= 1")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
