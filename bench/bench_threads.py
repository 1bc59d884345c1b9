"""The thread list and the approvals inbox at 100,000 threads per tenant, before/after indexes.

A scratch database gets graphwright's migrations up to ``0010`` (the schema before
``0011_thread_list_indexes.sql``), then ``--threads`` (100,000) threads for tenant
``acme`` and as many for tenant ``other`` (so the tenant filter has to do work),
loaded with one ``INSERT ... SELECT generate_series`` per table:

* metadata ``{graph_id, client_id, engagement_id, session_id}``: 5 workflows
  (``wf-0`` .. ``wf-4``), 500 clients, 5,000 engagements, a session per thread;
* status: 80 % completed, 8 % idle, 5 % failed, 5 % running, 2 % interrupted;
* ``created_at`` spread over 90 days, ``updated_at`` up to a day later;
* a pending approval on every interrupted thread (~2 %) and a decided one on ~5 %
  of the completed threads.

Then each query the console and the SDK make runs ``--reps`` (20) times through
graphwright's own store functions (``thread_search.search`` / ``count``,
``ApprovalStore.list``) on a pool opened by ``open_pool`` (as the service opens it:
statements prepared at once, so after 5 executions PostgreSQL may switch to a
generic plan, as it does in the service). The queries take turns, in an order
that rotates every round, and filter values rotate (20 clients, all workflows).
Printed: p50/p95 per query, and the plan (``EXPLAIN ANALYZE, BUFFERS``, captured
with ``auto_explain`` from the last execution, i.e. the plan really used) of every
query slower than ``--slow-ms`` (20) at p50 or that reads the tenant's threads
with a sequential scan.

The same measurements are repeated after applying the remaining migrations
(``0011``: the indexes) and ``ANALYZE``, in the same run and database, and the
before/after ratios printed. Nothing asserts on time: read the numbers.

Time filters (``created_after`` / ``created_before`` / ``updated_after`` /
``updated_before`` of ``POST /threads/search`` and ``/count``, the console's time
filter) are cases of their own: a day's window at a rotating age, the last 7 days,
the last 24 hours by update, and combined with a client or a status. After the
before/after table, each time-filtered case is also set side by side with the same
query without the time filter (ratio filtered / unfiltered, after the indexes).

Run: ``.venv/bin/python bench/bench_threads.py [--threads 100000] [--reps 20]``
(needs a PostgreSQL server where it may create a database, and the superuser
``LOAD 'auto_explain'``; ``--database-url``, ``--keep-db``).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psycopg
from _benchdb import DEFAULT_URL, percentile, scratch_database

from graphwright.store import thread_search
from graphwright.store.approvals import ApprovalQuery, ApprovalStore
from graphwright.store.migrations import apply_migrations, load_migrations
from graphwright.store.pool import Pool, open_pool
from graphwright.store.thread_search import ThreadFilter

TENANT = "acme"
OTHER = "other"
BEFORE_MIGRATION = "0011"  # the schema "before" is every migration named below this
WORKFLOWS = 5
CLIENTS = 500
NOW = datetime.now(UTC)  # the loaded threads' times are relative to the load, a moment later
# Each time-filtered case and the same query without its time filter.
UNFILTERED = {
    "time: created one day (1/90), page 21": "console page, created_at desc, 21",
    "time: created last 7 days, page 21": "console page, created_at desc, 21",
    "time: updated last 24 h, updated desc": "first page, updated_at desc, 50",
    "time: one day + client_id, page 21": "client_id (1 of 500)",
    "time: last 7 days + status failed": "status failed (5 %)",
    "time: count, created last 7 days": "count, all threads",
}
# Measured only as the unfiltered side of a comparison: no page or count the console makes.
REFERENCE_ONLY = {"count, all threads"}

_THREADS = """
insert into gw_threads (tenant_id, thread_id, workflow_id, workflow_version, status,
                        metadata, created_at, updated_at)
select tenant, md5(tenant || ':' || i)::uuid::text, 'wf-' || (i %% {workflows}), 1,
       case when s < 80 then 'completed' when s < 88 then 'idle' when s < 93 then 'failed'
            when s < 98 then 'running' else 'interrupted' end,
       jsonb_build_object(
           'graph_id', 'wf-' || (i %% {workflows}),
           'client_id', 'client-' || lpad((c %% {clients})::text, 3, '0'),
           'engagement_id', 'eng-' || lpad(((c %% {clients}) * 10 + i %% 10)::text, 5, '0'),
           'session_id', md5('s' || tenant || i)),
       created, created + make_interval(secs => abs(hashtextextended(tenant || i, 3)) %% 86400)
