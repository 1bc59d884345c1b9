"""Scale-out: the same burst of runs with 1, 2 and 4 worker processes on one PostgreSQL.

Everything runs on servers of the benchmark's own, so their counters belong to it
alone: a private PostgreSQL cluster (the distribution's binaries, on a free port,
with ``pg_stat_statements`` loaded and ``fsync`` on unless ``--no-fsync``) and a
private ``redis-server``. One ``graphwright serve`` with ``GW_WORKERS=0`` takes
the requests; ``--workers`` lists the phases (default ``1,2,4``): in each, that
many ``graphwright worker`` processes with ``--slots`` run slots each
(``GW_WORKERS``) claim and run the runs.

A phase: start the workers, wait until each says it is ready, warm up (one run
per slot, so every worker has compiled the workflow), then reset the counters and
submit ``--runs`` runs of ``bench-chain`` (5 function nodes, as in
``bench_service.py``), each on a new thread (``POST /threads/{id}/runs`` with
``if_not_exists=create``), ``--submitters`` requests in flight, and wait until the
last one has ended. Printed per phase:

- ``runs/s``: runs / (last run ended - first request sent), and the speed-up
  over the first phase;
- ``pg ms/run``: CPU of every process of the PostgreSQL cluster (postmaster,
  backends, WAL writer, checkpointer, ...; from /proc) per run;
- ``wrk ms/run`` and ``api ms/run``: CPU of the worker processes and of the API
  process per run;
- ``stmt/run``: statements executed per run (``pg_stat_statements`` calls, the
  benchmark's own polling excluded) and ``xact/run`` (commits + rollbacks);
- ``WAL kB/run``: ``pg_wal_lsn_diff`` over the phase per run;
- ``busy``: the whole machine's busy CPU over the phase, as a share of its cores.

Nothing asserts on time. On a machine with few cores the workers, the API, the
benchmark and PostgreSQL share them; read ``busy`` before reading the speed-up.

Run: ``.venv/bin/python bench/bench_scaleout.py [--workers 1,2,4] [--runs 400]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _procstat import machine_busy, proc_cpu
from bench_service import CHAIN, DOCUMENTS, graphwright_script, publish
from tests.integration.faults.private_postgres import (
    PrivatePostgres,
    remove_private_postgres,
    start_private_postgres,
)
from tests.integration.service.conftest import free_port
from tests.integration.service.private_redis import PrivateRedis

NODES = Path(__file__).resolve().parent / "_bench_nodes.py"
POLL_MARK = "/* bench_scaleout poll */"


def cluster_pids(server: PrivatePostgres) -> list[int]:
    """The postmaster of ``server`` and all its children."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == postmaster:
            pids.append(int(entry.name))
    return pids


@dataclass
class Counters:
    """Cumulative counters at one moment."""

    at: float
    busy: float
    pg_cpu: dict[int, float]
    worker_cpu: float
    api_cpu: float
    statements: int
    xacts: int
    wal_lsn: str


@dataclass
class Phase:
    """One phase's result."""

    workers: int
    runs: int
    seconds: float
    pg_cpu: float
    worker_cpu: float
    api_cpu: float
    statements: int
    xacts: int
    wal_bytes: float
    busy: float
    failed: int


