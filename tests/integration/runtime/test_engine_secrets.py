"""Tenant secrets in real runs: node code reads them, and they leak nowhere.

The leak test searches every column of every table of the database (checkpoints,
their blobs and writes, events, runs, threads...) and the captured logs for the
value after a node failed with an error holding it.
"""

from __future__ import annotations

import logging
import os
import secrets as random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from psycopg import sql

from graphwright.errors import NodeExecutionError
from graphwright.registry import Registry
from graphwright.runtime.engine import Engine
from graphwright.store import Pool
from graphwright.store.secrets import generate_key

pytestmark = pytest.mark.integration

OpenEngine = Callable[..., Awaitable[Engine]]
LLM_KEY_ENV = "GW_TEST_SECRETS_LLM_KEY"


def document(workflow_id: str, ref: str) -> dict[str, Any]:
    """``note`` writes a canary to state, then ``call`` runs ``ref`` (retried once)."""
    return {
        "dsl": "graphwright/v1",
        "id": workflow_id,
        "state": {
            "notes": {"type": "array", "items": {"type": "string"}, "reducer": "append"},
        },
        "nodes": {
            "note": {"kind": "function", "ref": "t.note", "writes": "notes"},
            "call": {
                "kind": "function",
                "ref": ref,
                "writes": "notes",
                "retry": {"max_attempts": 2, "initial_interval": 0.01},
            },
        },
        "edges": [
            {"from": "START", "to": "note"},
            {"from": "note", "to": "call"},
            {"from": "call", "to": "END"},
        ],
    }


def registry(canary: str) -> Registry:
    """Node code that uses the tenant's CRM_TOKEN: reports on it, or fails holding it."""
    reg = Registry()

    @reg.function("t.note")
    def note() -> str:
        return canary

    @reg.function("t.peek")
    def peek(secrets: Mapping[str, str]) -> str:
        token = secrets.get("CRM_TOKEN", "")
        return f"names={','.join(sorted(secrets))} length={len(token)}"

    @reg.function("t.plain_failure")
    async def plain_failure(secrets: Mapping[str, str]) -> str:
        token = secrets["CRM_TOKEN"]
        raise ValueError(f"CRM refused token {token} (Authorization: Bearer {token})")

    @reg.function("t.provider_failure")
    def provider_failure() -> str:
        raise RuntimeError(f"provider refused the key {os.environ[LLM_KEY_ENV]}")

    @reg.function("t.coded_failure")
    def coded_failure(secrets: Mapping[str, str]) -> str:
        token = secrets["CRM_TOKEN"]
        raise NodeExecutionError(
            f"CRM refused {token}", code="crm.denied", details={"sent": token, "raw": [token]}
        ) from PermissionError(token)

    return reg


