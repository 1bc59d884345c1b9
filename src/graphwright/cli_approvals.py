"""``graphwright approvals``: the approvals inbox from the terminal (list, show, decide).

Against the database (``GW_DATABASE_URL`` or the embedded one) ``decide`` also
runs the resumed thread here, to its end or its next gate, as ``resume`` does;
with ``--url`` the server decides and its workers run the thread on.
"""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from graphwright.cli_common import (
    ApiKeyOpt,
    JsonOpt,
    RegistryOpt,
    ServerUrlOpt,
    TokenOpt,
    _arun,
    _print_json,
    _registry,
    _settings,
    age,
    command_prefix,
    err,
    open_client,
    parse_pairs,
    remote_failure,
    span,
    table,
)

if TYPE_CHECKING:
    from graphwright.runtime.engine import Engine
    from graphwright.settings import Settings

__all__ = ["approvals_app", "parse_age", "parse_edits"]

approvals_app = typer.Typer(
    name="approvals",
    help="Approval gates waiting for a person: list, show, decide.",
    no_args_is_help=True,
)

StatusName = Literal["pending", "decided", "expired", "cancelled", "any"]
ApprovalIdArg = Annotated[str, typer.Argument(help="The approval id (from `approvals list`).")]
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
PROMPT_WIDTH = 60


def parse_age(text: str | None, option: str) -> float | None:
    """Seconds of ``90``, ``90s``, ``15m``, ``2h`` or ``1.5d`` (None stays None).

    Raises:
        typer.BadParameter: anything else.
    """
    if text is None:
        return None
    found = _AGE.match(text)
    if found is None:
        raise typer.BadParameter(f"{text!r}: use a number of s, m, h or d (90s, 15m, 2h, 1d)")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse_edits(pairs: list[str] | None) -> dict[str, Any] | None:
    """``--edit FIELD=VALUE`` as edits; VALUE is JSON, and text that is not JSON is a string."""
    edits: dict[str, Any] = {}
    for name, raw in parse_pairs(pairs, "--edit").items():
        try:
            edits[name] = json.loads(raw)
        except ValueError:
            edits[name] = raw
    return edits or None


# -- list ------------------------------------------------------------------------------


