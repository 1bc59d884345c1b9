"""``graphwright watch``: a run's or a thread's progress in the terminal, live.

:class:`WatchState` folds stream events into what the view shows (pure);
:func:`format_line` is the one-line-per-event form for logs, pipes and tests;
:func:`watch` follows the server with :class:`graphwright.client.Client`.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from graphwright.client import (
    Client,
    GraphwrightAPIError,
    GraphwrightClientError,
    ProgressEvent,
    StreamEvent,
)

__all__ = ["WatchState", "format_line", "run_status", "watch"]

_STYLES = {
    "running": "cyan",
    "done": "green",
    "failed": "red",
    "retrying": "yellow",
    "waiting": "yellow",
    "decided": "green",
}
_EXIT = {"success": 0, "interrupted": 0, "error": 1, "timeout": 1}
_MODES = ("progress",)  # progress is logged for every run, whatever modes it was started with
_RUN_STATUS = {"completed": "success", "failed": "error"}
"""The engine's run outcomes (``run.finished`` events) in the API's run vocabulary."""
_PROBE_SECONDS = 3.0
"""How long the first request may take before ``watch`` says the server is unreachable."""


@dataclass
class NodeRow:
    """One node of one run as the view shows it."""

    run_id: str
    label: str
    status: str = "running"
    started: datetime | None = None
    duration_ms: float | None = None
    changed: list[str] = field(default_factory=list)
    error: str | None = None
    items_running: int = 0
    items_done: int = 0
    items_failed: int = 0
    map_done: int | None = None
    map_total: int | None = None
    fraction: float | None = None
    message: str | None = None
    decision: str | None = None


@dataclass
class RunRow:
    """One run of the followed thread."""

    run_id: str
    workflow: str = ""
    status: str = "running"


@dataclass
class ApprovalRow:
    """An approval gate reached by a run."""

    approval_id: str
    label: str
    prompt: str
    decisions: list[str]
    editable: list[str]
    status: str = "pending"
    decision: str | None = None


class WatchState:
    """What the live view shows, updated event by event (thread-safe for rendering)."""

    def __init__(self) -> None:
        self.runs: dict[str, RunRow] = {}
        self.nodes: dict[tuple[str, str], NodeRow] = {}
        self.approvals: dict[str, ApprovalRow] = {}
        self.errors: list[str] = []
        self.last_event_id: str | None = None
        self.closing: str | None = None
        self._lock = threading.Lock()

    def apply(self, event: StreamEvent) -> None:
        """Fold one event into the state."""
        with self._lock:
            self.last_event_id = event.id or self.last_event_id
            progress = event.progress()
            if progress is not None:
                self._apply_progress(progress)
            elif event.event == "metadata" and isinstance(event.data, dict):
                run_id = str(event.data.get("run_id"))
                self.runs.setdefault(run_id, RunRow(run_id))
            elif event.event == "error" and isinstance(event.data, dict):
                self.errors.append(f"[{event.data.get('error')}] {event.data.get('message')}")
            elif event.event == "run_done" and isinstance(event.data, dict):
                run_id = str(event.data.get("run_id"))
                self.runs.setdefault(run_id, RunRow(run_id)).status = str(event.data.get("status"))

    def _node(self, run_id: str, label: str) -> NodeRow:
        return self.nodes.setdefault((run_id, label), NodeRow(run_id, label))

    def _apply_progress(self, p: ProgressEvent) -> None:
        data = p.data
        label = _label(p)
        item = data.get("item_index") is not None
        row = self._node(p.run_id, label) if p.node else None
        if p.type == "run.started":
            self.runs[p.run_id] = RunRow(p.run_id, f"{p.workflow_id} v{p.workflow_version}")
        elif p.type == "run.finished":
            status = run_status(data.get("status"))
            self.runs.setdefault(p.run_id, RunRow(p.run_id)).status = status
        elif row is None:
            return
        elif p.type == "node.started":
            if not item:
                row.started, row.duration_ms = p.at, None
            elif not (row.items_running or row.items_done or row.items_failed):
                row.started, row.duration_ms = p.at, None  # the map's first item
            row.items_running += item
            row.status = "running"
        elif p.type == "node.finished" and not item:
            row.status, row.duration_ms = "done", data.get("duration_ms")
            row.changed = list(data.get("changed") or [])
        elif p.type == "node.failed" and not item:
            error = data.get("error") or {}
            row.error = f"[{error.get('code')}] {error.get('message')}"
            row.status = "retrying" if data.get("will_retry") else "failed"
        elif p.type in ("node.finished", "node.failed"):
            self._item_ended(row, p)
        elif p.type == "node.progress":
            row.fraction, row.message = data.get("fraction"), data.get("message")
        elif p.type == "map.progress":
            row.map_done, row.map_total = data.get("done"), data.get("total")
        elif p.type == "approval.requested":
            row.status = "waiting"
            approval_id = str(data.get("id"))
            self.approvals[approval_id] = ApprovalRow(
                approval_id,
                label,
                str(data.get("prompt", "")),
                list(data.get("decisions") or []),
                list(data.get("editable") or []),
            )
        elif p.type == "approval.decided":
            # Decided in the run that resumed the gate: the gate's node names the approval,
            # and the row of the run that stopped there no longer waits.
            decision = _decision(data.get("decision"))
            for approval in self.approvals.values():
                if approval.label == label and approval.status == "pending":
                    approval.status, approval.decision = "decided", decision
            for waiting in self.nodes.values():
                if waiting.label == label and waiting.status == "waiting":
                    waiting.status, waiting.decision = "decided", decision

    @staticmethod
    def _item_ended(row: NodeRow, p: ProgressEvent) -> None:
        """A map item ended: count it; the map row is done when no item runs any more."""
        row.items_running = max(row.items_running - 1, 0)
        if p.type == "node.failed":
            error = p.data.get("error") or {}
            row.error = f"[{error.get('code')}] {error.get('message')}"
            row.items_failed += 0 if p.data.get("will_retry") else 1
        else:
            row.items_done += 1
        if row.items_running == 0:
            row.status = "failed" if row.items_failed else "done"
            if row.started is not None and p.at is not None:
                row.duration_ms = (p.at - row.started).total_seconds() * 1000

    # -- rendering ----------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        with self._lock:
            return Group(*self._render())

    def _render(self) -> list[RenderableType]:
        parts: list[RenderableType] = []
        many = len(self.runs) > 1
        for run in self.runs.values():
            style = "green" if run.status == "success" else _STYLES.get(run.status, "yellow")
            parts.append(
                Text.from_markup(
                    f"[bold]run {escape(run.run_id)}[/bold] {escape(run.workflow)} "
                    f"[{style}]{escape(run.status)}[/{style}]"
                )
            )
        table = Table(box=None, pad_edge=False, show_edge=False)
        if many:
            table.add_column("run", style="dim", max_width=8)
        for name in ("node", "status", "time", "details"):
            table.add_column(name)
        for row in self.nodes.values():
            cells: list[RenderableType] = [row.run_id[:8]] if many else []
            style = _STYLES.get(row.status, "white")
            cells += [
                Text(row.label),
                Text(row.status, style=style),
                Text(_duration(row)),
                _details(row),
            ]
            table.add_row(*cells)
        if self.nodes:
            parts.append(table)
        for approval in self.approvals.values():
            if approval.status != "pending":
                continue
            parts.append(
                Text.from_markup(
                    f"[yellow]⏸ approval {escape(approval.approval_id)}[/yellow] at "
                    f"{escape(approval.label)}: {escape(approval.prompt)}\n"
                    f"    decisions: {escape(', '.join(approval.decisions))}"
                    + (
                        f"   editable: {escape(', '.join(approval.editable))}"
                        if approval.editable
                        else ""
                    )
                )
            )
        parts.extend(Text(f"error {e}", style="red") for e in self.errors)
        parts.append(
            Text(self.closing or f"following… last event {self.last_event_id or '-'}", style="dim")
        )
        return parts


def run_status(value: Any) -> str:
    """A run outcome in the API's words: ``completed`` -> ``success``, ``failed`` -> ``error``."""
    text = str(value)
    return _RUN_STATUS.get(text, text)


