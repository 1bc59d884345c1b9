"""``graphwright serve --examples`` publishes the bundled examples before it serves."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.service.conftest import server_env, start_server

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "src" / "graphwright" / "examples"


def test_serve_examples_publishes_every_example(database_url: str, tmp_path: Path) -> None:
    """A tenant with no workflows has every bundled example once serve --examples is up."""
    tenant = f"ex-{tmp_path.name[-8:].lower().replace('_', '-')}"
    env = server_env(database_url, tenant=tenant, GW_WORKERS="0")
    server = start_server(env, tmp_path / "server.log", args=("--examples",))
    try:
        listed = httpx.get(server.url + "/workflows").json()
    finally:
        server.stop()
    expected = {path.stem for path in EXAMPLES.glob("*.json")}
    published = set(_ids(listed))
    assert expected <= published, (expected, published)


def _ids(listed: object) -> list[str]:
    """Workflow ids of a /workflows answer (a list of workflows, or a page of them)."""
    items = listed.get("items", listed) if isinstance(listed, dict) else listed
    assert isinstance(items, list)
    return [str(item.get("workflow_id") or item.get("id")) for item in items]
