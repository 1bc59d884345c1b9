"""The ``graphwright`` command line: validate, render, publish, run and inspect workflows."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from graphwright.cli_keys import keys_app
from graphwright.cli_migrate import migrate
from graphwright.cli_secrets import secrets_app
from graphwright.errors import ConfigurationError, GraphwrightError

# Each command imports what it uses: ``--help`` and ``validate`` must not pay for
# LangGraph, the database driver or the checkpointer (see bench/bench_imports.py).
if TYPE_CHECKING:
    from graphwright.errors import Problem
    from graphwright.graphs.spec import WorkflowSpec
    from graphwright.registry import Registry
    from graphwright.runtime.engine import Engine
    from graphwright.runtime.results import RunEvent, RunResult
    from graphwright.settings import Settings

__all__ = ["app", "command_prefix", "main"]

app = typer.Typer(
    name="graphwright",
    help="JSON workflows compiled to LangGraph, run durably on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(secrets_app)
app.add_typer(keys_app)
app.command()(migrate)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

RegistryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--registry", "-r", help="Module or .py file with register(registry); repeatable."
    ),
]
ThreadOpt = Annotated[str, typer.Option("--thread", "-t", help="Thread id.")]
EXAMPLES_DIR = Path(__file__).parent / "examples"
DEMO_INPUT = EXAMPLES_DIR / "inputs" / "asset-discovery.json"
_THREAD_STATUS = {"completed": "idle", "running": "busy", "failed": "error"}
"""The engine's thread statuses in the API's (and ``watch``'s): idle, busy, interrupted, error."""
MAX_FILE_BYTES = 10 * 2**20
"""Largest document or ``@file`` the CLI reads; workflow documents are far smaller."""


def main() -> None:
    """Entry point of the ``graphwright`` script."""
    app()


# -- helpers -----------------------------------------------------------------------


def command_prefix(
    *,
    argv0: str | None = None,
    env: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    cwd: Path | None = None,
) -> str:
    """How to run ``graphwright`` again from the user's shell, for the hints the CLI prints.

    Under ``uv run`` (which sets ``UV``) the virtual environment is on PATH only
    for this process: the hint is ``uv run --no-sync graphwright`` (``--no-sync``
    reuses the environment as it is, so no dependency group is installed), or
    ``python3 scripts/uv.py run --no-sync graphwright`` when there is no ``uv`` on
    PATH. Otherwise ``graphwright`` when it is on PATH, else the script's path.
    Arguments default to this process's ``sys.argv[0]``, environment and directory.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    uv = env.get("UV")
    if uv:
        fetched = cwd / ".cache" / "uv"  # where scripts/uv.py keeps the uv it fetched
        if Path(uv).resolve().is_relative_to(fetched.resolve()):
            return "python3 scripts/uv.py run --no-sync graphwright"
        if which("uv") is not None:
            return "uv run --no-sync graphwright"
        if (cwd / "scripts" / "uv.py").is_file():
            return "python3 scripts/uv.py run --no-sync graphwright"
        return f"{shlex.quote(uv)} run --no-sync graphwright"
    if which("graphwright") is not None:
        return "graphwright"
    script = Path(sys.argv[0] if argv0 is None else argv0)
    if script.name != "graphwright" or not script.is_file():
        return "graphwright"
    try:
        shown = f"./{script.resolve().relative_to(cwd.resolve())}"
    except ValueError:
        shown = str(script.resolve())
    return shlex.quote(shown)


def _settings() -> Settings:
    from pydantic import ValidationError

    from graphwright.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        name = "GW_" + str(first["loc"][0]).upper() if first["loc"] else "GW_*"
        _fail(ConfigurationError(f"{name}: {first['msg']}"))


def _registry(settings: Settings, extra: list[str] | None) -> Registry:
    from graphwright.registry import load_registry_modules

    modules = list(settings.registry_modules) + [
        m for m in extra or [] if m not in settings.registry_modules
    ]
    return load_registry_modules(modules, llms=settings.llms)


def _fail(exc: GraphwrightError, exit_code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(f'[{exc.code}] {exc.message}')}")
    for problem in exc.details.get("problems", [])[:50]:
        if isinstance(problem, dict):
            err.print(f"  {problem.get('pointer') or '/'}: {problem.get('message')}", markup=False)
    raise typer.Exit(exit_code)


def _arun(factory: Callable[[], Awaitable[T]]) -> T:
    import asyncio

    try:
        return asyncio.run(factory())  # type: ignore[arg-type]
    except GraphwrightError as exc:
        _fail(exc)


def _load_json(text: str, what: str) -> Any:
    if text.startswith("@"):
        text = _read_file(Path(text[1:]), what=f"{what} file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{what} is not valid JSON: {exc}") from exc


def _read_file(path: Path, *, what: str = "file") -> str:
    """The text of a regular UTF-8 file (or pipe) of at most ``MAX_FILE_BYTES``.

    Raises:
        typer.BadParameter: the file is missing, unreadable, not a regular file (a
            directory, ``/dev/zero``), too large or not UTF-8 (exit status 2).
    """
    try:
        mode = path.stat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):  # pipes: `@<(cmd)`, `@/dev/stdin`
            raise typer.BadParameter(f"{what} {path} is not a regular file or a pipe")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise typer.BadParameter(
            f"{what} {path} is larger than {MAX_FILE_BYTES // 2**20} MB; refusing to read it"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"{what} {path} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})"
        ) from exc


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


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


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


# -- service -------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (GW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GW_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Run slots in this process (GW_WORKERS; 0: API only).")
    ] = None,
    registry: RegistryOpt = None,
    examples: Annotated[
        bool,
        typer.Option(
            "--examples", help="Publish the bundled example workflows to GW_TENANT first."
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (LangGraph Server API + graphwright endpoints) with workers."""
    from graphwright.api import create_app
    from graphwright.api.serving import run_server

    settings = _settings()
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["workers"] = workers
    if overrides:
        settings = settings.model_copy(update=overrides)
    reg = _registry(settings, registry)
    try:
        api = create_app(settings, registry=reg)
    except GraphwrightError as exc:
        _fail(exc)  # an unsafe configuration (config.unsafe_cors): exit 2
    if examples:
        _arun(lambda: _publish_examples(settings, reg))
    run_server(api, settings)


async def _publish_examples(settings: Settings, reg: Registry) -> None:
    """Publish every bundled example (identical content is a no-op)."""
    from graphwright.runtime.engine import Engine

    async with Engine(settings, registry=reg) as engine:
        for path in sorted(EXAMPLES_DIR.glob("*.json")):
            await _publish_file(engine, path)


@app.command()
def worker(
    workers: Annotated[int | None, typer.Option(help="Concurrent run slots (GW_WORKERS).")] = None,
    registry: RegistryOpt = None,
) -> None:
    """Run workers only: claim and execute queued runs until SIGTERM (then drain)."""
    import asyncio
    import signal

    from graphwright.runtime.process import open_runtime

    settings = _settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if settings.workers < 1:
        raise typer.BadParameter("a worker needs at least one run slot")
    reg = _registry(settings, registry)
    from graphwright.logs import configure_logging

    configure_logging(settings.log_format)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_runtime(
            settings, registry=reg, wait_for_database=settings.startup_wait_seconds
        ) as services:
            err.print(
                f"graphwright worker {services.owner}: {settings.workers} run slots",
                markup=False,
            )
            await stop.wait()
            err.print("draining in-flight runs...", markup=False)

    _arun(go)


@app.command()
def watch(
    thread: ThreadOpt,
    run: Annotated[
        str | None, typer.Option("--run", help="Follow only this run, and exit when it ends.")
    ] = None,
    url: Annotated[
        str, typer.Option("--url", envvar="GW_URL", help="The graphwright server.")
    ] = "http://127.0.0.1:8123",
    api_key: Annotated[
        str | None, typer.Option("--api-key", envvar="GW_API_KEY", help="Sent as X-Api-Key.")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="GW_TOKEN", help="Bearer token.")
    ] = None,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="One line per event, and exit once the thread is idle, interrupted or failed "
            "(lines without --once are implied without a TTY).",
        ),
    ] = False,
) -> None:
    """Watch progress live: nodes, map progress, pending approvals (Ctrl-C stops a thread)."""
    from graphwright.watch import watch as follow

    code = follow(
        url=url, thread_id=thread, run_id=run, once=once, api_key=api_key, bearer_token=token
    )
    raise typer.Exit(code)