from unnest(array[%(tenant)s, %(other)s]) as tenant,
     generate_series(1, %(n)s) as i,
     lateral (select abs(hashtextextended(tenant || i, 1)) %% 100 as s,
                     abs(hashtextextended(tenant || i, 2)) as c,
                     now() - interval '90 days'
                     + make_interval(secs => abs(hashtextextended(tenant || i, 4)) %% 7776000)
                     as created) r
"""

_APPROVALS = """
insert into gw_approvals (tenant_id, approval_id, thread_id, run_id, workflow_id, node, prompt,
                          decisions, payload, status, decision, decided_by, decided_at,
                          created_at)
select tenant_id, md5(thread_id || ':a'), thread_id, md5(thread_id || ':r'), workflow_id,
       'review', 'Approve the findings?', '["approve", "reject"]', '{"show": {}}',
       case when status = 'interrupted' then 'pending' else 'decided' end,
       case when status = 'interrupted' then null else '{"decision": "approve"}'::jsonb end,
       case when status = 'interrupted' then null else 'analyst' end,
       case when status = 'interrupted' then null else updated_at end,
       updated_at - interval '1 minute'
from gw_threads
where status = 'interrupted' or (status = 'completed' and abs(hashtext(thread_id)) % 16 = 0)
"""


@dataclass(frozen=True)
class Case:
    """One query the console or the SDK makes, as a call of a store function."""

    name: str
    call: Callable[[Pool, int], Awaitable[Any]]


def _client(rep: int) -> str:
    return f"client-{(rep * 37) % CLIENTS:03d}"


def _day(rep: int) -> dict[str, datetime]:
    """A one-day window of ``created_at``, 5 to 84 days back (rotating with ``rep``)."""
    start = NOW - timedelta(days=5 + (rep * 17) % 80)
    return {"created_after": start, "created_before": start + timedelta(days=1)}


def _recent(days: float) -> dict[str, datetime]:
    return {"created_after": NOW - timedelta(days=days)}


def _cases() -> list[Case]:
    def page(**kw: Any) -> Callable[[Pool, int], Awaitable[Any]]:
        return lambda pool, rep: thread_search.search(pool, ThreadFilter(TENANT), **kw)

    def searched(
        filters: Callable[[int], ThreadFilter], **kw: Any
    ) -> Callable[[Pool, int], Awaitable[Any]]:
        return lambda pool, rep: thread_search.search(pool, filters(rep), **kw)

    newest = {"limit": 50, "sort_by": "updated_at", "sort_order": "desc"}
    console = {"limit": 21, "sort_by": "created_at", "sort_order": "desc"}
    return [
        Case("first page, updated_at desc, 50", page(**newest)),
        Case("console page, created_at desc, 21", page(**console)),
        Case("offset 5000, updated_at desc, 50", page(**newest, offset=5000)),
        Case(
            "client_id (1 of 500)",
            searched(lambda r: ThreadFilter(TENANT, metadata={"client_id": _client(r)}), **newest),
        ),
        Case(
            "status interrupted (2 %)",
            searched(lambda r: ThreadFilter(TENANT, statuses=["interrupted"]), **newest),
        ),
        Case(
            "status failed (5 %)",
            searched(lambda r: ThreadFilter(TENANT, statuses=["failed"]), **console),
        ),
        Case(
            "status completed (80 %)",
            searched(lambda r: ThreadFilter(TENANT, statuses=["completed"]), **newest),
        ),
        Case(
            "graph_id + status failed",
            searched(
                lambda r: ThreadFilter(
                    TENANT, statuses=["failed"], metadata={"graph_id": f"wf-{r % WORKFLOWS}"}
                ),
                **newest,
            ),
        ),
        Case(
            "count, client_id",
            lambda pool, r: thread_search.count(
                pool, ThreadFilter(TENANT, metadata={"client_id": _client(r)})
            ),
        ),
        Case("count, all threads", lambda pool, r: thread_search.count(pool, ThreadFilter(TENANT))),
        Case(
            "count, graph_id (20 %)",
            lambda pool, r: thread_search.count(
                pool, ThreadFilter(TENANT, metadata={"graph_id": f"wf-{r % WORKFLOWS}"})
            ),
        ),
        Case(
            "time: created one day (1/90), page 21",
            searched(lambda r: ThreadFilter(TENANT, **_day(r)), **console),
        ),
        Case(
            "time: created last 7 days, page 21",
            searched(lambda r: ThreadFilter(TENANT, **_recent(7)), **console),
        ),
        Case(
            "time: updated last 24 h, updated desc",
            searched(
                lambda r: ThreadFilter(TENANT, updated_after=NOW - timedelta(days=1)), **newest
            ),
        ),
        Case(
            "time: one day + client_id, page 21",
            searched(
                lambda r: ThreadFilter(TENANT, metadata={"client_id": _client(r)}, **_day(r)),
                **console,
            ),
        ),
        Case(
            "time: last 7 days + status failed",
            searched(lambda r: ThreadFilter(TENANT, statuses=["failed"], **_recent(7)), **console),
        ),
        Case(
            "time: count, created last 7 days",
            lambda pool, r: thread_search.count(pool, ThreadFilter(TENANT, **_recent(7))),
        ),
        Case(
            "inbox: pending, oldest first",
            lambda pool, r: ApprovalStore(pool).list(TENANT, ApprovalQuery()),
        ),
        Case(
            "inbox: pending + client_id",
            lambda pool, r: ApprovalStore(pool).list(
                TENANT, ApprovalQuery(metadata={"client_id": _client(r)})
            ),
        ),
        Case(
            "inbox: pending + workflow + graph_id",
            lambda pool, r: ApprovalStore(pool).list(
                TENANT,
                ApprovalQuery(
                    workflow_id=f"wf-{r % WORKFLOWS}", metadata={"graph_id": f"wf-{r % WORKFLOWS}"}
                ),
            ),
        ),
    ]


@dataclass
class Result:
    """Timings (ms) and the captured plan of one case in one phase."""

    times: list[float]
    plan: str = ""

    @property
    def p50(self) -> float:
        return percentile(self.times, 50)

    @property
    def p95(self) -> float:
        return percentile(self.times, 95)

    def seq_scan(self) -> bool:
        return "Seq Scan on gw_threads" in self.plan


async def _measure(pool: Pool, cases: list[Case], reps: int) -> dict[str, Result]:
    """Run every case ``reps`` times in rotating order, then once more under auto_explain."""
    results = {case.name: Result([]) for case in cases}
    for case in cases:  # warm-up: cache the pages, as a running service has them
        await case.call(pool, 0)
    for rep in range(reps):
        shift = rep % len(cases)
        for case in cases[shift:] + cases[:shift]:
            start = time.perf_counter()
            await case.call(pool, rep)
            results[case.name].times.append((time.perf_counter() - start) * 1000)
    notices: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(diag.message_primary or "")

    # The pool has one connection: settings and the notice handler stay on it.
    async with pool.connection() as conn:
        conn.add_notice_handler(keep)
        await conn.execute("set auto_explain.log_min_duration = 0")
    try:
        for case in cases:
            notices.clear()
            await case.call(pool, reps)
            results[case.name].plan = "\n".join(n for n in notices if "Query Text" in n)
    finally:
        async with pool.connection() as conn:
            await conn.execute("set auto_explain.log_min_duration = -1")
            conn.remove_notice_handler(keep)
    return results


async def _open(url: str) -> Pool:
    # One connection: every repetition reuses the same prepared statements, and the
    # auto_explain settings below apply to it.
    pool = await open_pool(url, min_size=1, max_size=1)
    async with pool.connection() as conn:
        await conn.execute("load 'auto_explain'")
        for setting, value in (
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_buffers", "on"),
            ("auto_explain.log_min_duration", "-1"),
            ("client_min_messages", "log"),
        ):
            await conn.execute("select set_config(%s, %s, false)", (setting, value))
    return pool


async def _load(pool: Pool, n: int) -> None:
    start = time.perf_counter()
    async with pool.connection() as conn:
        await conn.execute(
            _THREADS.format(workflows=WORKFLOWS, clients=CLIENTS).encode(),
            {"tenant": TENANT, "other": OTHER, "n": n},
            prepare=False,
        )
        await conn.execute(_APPROVALS.encode(), prepare=False)
        await conn.execute("analyze gw_threads")
        await conn.execute("analyze gw_approvals")
        cur = await conn.execute(
            "select (select count(*) from gw_threads) as threads,"
            " (select count(*) from gw_approvals where status = 'pending') as pending,"
            " (select count(*) from gw_approvals) as approvals,"
            " pg_size_pretty(pg_total_relation_size('gw_threads')) as size"
        )
        row = await cur.fetchone()
    assert row is not None
    print(
        f"loaded {row['threads']:,} threads ({row['size']} with indexes),"
        f" {row['approvals']:,} approvals ({row['pending']:,} pending)"
        f" in {time.perf_counter() - start:.1f} s"
    )


async def _indexes(pool: Pool) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select indexdef from pg_indexes where tablename in ('gw_threads', 'gw_approvals')"
            " order by tablename, indexname"
        )
        return [
            r["indexdef"].replace("CREATE ", "").replace(" ON public.", " ON ")
            for r in await cur.fetchall()
        ]


def _report(title: str, results: dict[str, Result], slow_ms: float, *, plans: bool) -> None:
    print(f"\n{title}")
    print(f"  {'query':40} {'p50 ms':>8} {'p95 ms':>8}  note")
    for name, result in results.items():
        notes = []
        if result.seq_scan():
            notes.append("SEQ SCAN of gw_threads")
        if result.p50 > slow_ms:
            notes.append(f"SLOW (> {slow_ms:g} ms)")
        print(f"  {name:40} {result.p50:8.2f} {result.p95:8.2f}  {', '.join(notes)}")
    if not plans:
        return
    for name, result in results.items():
        if result.seq_scan() or result.p50 > slow_ms:
            print(f"\n  -- plan of {name!r} (last execution, auto_explain):")
            for line in result.plan.splitlines():
                print("     " + line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--threads", type=int, default=100_000, help="per tenant")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--slow-ms", type=float, default=20.0)
    parser.add_argument("--plans", choices=["slow", "none"], default="slow")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    migrations = load_migrations()
    later = [m.name for m in migrations if m.name >= BEFORE_MIGRATION]
    cases = _cases()
    async with scratch_database(args.database_url, keep=args.keep_db) as url:
        pool = await _open(url)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                for m in migrations:
                    if m.name < BEFORE_MIGRATION:
                        shutil.copy(
                            Path(thread_search.__file__).parent / "migrations" / m.name, tmp
                        )
                await apply_migrations(pool, Path(tmp))
            await _load(pool, args.threads)
            print("\nbefore: indexes of gw_threads and gw_approvals")
            for line in await _indexes(pool):
                print("  " + line)
            before = await _measure(pool, cases, args.reps)
            _report("before", before, args.slow_ms, plans=args.plans == "slow")

            start = time.perf_counter()
            applied = await apply_migrations(pool)
            async with pool.connection() as conn:
                await conn.execute("analyze gw_threads")
                await conn.execute("analyze gw_approvals")
            print(
                f"\napplied {', '.join(applied) or '(nothing: no migration after 0010)'}"
                f" + analyze in {time.perf_counter() - start:.1f} s"
                f" (on {2 * args.threads:,} threads)"
            )
            for line in await _indexes(pool):
                print("  " + line)
            # Plans are rebuilt: the migration invalidated the prepared statements.
            after = await _measure(pool, cases, args.reps)
            _report("after", after, args.slow_ms, plans=args.plans == "slow")
        finally:
            await pool.close()

    print(
        f"\nbefore/after, {args.reps} repetitions each ({', '.join(later) or 'no new migration'}):"
    )
    print(
        f"  {'query':40} {'p50 before':>10} {'p50 after':>10} {'ratio':>7}"
        f" {'p95 before':>10} {'p95 after':>10}"
    )
    for case in cases:
        b, a = before[case.name], after[case.name]
        print(
            f"  {case.name:40} {b.p50:10.2f} {a.p50:10.2f} {b.p50 / a.p50:6.1f}x"
            f" {b.p95:10.2f} {a.p95:10.2f}"
        )
    print("\ntime filter side by side, after the indexes (same query without the time filter):")
    print(f"  {'query':40} {'p50 with':>10} {'p50 without':>11} {'ratio':>7}")
    for name, plain in UNFILTERED.items():
        w, wo = after[name], after[plain]
        print(f"  {name:40} {w.p50:10.2f} {wo.p50:11.2f} {w.p50 / wo.p50:6.2f}x  ({plain})")
    targeted = {k: v for k, v in after.items() if k not in REFERENCE_ONLY}
    worst = max(targeted.values(), key=lambda r: r.p50)
    name = next(k for k, v in targeted.items() if v is worst)
    verdict = "MEETS" if worst.p50 <= args.slow_ms else "MISSES"
    print(
        f"\nTarget: every query p50 <= {args.slow_ms:g} ms at {args.threads:,} threads per tenant"
        f" (not {', '.join(sorted(REFERENCE_ONLY))}: a reference only)"
    )
    print(f"  slowest after: {name!r} p50 {worst.p50:.2f} ms -> {verdict}")


if __name__ == "__main__":
    asyncio.run(main())
