"""CPU accounting from /proc for the benchmarks (Linux)."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all threads); 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def scan_procs(dbname: str) -> tuple[list[int], list[int]]:
    """PostgreSQL backends connected to ``dbname`` and redis-server processes."""
    pg: list[int] = []
    redis: list[int] = []
    marker = f" {dbname} ".encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                title = handle.read()
        except OSError:
            continue
        if title.startswith(b"postgres:") and marker in title:
            pg.append(int(entry.name))
        elif b"redis-server" in title.split(b"\0", 1)[0]:
            redis.append(int(entry.name))
    return pg, redis


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores; /proc/stat, idle and iowait excluded)."""
    with open("/proc/stat", "rb") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK
