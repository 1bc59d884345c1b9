"""Fixtures of the fault tests: a PostgreSQL of the test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.faults.private_postgres import (
    PrivatePostgres,
    remove_private_postgres,
    start_private_postgres,
)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server on a free port that the test may stop and restart."""
    server = start_private_postgres()
    try:
        yield server
    finally:
        remove_private_postgres(server)
