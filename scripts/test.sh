#!/usr/bin/env bash
# The README's test command: install everything from uv.lock, then lint,
# type-check and run the whole test suite (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check uv
python3 -m uv sync --frozen --all-extras
python3 -m uv run --frozen ruff check src tests bench
python3 -m uv run --frozen ruff format --check src tests bench
python3 -m uv run --frozen mypy
python3 -m uv run --frozen pytest "$@"