@approvals_app.command("list")
def list_approvals(
    status: Annotated[
        StatusName,
        typer.Option("--status", "-s", help="pending, decided, expired, cancelled, any."),
    ] = "pending",
    workflow: Annotated[
        str | None, typer.Option("--workflow", "-w", help="Only gates of this workflow.")
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", "-t", help="Only gates of this thread.")
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata", "-m", help="Only gates whose thread metadata has KEY=VALUE (repeatable)."
        ),
    ] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Created at least this long ago (90s, 15m, 2h, 1d).")
    ] = None,
    newer_than: Annotated[
        str | None, typer.Option(help="Created at most this long ago (90s, 15m, 2h, 1d).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Approvals per page.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Approvals to skip (next pages).")] = 0,
    json_output: JsonOpt = False,
    url: ServerUrlOpt = None,
    api_key: ApiKeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Approvals, oldest first (default: pending): id, age, workflow, node, thread, prompt."""
    filters: dict[str, Any] = {
        "status": status,
        "workflow_id": workflow,
        "thread_id": thread,
        "metadata": parse_pairs(metadata, "--metadata") or None,
        "older_than": parse_age(older_than, "--older-than"),
        "newer_than": parse_age(newer_than, "--newer-than"),
        "limit": limit,
        "offset": offset,
    }
    if url is None:
        found = _arun(lambda: _local_list(_settings(), filters))
    else:
        try:
            with open_client(url, api_key, token) as client:
                found = [a.model_dump(mode="json") for a in client.approvals.list(**filters)]
        except Exception as exc:  # noqa: BLE001 - the client's errors, printed with a code
            remote_failure(exc, url)
    if json_output:
        _print_json(found)
        return
    if not found:
        err.print(f"no {'' if status == 'any' else status + ' '}approvals match", markup=False)
        return
    table(
        [
            [
                a["approval_id"],
                age(a["created_at"]),
                _status_text(a),
                a["workflow_id"],
                a["node"],
                a["thread_id"],
                _clip(a["prompt"]),
            ]
            for a in found
        ],
        ["APPROVAL", "AGE", "STATUS", "WORKFLOW", "NODE", "THREAD", "PROMPT"],
    )
    remote = "" if url is None else f" --url {url}"
    first = found[0]
    prefix = command_prefix()
    err.print(f"show:   {prefix} approvals show {first['approval_id']}{remote}", markup=False)
    if first["status"] == "pending":
        err.print(
            f"decide: {prefix} approvals decide {first['approval_id']} "
            f"--decision {first['decisions'][0]}{remote}",
            markup=False,
        )
    if len(found) == limit:
        err.print(f"more:   add --offset {offset + limit}", markup=False)


async def _local_list(settings: Settings, filters: dict[str, Any]) -> list[dict[str, Any]]:
    from graphwright.runtime.database import Database
    from graphwright.store.approvals import ApprovalQuery, ApprovalStore

    query = ApprovalQuery(
        status=None if filters["status"] == "any" else filters["status"],
        workflow_id=filters["workflow_id"],
        thread_id=filters["thread_id"],
        metadata=filters["metadata"],
        min_age=filters["older_than"],
        max_age=filters["newer_than"],
        limit=filters["limit"],
        offset=filters["offset"],
    )
    async with Database(settings, connect_timeout=5) as database:
        records = await ApprovalStore(database.pool).list(settings.tenant, query)
    return [record.to_dict() for record in records]


# -- show ------------------------------------------------------------------------------


@approvals_app.command("show")
def show_approval(
    approval_id: ApprovalIdArg,
    json_output: JsonOpt = False,
    url: ServerUrlOpt = None,
    api_key: ApiKeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """One approval: prompt, allowed decisions, editable fields, what it shows, its decision."""
    found = _get(approval_id, url, api_key, token)
    if json_output:
        _print_json(found)
        return
    lines = [
        f"approval  {found['approval_id']}",
        f"status    {_status_text(found)}, created {age(found['created_at'])} ago" + _expiry(found),
        f"workflow  {found['workflow_id']}, node {found['node']}",
        f"thread    {found['thread_id']} (run {found['run_id']})",
        f"prompt    {found['prompt']}",
        f"decisions {', '.join(found['decisions'])}",
    ]
    if found["editable"]:
        lines.append(f"editable  {', '.join(found['editable'])}")
    if found["thread_metadata"]:
        pairs = " ".join(f"{k}={v}" for k, v in sorted(found["thread_metadata"].items()))
        lines.append(f"metadata  {pairs}")
    for name, value in (found.get("show") or {}).items():
        lines.append(f"show      {name}: {_clip(json.dumps(value, ensure_ascii=False), 200)}")
    if found.get("error"):
        lines.append(f"error     {json.dumps(found['error'], ensure_ascii=False)}")
    if found["decision"]:
        lines.append(f"decided   {json.dumps(found['decision'], ensure_ascii=False)}")
        lines.append(f"by        {found['decided_by']} at {found['decided_at']}")
    if found.get("resume_run_id"):
        lines.append(f"resumed   in run {found['resume_run_id']}")
    for line in lines:
        typer.echo(line)
    if found["status"] == "pending":
        remote = "" if url is None else f" --url {url}"
        edit = f" --edit {found['editable'][0]}='...'" if found["editable"] else ""
        prefix = command_prefix()
        for decision in found["decisions"]:
            extra = edit if decision == "edit" else ""
            err.print(
                f"decide:   {prefix} approvals decide {approval_id} --decision {decision}"
                f"{extra}{remote}",
                markup=False,
            )


def _get(approval_id: str, url: str | None, api_key: str | None, token: str | None) -> Any:
    if url is not None:
        try:
            with open_client(url, api_key, token) as client:
                return client.approvals.get(approval_id).model_dump(mode="json")
        except Exception as exc:  # noqa: BLE001 - the client's errors, printed with a code
            remote_failure(exc, url)

    async def go() -> dict[str, Any]:
        from graphwright.runtime.database import Database
        from graphwright.store.approvals import ApprovalStore

        settings = _settings()
        async with Database(settings, connect_timeout=5) as database:
            record = await ApprovalStore(database.pool).get(settings.tenant, approval_id)
        return record.to_dict()

    return _arun(go)


# -- decide ----------------------------------------------------------------------------


@approvals_app.command("decide")
def decide_approval(
    approval_id: ApprovalIdArg,
    decision: Annotated[
        str, typer.Option("--decision", "-d", help="One of the approval's decisions.")
    ],
    comment: Annotated[str | None, typer.Option("--comment", "-c", help="Recorded.")] = None,
    edit: Annotated[
        list[str] | None,
        typer.Option(
            "--edit",
            "-e",
            help="FIELD=VALUE for an editable field, VALUE as JSON (text that is not JSON is a "
            "string); repeatable.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Who decides (recorded; default: your user name; a server with "
            "authentication records the key or token instead)."
        ),
    ] = None,
    registry: RegistryOpt = None,
    url: ServerUrlOpt = None,
    api_key: ApiKeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Decide a pending approval; locally the thread then runs on here to its end or next gate."""
    edits = parse_edits(edit)
    who = by or _user()
    if url is not None:
        _decide_remote(url, api_key, token, approval_id, decision, comment, edits, who)
        return
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)

    async def go() -> int:
        async with Engine(settings, registry=reg) as engine:
            return await _decide_here(engine, approval_id, decision, comment, edits, who)

    raise typer.Exit(_arun(go))


