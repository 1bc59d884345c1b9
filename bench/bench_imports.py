"""How long graphwright takes to import and the CLI to start, and what that loads.

Each case is a fresh interpreter started as a subprocess (the venv's ``python`` and
``graphwright`` script), so the figure is what a user waits for: interpreter start,
imports, the command itself, exit.

* ``python -c pass``                  the interpreter alone (the floor)
* ``import graphwright``              the package face
* ``import graphwright.client``       the HTTP client
* ``import graphwright.cli``          the Typer app, no command run
* ``graphwright --help``              the console script
* ``graphwright validate FILE``       validation of ``examples/asset-discovery.json``
                                      with the default registry (``graphwright.examples``)
* ``import psycopg + checkpointer``   baseline: ``psycopg``, ``psycopg_pool`` and
                                      ``langgraph.checkpoint.postgres.aio``
* ``import fastapi``                  baseline: the web framework

Method: one warm-up run of every case (``.pyc`` files, page cache), then ``--runs``
(7) rounds; in each round every case runs once, in an order that rotates and reverses
from round to round, so drift on the shared machine hits all cases alike. Printed per
case: median and min wall time, the ratio to the bare interpreter, the time above it,
how many modules were imported, and which of the heavy ones were. Modules are read
from one extra, untimed run per case with ``PYTHONPROFILEIMPORTTIME=1`` (what
``python -X importtime`` prints), which also gives where the import time goes: the
self time of every module summed per top-level package, largest ``--top`` (6) first
(in ms; importtime itself slows imports, so read proportions).

**Target: ``graphwright --help`` and ``graphwright validate`` well under one second**;
nothing asserts on time.

Run: ``.venv/bin/python bench/bench_imports.py [--runs 7] [--top 6]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
SCRIPT = str(BIN / "graphwright")
EXAMPLE = "examples/asset-discovery.json"
TARGET_SECONDS = 1.0

# What the package face must not pull in (the list), and langgraph itself.
HEAVY = (
    "psycopg",
    "psycopg_pool",
    "langgraph.checkpoint.postgres",
    "fastapi",
    "starlette",
    "uvicorn",
    "redis",
    "crewai",
    "langgraph",
    "langchain_core",
)


@dataclass
class Case:
    """One command line, timed and inspected."""

    label: str
    argv: list[str]
    times: list[float] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)
    by_package: list[tuple[int, str]] = field(default_factory=list)
    failed: str | None = None


def cases() -> list[Case]:
    def py(code: str) -> list[str]:
        return [PYTHON, "-c", code]

    return [
        Case("python -c pass", py("pass")),
        Case("import graphwright", py("import graphwright")),
        Case("import graphwright.client", py("import graphwright.client")),
        Case("import graphwright.cli", py("import graphwright.cli")),
        Case("graphwright --help", [SCRIPT, "--help"]),
        Case("graphwright validate FILE", [SCRIPT, "validate", EXAMPLE]),
        Case(
            "import psycopg + checkpointer",
            py("import psycopg, psycopg_pool, langgraph.checkpoint.postgres.aio"),
        ),
        Case("import fastapi", py("import fastapi")),
    ]


def clean_env() -> dict[str, str]:
    """The caller's environment minus what would change what is imported or timed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPROFILEIMPORTTIME")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(case: Case, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        case.argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 and case.failed is None:
        case.failed = f"exit {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}"
    return elapsed


def inspect(case: Case, env: dict[str, str]) -> None:
    """Fill ``case.modules`` and ``case.by_package`` from one ``-X importtime`` run."""
    done = subprocess.run(
        case.argv,
        cwd=ROOT,
        env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Lines: "import time: self [us] | cumulative | imported package" (nesting by indent).
    self_us: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line[len("import time:") :].split("|", 2)
        module = name.strip()
        case.modules.add(module)
        package = module.split(".")[0]
        self_us[package] = self_us.get(package, 0) + int(own)
    case.by_package = sorted(((us, pkg) for pkg, us in self_us.items()), reverse=True)


def heavy_loaded(modules: set[str]) -> list[str]:
    return [h for h in HEAVY if h in modules]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--top", type=int, default=6, help="packages shown per case")
    args = parser.parse_args()

    env = clean_env()
    all_cases = cases()
    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at start; "
        f"{sys.version.split()[0]}; {args.runs} rounds after one warm-up"
    )
    for case in all_cases:
        run_once(case, env)
        inspect(case, env)
    for round_no in range(args.runs):
        order = all_cases[round_no % len(all_cases) :] + all_cases[: round_no % len(all_cases)]
        if round_no % 2:
            order.reverse()
        for case in order:
            case.times.append(run_once(case, env))

    floor = statistics.median(all_cases[0].times)
    print()
    print(
        f"  {'case':32} {'median':>8} {'min':>8} {'x pass':>7} {'+ pass':>8} {'modules':>8}  "
        "heavy modules loaded"
    )
    print("  " + "-" * 120)
    for case in all_cases:
        med = statistics.median(case.times)
        heavy = ", ".join(heavy_loaded(case.modules)) or "-"
        print(
            f"  {case.label:32} {med * 1000:6.0f}ms {min(case.times) * 1000:6.0f}ms "
            f"{med / floor:6.1f}x {(med - floor) * 1000:6.0f}ms {len(case.modules):8d}  {heavy}"
        )
    print()
    print("  median/min = wall time of the whole subprocess; x pass, + pass = vs the bare")
    print("  interpreter; modules = imported in an untimed PYTHONPROFILEIMPORTTIME=1 run.")
    print()
    print("Where the import time goes (self time summed per top-level package, importtime run):")
    for case in all_cases[1:]:
        top = ", ".join(f"{name} {us / 1000:.0f}" for us, name in case.by_package[: args.top])
        print(f"  {case.label:32} {top}")
    failed = [c for c in all_cases if c.failed]
    for case in failed:
        print(f"\n{case.label} FAILED ({case.failed})")

    print()
    print(f"Target: CLI start well under {TARGET_SECONDS:.0f} s")
    for case in all_cases:
        if case.label.startswith("graphwright "):
            med = statistics.median(case.times)
            verdict = "MEETS" if med < TARGET_SECONDS else "MISSES"
            print(f"  {case.label}: median {med:.3f} s -> {verdict}")
    face = {c.label: heavy_loaded(c.modules) for c in all_cases[1:6]}
    print("Target: the package face, the client and the CLI load no driver, checkpointer or web")
    for label, heavy in face.items():
        bad = [h for h in heavy if h not in ("langgraph", "langchain_core")]
        print(f"  {label}: {'MEETS' if not bad else 'MISSES (' + ', '.join(bad) + ')'}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
