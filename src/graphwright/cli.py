"""The ``graphwright`` command line: validate, render, publish, run and inspect workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from graphwright.cli_approvals import approvals_app
from graphwright.cli_common import MAX_FILE_BYTES as MAX_FILE_BYTES
from graphwright.cli_common import RegistryOpt, ThreadOpt
from graphwright.cli_common import _arun as _arun
from graphwright.cli_common import _fail as _fail
from graphwright.cli_common import _load_json as _load_json
from graphwright.cli_common import _print_json as _print_json
from graphwright.cli_common import _read_file as _read_file
from graphwright.cli_common import _registry as _registry
from graphwright.cli_common import _settings as _settings
from graphwright.cli_common import command_prefix as command_prefix
from graphwright.cli_common import err as err
from graphwright.cli_cron import cron_app
from graphwright.cli_db import db_app
from graphwright.cli_keys import keys_app
from graphwright.cli_migrate import migrate
from graphwright.cli_progress import _follow, _show_result
from graphwright.cli_prune import prune
from graphwright.cli_secrets import secrets_app
from graphwright.cli_service import serve, watch, worker
from graphwright.cli_threads import rerun_note, threads_app

# Each command imports what it uses: ``--help`` and ``validate`` must not pay for
# LangGraph, the database driver or the checkpointer (see bench/bench_imports.py).
if TYPE_CHECKING:
    from graphwright.errors import Problem
    from graphwright.graphs.spec import WorkflowSpec
    from graphwright.registry import Registry
    from graphwright.runtime.engine import Engine

__all__ = ["app", "command_prefix", "main"]

app = typer.Typer(
    name="graphwright",
    help="JSON workflows compiled to LangGraph, run durably on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(secrets_app)
app.add_typer(keys_app)
app.add_typer(db_app)
app.add_typer(threads_app)
app.add_typer(approvals_app)
app.add_typer(cron_app)
app.command()(prune)
app.command()(migrate)
EXAMPLES_DIR = Path(__file__).parent / "examples"
DEMO_INPUT = EXAMPLES_DIR / "inputs" / "asset-discovery.json"
_THREAD_STATUS = {"completed": "idle", "running": "busy", "failed": "error"}
"""The engine's thread statuses in the API's (and ``watch``'s): idle, busy, interrupted, error."""


def main() -> None:
    """Entry point of the ``graphwright`` script."""
    app()


# -- helpers -----------------------------------------------------------------------


def _read_document(path: Path) -> str:
    return _read_file(path, what="document")


def _sibling_specs(paths: list[Path]) -> dict[str, WorkflowSpec]:
    """Valid documents next to the given files, by id: subworkflows resolve to them."""
    from pydantic import ValidationError

    from graphwright.graphs.spec import WorkflowSpec

    found: dict[str, WorkflowSpec] = {}
    for folder in {p.resolve().parent for p in paths}:
        for candidate in sorted(folder.glob("*.json")):
            try:
                spec = WorkflowSpec.model_validate_json(_read_file(candidate))
            except (ValidationError, typer.BadParameter):
                continue
            found.setdefault(spec.id, spec)
    return found


# -- document commands -------------------------------------------------------------------


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Workflow documents.")],
    registry: RegistryOpt = None,
) -> None:
    """Validate documents: exit 0, or one line per problem (FILE:/pointer: [code] message)."""
    reg = _registry(_settings(), registry)
    specs = _sibling_specs(files)
    bad = 0
    for path in files:
        problems = _document_problems(path, reg, specs)
        for problem in problems:
            typer.echo(problem.render(str(path)))
        bad += bool(problems)
    if bad:
        raise typer.Exit(1)
    err.print(f"{len(files)} document(s) valid", markup=False)


def _document_problems(
    path: Path, reg: Registry, specs: dict[str, WorkflowSpec], *, published_elsewhere: bool = False
) -> list[Problem]:
    """Every problem of a document, as ``validate`` reports it (subworkflows: its siblings).

    With ``published_elsewhere`` a subworkflow that is not a sibling is left for
    the engine to find among the published workflows.
    """
    from graphwright.graphs.validate import check_workflow

    def resolve(workflow_id: str, version: int | None) -> WorkflowSpec | None:
        return specs.get(workflow_id)

    _, problems = check_workflow(_read_document(path), registry=reg, resolve=resolve)
    if published_elsewhere:
        problems = [p for p in problems if p.code != "subworkflow.unknown"]
    return problems


def _require_valid(paths: list[Path], reg: Registry) -> None:
    """Check documents before any database work; exit 1 with ``validate``'s lines if bad."""
    specs = _sibling_specs(paths)
    bad = 0
    for path in paths:
        problems = _document_problems(path, reg, specs, published_elsewhere=True)
        if problems:
            count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
            err.print(f"error: [workflow.invalid] {path} has {count}", markup=False)
        for problem in problems:
            err.print(problem.render(str(path)), markup=False)
        bad += bool(problems)
    if bad:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workflow document (for editors)."""
    from graphwright.graphs.spec import WorkflowSpec

    _print_json(WorkflowSpec.model_json_schema(by_alias=True))


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="Workflow document.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="mermaid or json.")] = "mermaid",
) -> None:
    """Print the workflow's graph as a Mermaid diagram (or JSON)."""
    from graphwright.graphs.render import render_json, render_mermaid
    from graphwright.graphs.validate import check_workflow

    spec, problems = check_workflow(_read_document(file))
    if spec is None:
        for problem in problems:
            typer.echo(problem.render(str(file)))
        raise typer.Exit(1)
    if fmt == "json":
        _print_json(render_json(spec))
    elif fmt == "mermaid":
        typer.echo(render_mermaid(spec))
    else:
        raise typer.BadParameter("--format is mermaid or json")