async def _decide_here(
    engine: Engine,
    approval_id: str,
    decision: str,
    comment: str | None,
    edits: dict[str, Any] | None,
    by: str,
) -> int:
    from graphwright.cli_progress import _follow, _show_result
    from graphwright.errors import WorkflowConflictError

    runtime = engine.runtime
    try:
        done = await runtime.approvals.decide(
            engine.tenant, approval_id, decision=decision, comment=comment, edits=edits, by=by
        )
    except WorkflowConflictError as exc:
        _say_conflict(exc.code, exc.message, exc.details)
        return 2
    record = done.approval
    err.print(
        f"approval {approval_id} decided: {decision} by {record.decided_by}; "
        f"thread {record.thread_id} resumes in run {done.resume_run_id}",
        markup=False,
    )
    run = await runtime.runs.reclaim(
        engine.tenant,
        done.resume_run_id,
        owner=runtime.owner,
        lease_seconds=engine.settings.lease_seconds,
        max_attempts=engine.settings.run_max_attempts,
    )
    if run is None:  # a worker of a running `serve` or `worker` took it first
        err.print(
            f"  a worker runs it; follow: {command_prefix()} watch --thread {record.thread_id} "
            f"--run {done.resume_run_id}",
            markup=False,
        )
        return 0
    return _show_result(await _follow(runtime.executor.process(run)))


def _decide_remote(
    url: str,
    api_key: str | None,
    token: str | None,
    approval_id: str,
    decision: str,
    comment: str | None,
    edits: dict[str, Any] | None,
    by: str,
) -> None:
    from graphwright.client import ConflictError

    try:
        with open_client(url, api_key, token, timeout=30.0) as client:
            done = client.approvals.decide(
                approval_id, decision, comment=comment, edits=edits, by=by
            )
    except ConflictError as exc:
        _say_conflict(exc.code, exc.detail, exc.details)
        raise typer.Exit(2) from exc
    except Exception as exc:  # noqa: BLE001 - the client's errors, printed with a code
        remote_failure(exc, url)
    err.print(
        f"approval {approval_id} decided: {decision} by {done.decided_by}; "
        f"thread {done.thread_id} resumes in run {done.resume_run_id}",
        markup=False,
    )
    err.print(
        f"follow: {command_prefix()} watch --thread {done.thread_id} "
        f"--run {done.resume_run_id} --url {url}",
        markup=False,
    )
    _print_json(done.model_dump(mode="json"))


# -- shared ----------------------------------------------------------------------------


def _say_conflict(code: str, message: str, details: dict[str, Any]) -> None:
    """An approval that cannot be decided (any more): who decided it, and when."""
    err.print(f"error: [{code}] {message}", markup=False)
    if details.get("decided_by"):
        err.print(
            f"  {details.get('status', 'decided')} by {details['decided_by']} "
            f"at {details.get('decided_at')}",
            markup=False,
        )


def _user() -> str:
    try:
        return f"{getpass.getuser()} (cli)"
    except (KeyError, OSError):
        return "cli"


def _status_text(approval: dict[str, Any]) -> str:
    decision = approval.get("decision") or {}
    if approval["status"] in ("decided", "expired") and decision.get("decision"):
        return f"{approval['status']}: {decision['decision']}"
    return str(approval["status"])


def _expiry(approval: dict[str, Any]) -> str:
    expires = approval.get("expires_at")
    if not expires or approval["status"] != "pending":
        return ""
    left = (datetime.fromisoformat(expires) - datetime.now(UTC)).total_seconds()
    if left <= 0:
        return ", expiry due now"
    return f", expires in {span(left)}"


def _clip(text: str, width: int = PROMPT_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
