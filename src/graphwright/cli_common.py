"""What every ``graphwright`` command shares: settings, errors, JSON, files, hints, servers.

Commands import what they use inside their bodies: ``--help`` and ``validate``
must not pay for LangGraph, the database driver or the checkpointer (see
bench/bench_imports.py).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from graphwright.errors import ConfigurationError, GraphwrightError

if TYPE_CHECKING:
    from graphwright.client import Client
    from graphwright.registry import Registry
    from graphwright.settings import Settings

__all__ = [
    "MAX_FILE_BYTES",
    "ApiKeyOpt",
    "RegistryOpt",
    "ThreadOpt",
    "TokenOpt",
    "age",
    "command_prefix",
    "err",
    "open_client",
]

err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

RegistryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--registry", "-r", help="Module or .py file with register(registry); repeatable."
    ),
]
ThreadOpt = Annotated[str, typer.Option("--thread", "-t", help="Thread id.")]
ServerUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="GW_URL",
        help="Ask this graphwright server (GW_URL); without it, the database of "
        "GW_DATABASE_URL or the embedded one.",
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="GW_API_KEY", help="Sent as X-Api-Key.")
]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="GW_TOKEN", help="Bearer token.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
MAX_FILE_BYTES = 10 * 2**20
"""Largest document or ``@file`` the CLI reads; workflow documents are far smaller."""


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
    return load_registry_modules(
        modules, llms=settings.llms, rate_limits=settings.rate_limits.values()
    )


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


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def open_client(
    url: str, api_key: str | None, token: str | None, *, timeout: float = 10.0
) -> Client:
    """A client of the server at ``url`` that fails fast when nobody answers there."""
    from graphwright.client import Client

    return Client(url, api_key=api_key, bearer_token=token, timeout=timeout, retries=0)


def remote_failure(exc: Exception, url: str) -> NoReturn:
    """Print a client error (coded, or the server unreachable) and exit 2."""
    from graphwright.client import GraphwrightAPIError

    if isinstance(exc, GraphwrightAPIError):
        err.print(f"error: [{exc.code}] {exc.detail}", markup=False)
        if exc.status == 401:
            err.print("  give a key with --api-key (or GW_API_KEY) or --token", markup=False)
    else:
        err.print(
            f"error: cannot reach the graphwright server at {url} ({exc}); "
            "is it running? Pass --url or set GW_URL",
            markup=False,
        )
    raise typer.Exit(2)


def age(moment: datetime | str | None, *, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, in the largest unit: ``45s``, ``12m``, ``3h``, ``2d``."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return span(((now or datetime.now(UTC)) - moment).total_seconds())


def span(seconds: float) -> str:
    """A duration in its largest whole unit: ``45s``, ``12m``, ``3h``, ``2d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict (the value may contain ``=``).

    Raises:
        typer.BadParameter: a pair without ``=`` or with an empty key.
    """
    found: dict[str, str] = {}
    for pair in pairs or []:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise typer.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint=option)
        found[key.strip()] = value
    return found


def table(rows: list[list[str]], header: list[str]) -> None:
    """Print rows as aligned columns on stdout (the last column is not padded)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[-1]]).rstrip() + "\n")
