"""Suite-wide check: stop at once, with one line, when the test PostgreSQL is unreachable.

Without it every integration test fails on its own with a connection traceback
(tens of thousands of lines for the suite). Only runs that select tests needing
PostgreSQL (``tests/integration``, ``tests/e2e``) check; ``pytest tests/unit`` needs none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
NEEDS_POSTGRES = (TESTS / "integration", TESTS / "e2e")
REACH_TIMEOUT_SECONDS = 5


def _selects_postgres_tests(config: pytest.Config) -> bool:
    """Whether the paths and ``-m`` of this run select tests that need PostgreSQL."""
    markexpr = str(config.getoption("markexpr", default="") or "")
    if "not integration" in markexpr:
        return False
    paths = [Path(str(arg).split("::", 1)[0]) for arg in config.args] or [TESTS]
    for raw in paths:
        path = (config.invocation_params.dir / raw).resolve()
        for needed in NEEDS_POSTGRES:
            if path == needed or needed in path.parents or path in needed.parents:
                return True
    return False


def unreachable_reason(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used (first line of the error), or None."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=REACH_TIMEOUT_SECONDS) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Check the test server once (in the controller, not in each xdist worker)."""
    config = session.config
    if hasattr(config, "workerinput") or not _selects_postgres_tests(config):
        return
    from graphwright.store.pool import mask_url
    from tests.integration.conftest import _server_url

    url = _server_url()
    reason = unreachable_reason(url)
    if reason is not None:
        # A usage error: pytest prints this one line and exits 4, with no traceback.
        raise pytest.UsageError(
            f"PostgreSQL for the tests is unreachable at {mask_url(url)} ({reason}); start it "
            "or point GW_TEST_DATABASE_URL at one (tests/unit need none)"
        )