async def columns_holding(pool: Pool, needle: str) -> list[str]:
    """``schema.table.column`` of every stored value containing ``needle`` (bytea as UTF-8)."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "select c.table_schema, c.table_name, c.column_name, c.data_type"
            " from information_schema.columns c join information_schema.tables t"
            " on t.table_schema = c.table_schema and t.table_name = c.table_name"
            " where t.table_type = 'BASE TABLE'"
            " and c.table_schema not in ('pg_catalog', 'information_schema')"
        )
        columns = await cur.fetchall()
        found = []
        for column in columns:
            schema, table = column["table_schema"], column["table_name"]
            name = sql.Identifier(column["column_name"])
            if column["data_type"] == "bytea":
                test = sql.SQL("position(convert_to(%s, 'UTF8') in {}) > 0").format(name)
            else:
                test = sql.SQL("strpos({}::text, %s) > 0").format(name)
            query = sql.SQL("select exists(select 1 from {} where {}) as hit").format(
                sql.Identifier(schema, table), test
            )
            row = await (await conn.execute(query, (needle,))).fetchone()
            if row is not None and row["hit"]:
                found.append(f"{schema}.{table}.{column['column_name']}")
    return found


@pytest.mark.parametrize(
    ("ref", "code"),
    [("t.plain_failure", "node.failed"), ("t.coded_failure", "crm.denied")],
    ids=["plain-exception", "coded-error"],
)
async def test_a_secret_in_a_node_error_is_stored_and_logged_nowhere(
    open_engine: OpenEngine,
    pool: Pool,
    tenant: str,
    caplog: pytest.LogCaptureFixture,
    ref: str,
    code: str,
) -> None:
    """The run fails with its code; the secret is in no event, error, column or log line."""
    caplog.set_level(logging.DEBUG)
    value = f"horse battery staple {random.token_hex(4)}"
    canary = f"canary {random.token_hex(6)}"
    engine = await open_engine(registry(canary), secret_key=generate_key())
    await engine.runtime.secrets.set(tenant, "CRM_TOKEN", value)
    await engine.publish(document("leaky", ref))

    events = [event async for event in engine.stream("leaky", {})]
    result = events[-1].result
    assert result is not None
    state = await engine.get_state(result.thread_id)

    assert result.status == "failed"
    assert result.error is not None
    assert result.error["code"] == code
    assert "[redacted]" in result.error["message"]
    assert state.error == result.error
    failures = [e for e in events if e.type == "node.failed"]
    assert [e.data["will_retry"] for e in failures] == [True, False]
    assert all(value not in repr(event.to_dict()) for event in events)
    assert value not in repr(result)
    assert value not in repr(state.to_dict())
    # The search finds what was stored (the canary), so not finding the secret means something.
    holding_canary = await columns_holding(pool, canary)
    assert "public.checkpoint_blobs.blob" in holding_canary, holding_canary
    assert await columns_holding(pool, value) == []
    assert await columns_holding(pool, value.split()[-1]) == []
    assert value not in caplog.text


async def test_node_code_reads_its_own_tenants_secrets_only(
    open_engine: OpenEngine, tenant: str
) -> None:
    """The owner's run sees CRM_TOKEN; another tenant's run of the same code sees nothing."""
    key = generate_key()
    owner = await open_engine(registry("x"), secret_key=key)
    other = await open_engine(registry("x"), tenant=f"{tenant}-other", secret_key=key)
    await owner.runtime.secrets.set(tenant, "CRM_TOKEN", "twelve chars")
    for engine in (owner, other):
        await engine.publish(document("peek", "t.peek"))

    mine = await owner.run("peek", {})
    theirs = await other.run("peek", {})

    assert mine.output["notes"] == ["x", "names=CRM_TOKEN length=12"]
    assert theirs.output["notes"] == ["x", "names= length=0"]


async def test_without_a_key_runs_work_while_the_tenant_has_no_secrets(
    open_engine: OpenEngine, tenant: str
) -> None:
    """No GW_SECRET_KEY: an empty mapping at first; once the tenant has secrets, secrets.no_key."""
    keyless = await open_engine(registry("x"))
    await keyless.publish(document("peek", "t.peek"))
    empty = await keyless.run("peek", {})
    keyed = await open_engine(registry("x"), secret_key=generate_key())
    await keyed.runtime.secrets.set(tenant, "CRM_TOKEN", "twelve chars")

    refused = await keyless.run("peek", {})

    assert empty.output["notes"] == ["x", "names= length=0"]
    assert refused.status == "failed"
    assert refused.error is not None
    assert refused.error["code"] == "secrets.no_key"


async def test_a_wrong_key_fails_the_node_with_a_code(open_engine: OpenEngine, tenant: str) -> None:
    """Secrets set under one key, read under another: secrets.wrong_key, not retried."""
    first = await open_engine(registry("x"), secret_key=generate_key())
    await first.runtime.secrets.set(tenant, "CRM_TOKEN", "twelve chars")
    second = await open_engine(registry("x"), secret_key=generate_key())
    await second.publish(document("peek", "t.peek"))

    events = [event async for event in second.stream("peek", {})]
    result = events[-1].result

    assert result is not None
    assert result.error is not None
    assert result.error["code"] == "secrets.wrong_key"
    assert [e.data["will_retry"] for e in events if e.type == "node.failed"] == [False]
    assert "twelve chars" not in repr(result)


async def test_llm_api_keys_named_in_settings_are_redacted(
    open_engine: OpenEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider error holding the API key of an LLM in GW_LLMS reaches no error or event."""
    key = f"llm key words {random.token_hex(4)}"
    monkeypatch.setenv(LLM_KEY_ENV, key)
    llms = {"fast": {"provider": "scripted", "api_key_env": LLM_KEY_ENV}}
    engine = await open_engine(registry("x"), llms=llms)
    await engine.publish(document("provider", "t.provider_failure"))

    events = [event async for event in engine.stream("provider", {})]
    result = events[-1].result

    assert result is not None
    assert result.error is not None
    assert result.error["message"].endswith("provider refused the key [redacted]")
    assert all(key not in repr(event.to_dict()) for event in events)


async def test_each_run_reads_the_secrets_as_they_are_then(
    open_engine: OpenEngine, tenant: str
) -> None:
    """Secrets are read per run, not kept per process: a changed value reaches the next run."""
    engine = await open_engine(registry("x"), secret_key=generate_key())
    await engine.publish(document("peek", "t.peek"))
    await engine.runtime.secrets.set(tenant, "CRM_TOKEN", "four")
    before = await engine.run("peek", {})
    await engine.runtime.secrets.set(tenant, "CRM_TOKEN", "now eleven!")
    after = await engine.run("peek", {})

    assert before.output["notes"][-1] == "names=CRM_TOKEN length=4"
    assert after.output["notes"][-1] == "names=CRM_TOKEN length=11"
