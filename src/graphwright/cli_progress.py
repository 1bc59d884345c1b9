"""How the CLI shows a run: one line per event on stderr, then the outcome and a hint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from rich.markup import escape

from graphwright.cli_common import _print_json, command_prefix, err

if TYPE_CHECKING:
    from graphwright.runtime.results import RunEvent, RunResult

__all__ = ["_follow", "_show_event", "_show_result"]


def _show_event(event: RunEvent) -> None:
    node = event.node or ""
    data = event.data
    label = f"{node}[{data['item_index']}]" if data.get("item_index") is not None else node
    if data.get("subworkflow_path"):
        label = "/".join([*data["subworkflow_path"], label])
    if event.type == "run.started":
        err.print(
            f"[bold]run {event.run_id}[/bold] on thread {event.thread_id} "
            f"({event.workflow_id} v{event.workflow_version})"
        )
    elif event.type == "node.started":
        err.print(f"  [cyan]▶[/cyan] {label}", highlight=False)
    elif event.type == "node.finished":
        changed = ", ".join(data.get("changed", [])) or "nothing"
        err.print(
            f"  [green]✔[/green] {label}  {data.get('duration_ms', 0):.1f} ms  (wrote {changed})"
        )
    elif event.type == "node.failed":
        error = data.get("error", {})
        text = escape(f"[{error.get('code')}] {error.get('message')}")
        err.print(f"  [red]✘[/red] {escape(label)}  {text}")
    elif event.type == "approval.requested":
        err.print(f"  [yellow]⏸[/yellow] {label}  waiting for approval")
    elif event.type == "crew.task_completed":
        done, total = data.get("tasks_done"), data.get("tasks_total")
        err.print(f"    [magenta]⚙[/magenta] {escape(label)}  crew task {done}/{total} done")
    elif event.type == "crew.usage":
        err.print(
            f"    [magenta]⚙[/magenta] {escape(label)}  crew used {data.get('tokens', 0)} tokens "
            f"in {float(data.get('duration_ms') or 0):.0f} ms"
        )


def _show_result(result: RunResult) -> int:
    """Print a run's outcome in the run statuses of the API and ``watch``; the exit code.

    The engine's ``completed``/``failed`` are shown as ``success``/``error``, so the
    CLI, ``watch``, the SDK and the HTTP API name an outcome the same way.
    """
    from graphwright.watch import run_status

    status = run_status(result.status)
    if result.status == "completed":
        err.print(f"[green]{status}[/green] thread {result.thread_id}")
        _print_json(result.output)
        return 0
    if result.status == "interrupted":
        err.print(f"[yellow]{status}[/yellow]: waiting for approval on thread {result.thread_id}")
        for approval in result.approvals:
            err.print(f"  approval {approval.id} at node '{approval.node}'", markup=False)
            err.print(f"  prompt: {approval.prompt}", markup=False)
            err.print(f"  decisions: {', '.join(approval.decisions)}", markup=False)
            if approval.editable:
                err.print(f"  editable: {', '.join(approval.editable)}", markup=False)
        first = result.approvals[0].decisions[0] if result.approvals else "approve"
        err.print(
            f"  answer: {command_prefix()} resume --thread {result.thread_id} "
            f'--decision \'{{"decision": "{first}"}}\'',
            markup=False,
        )
        _print_json(
            {"thread_id": result.thread_id, "approvals": [a.to_dict() for a in result.approvals]}
        )
        return 0
    error = result.error or {}
    detail = escape(f"[{error.get('code')}] {error.get('message')}")
    err.print(f"[red]{status}[/red] {detail}")
    err.print(
        f"  retry after a fix: {command_prefix()} resume --thread {result.thread_id}",
        markup=False,
    )
    return 1


async def _follow(events: AsyncIterator[RunEvent], quiet: bool = False) -> RunResult:
    result: RunResult | None = None
    async for event in events:
        if not quiet:
            _show_event(event)
        if event.result is not None:
            result = event.result
    assert result is not None  # the engine always ends a stream with run.finished
    return result
