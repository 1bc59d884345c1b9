"""``graphwright threads list``: find threads again, in the database or on a server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from graphwright.cli_common import (
    ApiKeyOpt,
    JsonOpt,
    ServerUrlOpt,
    TokenOpt,
    _arun,
    _print_json,
    _settings,
    age,
    command_prefix,
    err,
    open_client,
    parse_pairs,
    remote_failure,
    table,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from graphwright.runtime.engine import Engine
    from graphwright.store.threads import ThreadRecord, ThreadStatus

__all__ = ["rerun_note", "threads_app"]

threads_app = typer.Typer(
    name="threads",
    help="Threads of the tenant (GW_TENANT, or the key's on a server): list and filter.",
    no_args_is_help=True,
)

ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]
_FIELDS = ["thread_id", "created_at", "updated_at", "metadata", "status"]
# The API's thread statuses (api/thread_views.py), kept here: importing the API costs seconds.
_API_STATUS: dict[ThreadStatus, str] = {
    "idle": "idle",
    "completed": "idle",
    "running": "busy",
    "interrupted": "interrupted",
    "failed": "error",
}


@threads_app.command("list")
def list_threads(
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only threads of this workflow.")
    ] = None,
    status: Annotated[
        ThreadStatusName | None,
        typer.Option("--status", "-s", help="idle, busy, interrupted or error."),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata", "-m", help="Only threads whose metadata has KEY=VALUE (repeatable)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Threads per page.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Threads to skip (next pages).")] = 0,
    json_output: JsonOpt = False,
    url: ServerUrlOpt = None,
    api_key: ApiKeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Threads, most recently updated first: id, workflow, status, age, metadata."""
    wanted = parse_pairs(metadata, "--metadata")
    if url is None:
        found = _arun(lambda: _local(workflow, status, wanted, limit, offset))
    else:
        found = _remote(url, api_key, token, workflow, status, wanted, limit, offset)
    if json_output:
        _print_json(found)
        return
    if not found:
        err.print("no threads match", markup=False)
        return
    table(
        [
            [
                t["thread_id"],
                str(t.get("workflow_id") or "-"),
                t["status"] + (f" ({t['error']})" if t.get("error") else ""),
                age(t["updated_at"]),
                age(t["created_at"]),
                " ".join(f"{k}={v}" for k, v in sorted(t["metadata"].items())) or "-",
            ]
            for t in found
        ],
        ["THREAD", "WORKFLOW", "STATUS", "UPDATED", "CREATED", "METADATA"],
    )
    _hints(found, url=url, limit=limit, offset=offset)


async def _local(
    workflow: str | None,
    status: str | None,
    metadata: dict[str, str],
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    from graphwright.runtime.database import Database
    from graphwright.store import thread_search
    from graphwright.store.thread_search import ThreadFilter

    settings = _settings()
    filters = ThreadFilter(
        settings.tenant,
        statuses=[mine for mine, theirs in _API_STATUS.items() if theirs == status]
        if status
        else None,
        metadata=metadata or None,
        workflow_id=workflow,
    )
    async with Database(settings, connect_timeout=5) as database:
        records = await thread_search.search(
            database.pool, filters, limit=limit, offset=offset, sort_by="updated_at"
        )
    return [_record_json(r, _API_STATUS[r.status]) for r in records]


def _record_json(record: ThreadRecord, status: str) -> dict[str, Any]:
    return {
        "thread_id": record.thread_id,
        "workflow_id": record.workflow_id,
        "status": status,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "metadata": record.metadata,
        "run_id": record.run_id,
        "error": (record.error or {}).get("code") if status == "error" else None,
    }


def _remote(
    url: str,
    api_key: str | None,
    token: str | None,
    workflow: str | None,
    status: str | None,
    metadata: dict[str, str],
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    from graphwright.client import GraphwrightClientError, Thread
    from graphwright.client.calls import Call

    body: dict[str, Any] = {
        "metadata": {**metadata, **({"graph_id": workflow} if workflow else {})},
        "limit": limit,
        "offset": offset,
        "sort_by": "updated_at",
        "sort_order": "desc",
        "select": _FIELDS,
    }
    if status:
        body["status"] = status
    # The graphwright client has no thread search yet: one call through its send().
    call = Call(
        "POST",
        "/threads/search",
        lambda response: [Thread.model_validate(item) for item in response.json()],
        json=body,
        idempotent=True,
    )
    try:
        with open_client(url, api_key, token) as client:
            threads = client.send(call)
    except GraphwrightClientError as exc:
        remote_failure(exc, url)
    if workflow and not threads:
        err.print(
            "note: a server matches --workflow on the thread metadata 'graph_id' (as LangGraph "
            "does); threads whose runs did not set it are listed without --workflow",
            markup=False,
        )
    return [
        {
            **t.model_dump(mode="json", include=set(_FIELDS)),
            "workflow_id": t.metadata.get("graph_id"),
        }
        for t in threads
    ]


def _hints(found: list[dict[str, Any]], *, url: str | None, limit: int, offset: int) -> None:
    prefix = command_prefix()
    first = found[0]["thread_id"]
    if url is None:
        err.print(f"state:     {prefix} state --thread {first}", markup=False)
    else:
        err.print(f"follow:    {prefix} watch --thread {first} --url {url} --once", markup=False)
    waiting = next((t["thread_id"] for t in found if t["status"] == "interrupted"), None)
    if waiting is not None:
        where = "" if url is None else f" --url {url}"
        err.print(f"approvals: {prefix} approvals list --thread {waiting}{where}", markup=False)
    if len(found) == limit:
        err.print(f"more:      add --offset {offset + limit}", markup=False)


async def rerun_note(
    engine: Engine, workflow_id: str, thread_id: str | None, data: Mapping[str, Any]
) -> str | None:
    """What ``run --thread`` on a thread that already ran will do to its state, or None.

    A new run continues from the thread's state: the input fields are set to the
    input, every other field keeps its value, and nodes' updates go through the
    reducers, so ``append``/``extend``/``merge``/``add`` fields grow run after run.
    """
    from graphwright.errors import NotFoundError

    if thread_id is None:
        return None
    try:
        thread = await engine.threads.get(engine.tenant, thread_id)
    except NotFoundError:
        return None
    if thread.workflow_id != workflow_id or thread.workflow_version is None:
        return None
    spec = (await engine.workflow(workflow_id, thread.workflow_version)).spec
    growing = [
        f"{name} ({field.reducer})"
        for name, field in spec.state.items()
        if field.reducer != "replace" and name not in data
    ]
    if not growing:
        return None
    return (
        f"note: thread {thread_id} already ran, and this run continues from its state: input "
        f"fields are replaced, the others keep their values, so {', '.join(growing)} add to "
        "what the earlier runs left. For a fresh state run without --thread (a new thread)."
    )
