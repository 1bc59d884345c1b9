#!/usr/bin/env bash
# Run every benchmark with its defaults. Extra arguments go to both scripts
# (for example: bench/run_all.sh --database-url postgresql://user@host:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
echo "== bench_overhead =="
"$PY" bench/bench_overhead.py "$@"
echo
echo "== bench_compile =="
"$PY" bench/bench_compile.py "$@"
echo
echo "== bench_service =="
"$PY" bench/bench_service.py "$@"
echo; echo "== bench_streams =="; "$PY" bench/bench_streams.py "$@"
echo; echo "== bench_prune =="; "$PY" bench/bench_prune.py "$@"
echo; echo "== bench_scaleout (its own PostgreSQL and Redis) =="; "$PY" bench/bench_scaleout.py