class Bench:
    """The private servers, the API process and the phases."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args = args
        self.folder = folder
        options = "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        if not args.no_fsync:
            options += " -c fsync=on"
        self.pg = start_private_postgres(options)
        self.redis = PrivateRedis(folder / "redis.log")
        self.redis.start()
        self.db_url = self.pg.url.rsplit("/", 1)[0] + "/bench"
        with psycopg.connect(self.pg.url, autocommit=True) as conn:
            conn.execute("create database bench")
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute("create extension pg_stat_statements")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GW_")}
        self.env.update(
            {
                "GW_DATABASE_URL": self.db_url,
                "GW_REDIS_URL": self.redis.url,
                "GW_REGISTRY_MODULES": str(NODES),
                "GW_DRAIN_SECONDS": "5",
            }
        )
        publish(self.env, folder)
        port = free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        self.api = self._spawn(["serve"], {"GW_PORT": str(port), "GW_WORKERS": "0"}, "api")
        self._wait_http()

    def _spawn(self, argv: list[str], extra: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        return subprocess.Popen(
            [graphwright_script(), *argv],
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_http(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise SystemExit((self.folder / "api.log").read_text()[-3000:])
            try:
                if httpx.get(self.api_url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit("graphwright serve did not become ready within 60 s")

    def close(self) -> None:
        stop(self.api)
        self.redis.stop()
        remove_private_postgres(self.pg)

    def counters(self, workers: list[subprocess.Popen[bytes]]) -> Counters:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            statements = conn.execute(
                "select coalesce(sum(calls), 0)::bigint from pg_stat_statements"
                " where query not like %s and query not like %s",
                (f"%{POLL_MARK}%", "%pg_stat_statements%"),
            ).fetchone()
            xacts = conn.execute(
                "select xact_commit + xact_rollback from pg_stat_database"
                " where datname = current_database()"
            ).fetchone()
            lsn = conn.execute("select pg_current_wal_lsn()::text").fetchone()
        assert statements is not None
        assert xacts is not None
        assert lsn is not None
        return Counters(
            at=time.monotonic(),
            busy=machine_busy(),
            pg_cpu={pid: proc_cpu(pid) for pid in cluster_pids(self.pg)},
            worker_cpu=sum(proc_cpu(w.pid) for w in workers),
            api_cpu=proc_cpu(self.api.pid),
            statements=int(statements[0]),
            xacts=int(xacts[0]),
            wal_lsn=str(lsn[0]),
        )

    async def submit(self, count: int) -> list[tuple[str, str]]:
        """Create ``count`` runs, each on a new thread; return (thread, run) ids."""
        created: list[tuple[str, str]] = []
        queue = list(range(count))
        async with httpx.AsyncClient(base_url=self.api_url, timeout=60) as http:

            async def one() -> None:
                while queue:
                    queue.pop()
                    thread = str(uuid.uuid4())
                    response = await http.post(
                        f"/threads/{thread}/runs",
                        json={
                            "assistant_id": CHAIN,
                            "input": {"token": uuid.uuid4().hex[:12]},
                            "if_not_exists": "create",
                        },
                    )
                    response.raise_for_status()
                    created.append((thread, response.json()["run_id"]))

            await asyncio.gather(*(one() for _ in range(self.args.submitters)))
        return created

    def wait_done(self, run_ids: list[str], timeout: float = 600) -> int:
        """Poll until every run has ended; return how many did not succeed."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while True:
                row = conn.execute(
                    f"{POLL_MARK} select count(*) filter (where status in"
                    " ('pending', 'running')), count(*) filter (where status <> 'success')"
                    " from gw_runs where run_id = any(%s)",
                    (run_ids,),
                ).fetchone()
                assert row is not None
                if row[0] == 0:
                    return int(row[1])
                if time.monotonic() > deadline:
                    raise SystemExit(f"{row[0]} runs still open after {timeout} s")
                time.sleep(0.05)

    def phase(self, workers: int) -> Phase:
        procs = [
            self._spawn(["worker"], {"GW_WORKERS": str(self.args.slots)}, f"worker{workers}-{i}")
            for i in range(workers)
        ]
        try:
            for i in range(workers):
                wait_log(self.folder / f"worker{workers}-{i}.log", "run slots", procs[i])
            warm = asyncio.run(self.submit(workers * self.args.slots))
            self.wait_done([run for _, run in warm])
            with psycopg.connect(self.db_url, autocommit=True) as conn:
                conn.execute("select pg_stat_statements_reset()")
            before = self.counters(procs)
            started = time.monotonic()
            created = asyncio.run(self.submit(self.args.runs))
            failed = self.wait_done([run for _, run in created])
            seconds = time.monotonic() - started
            after = self.counters(procs)
        finally:
            for proc in procs:
                stop(proc)
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            wal = conn.execute(
                "select pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (after.wal_lsn, before.wal_lsn)
            ).fetchone()
        assert wal is not None
        return Phase(
            workers=workers,
            runs=self.args.runs,
            seconds=seconds,
            pg_cpu=sum(v - before.pg_cpu.get(pid, 0.0) for pid, v in after.pg_cpu.items()),
            worker_cpu=after.worker_cpu - before.worker_cpu,
            api_cpu=after.api_cpu - before.api_cpu,
            statements=after.statements - before.statements,
            xacts=after.xacts - before.xacts,
            wal_bytes=float(wal[0]),
            busy=(after.busy - before.busy) / (after.at - before.at) / (os.cpu_count() or 1),
            failed=failed,
        )


def wait_log(log: Path, marker: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until ``marker`` appears in ``log`` (the process says it is ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{log.name} exited:\n{log.read_text()[-3000:]}")
        if marker in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise SystemExit(f"{log.name} not ready within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def report(phases: list[Phase]) -> None:
    """Print one row per phase and the ratios to the first."""
    base = phases[0]
    header = (
        f"{'workers':>7} {'runs/s':>7} {'x1':>5} {'pg ms/run':>9} {'wrk ms/run':>10}"
        f" {'api ms/run':>10} {'stmt/run':>8} {'xact/run':>8} {'WAL kB/run':>10}"
        f" {'busy':>5} {'failed':>6}"
    )
    print(header)
    for p in phases:
        rate = p.runs / p.seconds
        print(
            f"{p.workers:>7} {rate:>7.1f} {rate / (base.runs / base.seconds):>5.2f}"
            f" {1000 * p.pg_cpu / p.runs:>9.2f} {1000 * p.worker_cpu / p.runs:>10.2f}"
            f" {1000 * p.api_cpu / p.runs:>10.2f} {p.statements / p.runs:>8.1f}"
            f" {p.xacts / p.runs:>8.1f} {p.wal_bytes / p.runs / 1024:>10.1f}"
            f" {100 * p.busy:>4.0f}% {p.failed:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4", help="worker processes per phase")
    parser.add_argument("--slots", type=int, default=4, help="run slots per worker (GW_WORKERS)")
    parser.add_argument("--runs", type=int, default=400, help="runs per phase")
    parser.add_argument("--submitters", type=int, default=16, help="requests in flight")
    parser.add_argument("--no-fsync", action="store_true", help="run PostgreSQL with fsync=off")
    args = parser.parse_args()
    phases = [int(x) for x in args.workers.split(",")]
    print(
        f"{len(DOCUMENTS[CHAIN]['nodes'])}-node chain, {args.runs} runs per phase,"
        f" {args.slots} slots per worker, {args.submitters} requests in flight,"
        f" fsync {'off' if args.no_fsync else 'on'}, {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="gw_scaleout_") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            results = [bench.phase(n) for n in phases]
        finally:
            bench.close()
    report(results)


if __name__ == "__main__":
    main()
