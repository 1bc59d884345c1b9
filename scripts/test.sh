#!/usr/bin/env bash
# The README's test command: install everything from uv.lock, then lint,
# type-check and run the whole test suite (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
# scripts/uv.py runs uv, fetching it from PyPI first when the machine has none
# (no pip needed: works on a distribution Python that refuses `pip install`).
uv() { python3 scripts/uv.py "$@"; }
uv sync --frozen --all-extras
# tests/e2e drive the distribution's Chromium and Firefox ESR; install them when we may (root with apt),
# otherwise those tests skip and say why.
if { ! command -v chromium || ! command -v firefox-esr; } >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium firefox-esr
fi
uv run --frozen ruff check src tests bench
uv run --frozen ruff format --check src tests bench
uv run --frozen mypy
# Two test processes (pytest-xdist), a test file each at a time: the suite waits on
# servers and subprocesses more than it computes. GW_TEST_PROCESSES=0 runs it in one.
uv run --frozen pytest -n "${GW_TEST_PROCESSES:-2}" --dist loadfile "$@"