async def _publish_file(engine: Engine, path: Path) -> str:
    """Publish a document and, first, the sibling documents it runs as subworkflows."""
    from graphwright.graphs.pins import subworkflow_refs
    from graphwright.graphs.validate import check_workflow

    specs = _sibling_specs([path])
    raw = _read_document(path)
    spec, problems = check_workflow(raw)
    if spec is None:
        from graphwright.errors import WorkflowValidationError

        raise WorkflowValidationError(problems)
    done: set[str] = set()

    async def publish_children(current: WorkflowSpec, depth: int) -> None:
        for child_id, _ in subworkflow_refs(current):
            if child_id in done or child_id not in specs or depth > 16:
                continue
            done.add(child_id)
            await publish_children(specs[child_id], depth + 1)
            published = await engine.publish(specs[child_id])
            _note_published(published.workflow_id, published.version, published.created)

    await publish_children(spec, 0)
    published = await engine.publish(raw)
    _note_published(published.workflow_id, published.version, published.created)
    return published.workflow_id


def _note_published(workflow_id: str, version: int, created: bool) -> None:
    state = "published" if created else "unchanged"
    err.print(f"[dim]{workflow_id} v{version} {state}[/dim]")


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="Workflow documents.")],
    registry: RegistryOpt = None,
) -> None:
    """Validate and publish documents as new versions (identical content is a no-op)."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)
    _require_valid(files, reg)

    async def go() -> None:
        async with Engine(settings, registry=reg) as engine:
            for path in files:
                await _publish_file(engine, path)

    _arun(go)


# -- run commands --------------------------------------------------------------------------


@app.command()
def run(
    workflow: Annotated[str, typer.Argument(help="A document file, or a published workflow id.")],
    input: Annotated[str, typer.Option("--input", "-i", help="JSON object or @file.")] = "{}",
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Thread id.")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Run a workflow: live progress, then the output or the pending approval."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)
    data = _load_json(input, "--input")
    path = Path(workflow)
    if path.suffix == ".json":
        _require_valid([path], reg)

    async def go() -> int:
        async with Engine(settings, registry=reg) as engine:
            workflow_id = await _publish_file(engine, path) if path.suffix == ".json" else workflow
            if note := await rerun_note(engine, workflow_id, thread, data):
                err.print(note, markup=False)
            return _show_result(await _follow(engine.stream(workflow_id, data, thread_id=thread)))

    raise typer.Exit(_arun(go))


@app.command()
def resume(
    thread: ThreadOpt,
    decision: Annotated[
        str | None, typer.Option("--decision", "-d", help="Decision JSON (or @file).")
    ] = None,
    registry: RegistryOpt = None,
) -> None:
    """Answer a thread's approval gate, or continue a failed thread from its last checkpoint."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)
    answer = _load_json(decision, "--decision") if decision is not None else None

    async def go() -> int:
        async with Engine(settings, registry=reg) as engine:
            return _show_result(await _follow(engine.stream_resume(thread, answer)))

    raise typer.Exit(_arun(go))


@app.command()
def state(thread: ThreadOpt, registry: RegistryOpt = None) -> None:
    """Print a thread's current state, next nodes and pending approvals."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)

    async def go() -> None:
        async with Engine(settings, registry=reg) as engine:
            snapshot = (await engine.get_state(thread)).to_dict()
            snapshot["status"] = _THREAD_STATUS.get(snapshot["status"], snapshot["status"])
            _print_json(snapshot)

    _arun(go)


@app.command()
def history(
    thread: ThreadOpt,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    before: Annotated[str | None, typer.Option(help="Checkpoint id to page before.")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Print a thread's checkpoints, newest first."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, registry)

    async def go() -> None:
        async with Engine(settings, registry=reg) as engine:
            items = await engine.history(thread, limit=limit, before=before)
            _print_json([item.to_dict() for item in items])

    _arun(go)


@app.command()
def demo(
    decision: Annotated[str, typer.Option(help="How the demo answers the approval.")] = "approve",
) -> None:
    """Run the asset-discovery example end to end: progress, approval gate, answer, finish."""
    from graphwright.runtime.engine import Engine

    settings = _settings()
    reg = _registry(settings, ["graphwright.examples"])
    data = json.loads(DEMO_INPUT.read_text())

    async def go() -> int:
        async with Engine(settings, registry=reg) as engine:
            workflow_id = await _publish_file(engine, EXAMPLES_DIR / "asset-discovery.json")
            result = await _follow(engine.stream(workflow_id, data))
            _show_result(result)
            if result.status != "interrupted":
                return 1
            err.print(f"\n[bold]demo:[/bold] answering the approval with '{decision}'")
            result = await _follow(engine.stream_resume(result.thread_id, {"decision": decision}))
            code = _show_result(result)
            hint = command_prefix()
            err.print(f"\nstate:   {hint} state --thread {result.thread_id}", markup=False)
            err.print(f"history: {hint} history --thread {result.thread_id}", markup=False)
            return code

    raise typer.Exit(_arun(go))


# -- service (the commands are in cli_service.py) -------------------------------------------

app.command()(serve)
app.command()(worker)
app.command()(watch)