def _label(p: ProgressEvent) -> str:
    node = p.node or ""
    path = p.data.get("subworkflow_path")
    if isinstance(path, list) and path:
        node = "/".join([*map(str, path), node])
    return node


def _decision(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("decision")
    return None if value is None else str(value)


def _duration(row: NodeRow) -> str:
    if row.duration_ms is not None:
        return (
            f"{row.duration_ms / 1000:.2f}s"
            if row.duration_ms >= 1000
            else f"{row.duration_ms:.0f}ms"
        )
    if row.status == "running" and row.started is not None:
        return f"{(datetime.now(UTC) - row.started).total_seconds():.1f}s…"
    return ""


def _details(row: NodeRow) -> RenderableType:
    parts: list[RenderableType] = []
    if row.map_total:
        bar = ProgressBar(total=row.map_total, completed=row.map_done or 0, width=24)
        parts += [bar, Text(f" {row.map_done or 0}/{row.map_total}")]
    elif row.items_done or row.items_running or row.items_failed:
        parts.append(Text(f"items: {row.items_done} done, {row.items_running} running"))
        if row.items_failed:
            parts.append(Text(f", {row.items_failed} failed", style="red"))
    if row.fraction is not None and row.status == "running":
        parts += [
            ProgressBar(total=1.0, completed=float(row.fraction), width=16),
            Text(f" {row.message or ''}"),
        ]
    if row.decision is not None:
        parts.append(Text(f"decision: {row.decision}", style="dim"))
    if row.error:
        parts.append(Text(f" {row.error}", style="red"))
    elif row.changed:
        parts.append(Text(f"wrote {', '.join(row.changed)}", style="dim"))
    if len(parts) == 1:
        return parts[0]
    table = Table.grid()
    table.add_row(*parts)
    return table


# -- one line per event -------------------------------------------------------------


def format_line(event: StreamEvent) -> str:
    """One line for an event: ``<id> <type> <node> <details>`` (``-`` when it has no id)."""
    prefix = event.id or "-"
    p = event.progress()
    if p is None:
        if event.event == "run_done" and isinstance(event.data, dict):
            done = event.data
            return f"{prefix} run_done run={done.get('run_id')} status={done.get('status')}"
        return f"{prefix} {event.event} {_compact(event.data)}"
    data, label = p.data, _label(p)
    if data.get("item_index") is not None:
        label = f"{label}[{data['item_index']}]"
    detail = ""
    if p.type == "run.started":
        detail = f"{p.workflow_id} v{p.workflow_version} run={p.run_id} thread={p.thread_id}"
    elif p.type == "node.started":
        detail = label
    elif p.type == "node.finished":
        changed = ",".join(data.get("changed") or []) or "-"
        detail = f"{label} {float(data.get('duration_ms') or 0):.1f}ms changed={changed}"
    elif p.type == "node.failed":
        error = data.get("error") or {}
        retry = " (will retry)" if data.get("will_retry") else ""
        detail = f"{label} [{error.get('code')}] {error.get('message')}{retry}"
    elif p.type == "node.progress":
        fraction = data.get("fraction")
        percent = f"{float(fraction) * 100:.0f}%" if isinstance(fraction, int | float) else "-"
        detail = f"{label} {percent} {data.get('message') or ''}".rstrip()
    elif p.type == "map.progress":
        detail = f"{label} {data.get('done')}/{data.get('total')}"
    elif p.type == "approval.requested":
        decisions = ",".join(data.get("decisions") or [])
        detail = (
            f"{label} approval={data.get('id')} decisions={decisions} prompt={data.get('prompt')!r}"
        )
    elif p.type == "approval.decided":
        detail = f"{label} decision={_decision(data.get('decision'))} by={data.get('by')}"
    elif p.type == "run.finished":
        detail = f"status={run_status(data.get('status'))}"
    else:
        detail = f"{label} {_compact(data)}".strip()
    return f"{prefix} {p.type} {detail}".rstrip()


def _compact(data: Any, limit: int = 160) -> str:
    text = json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- following the server -----------------------------------------------------------


def watch(
    *,
    url: str,
    thread_id: str,
    run_id: str | None = None,
    once: bool = False,
    api_key: str | None = None,
    bearer_token: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Follow a run (until it ends) or a thread; return the exit code.

    A thread is followed until Ctrl-C, or with ``once`` until no run of it is
    pending or running (idle, interrupted or failed). ``once`` also prints one
    line per event instead of the live view, which is implied without a terminal.
    The server is asked about the thread first, with a short timeout and no
    retry, so an unreachable server fails within seconds.

    Exit codes: 0 when the (last) run succeeded or waits for approval (and after
    Ctrl-C on a thread), 1 when it failed, 2 when the server could not be
    reached or refused, 130 after Ctrl-C on a run.
    """
    out = out or sys.stdout
    lines = once or not out.isatty()
    console = Console(file=out, highlight=False)
    errors = Console(stderr=True, highlight=False)
    state = WatchState()
    try:
        with Client(
            url, api_key=api_key, bearer_token=bearer_token, timeout=_PROBE_SECONDS, retries=0
        ) as probe:
            probe.threads.get(thread_id)
            latest = probe.runs.list(thread_id, limit=1) if once and run_id is None else None
    except GraphwrightAPIError as exc:
        errors.print(f"error: [{exc.code}] {exc.detail}", markup=False)
        return 2
    except GraphwrightClientError as exc:
        errors.print(
            f"error: cannot reach the graphwright server at {url} ({exc}); "
            "is it running? Pass --url or set GW_URL",
            markup=False,
        )
        return 2
    if latest == []:
        print(f"thread {thread_id} has no runs", file=out, flush=True)
        return 0
    with Client(url, api_key=api_key, bearer_token=bearer_token) as client:
        try:
            if run_id is None:
                stream = client.follow_thread(thread_id, stream_mode=_MODES)
            else:
                stream = client.follow_run(thread_id, run_id, stream_mode=_MODES)
            with stream:
                if lines:
                    for event in stream:
                        state.apply(event)
                        print(format_line(event), file=out, flush=True)
                        settled = once and run_id is None and event.event == "run_done"
                        # A run ended: stop unless another one is pending or running.
                        status = client.threads.get(thread_id).status if settled else "busy"
                        if status != "busy":
                            line, code = _thread_final(state, thread_id, status)
                            print(line, file=out, flush=True)
                            return code
                    if run_id is None:
                        return 0
                    line, code = _final(client, state, thread_id, run_id)
                    print(line, file=out, flush=True)
                    return code
                with Live(state, console=console, refresh_per_second=8) as live:
                    for event in stream:
                        state.apply(event)
                    if run_id is None:
                        return 0
                    state.closing, code = _final(client, state, thread_id, run_id)
                    live.refresh()
                    return code
        except KeyboardInterrupt:
            stopped = f"stopped following (resume after event {state.last_event_id or '-'})"
            print(stopped, file=out, flush=True)
            return 0 if run_id is None else 130
        except GraphwrightAPIError as exc:
            errors.print(f"error: [{exc.code}] {exc.detail}", markup=False)
            return 2
        except GraphwrightClientError as exc:
            errors.print(f"error: {exc}", markup=False)
            return 2


def _thread_final(state: WatchState, thread_id: str, status: str) -> tuple[str, int]:
    """The final line of a followed thread that settled in ``status``, and its exit code.

    The exit code is that of the thread's last run.
    """
    last = list(state.runs.values())[-1].status if state.runs else "success"
    pending = [a.approval_id for a in state.approvals.values() if a.status == "pending"]
    line = f"thread {thread_id} {status}"
    if status == "interrupted" and pending:
        line += f": waiting for approval {', '.join(pending)}"
    return line, _EXIT.get(last, 1)


def _final(client: Client, state: WatchState, thread_id: str, run_id: str) -> tuple[str, int]:
    """The final status line of a followed run, and the exit code."""
    status = client.runs.get(thread_id, run_id).status
    pending = [a.approval_id for a in state.approvals.values() if a.status == "pending"]
    line = f"run {run_id} {status}"
    if status == "interrupted" and pending:
        line += f": waiting for approval {', '.join(pending)}"
    return line, _EXIT.get(status, 1)
