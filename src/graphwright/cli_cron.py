"""``graphwright cron``: add, list, enable, disable and remove schedules.

Without ``--url`` the commands work on the database of ``GW_DATABASE_URL`` (or the
embedded one) as tenant ``--tenant``; with ``--url`` (or ``GW_URL``) they call a
server's cron API with ``--api-key`` / ``--token``, as the caller's tenant. Either
way a cron fires in whichever ``serve`` or ``worker`` process has run slots.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from graphwright.cli_secrets import TenantOpt, _settings_for

if TYPE_CHECKING:
    from graphwright.registry import Registry
    from graphwright.runtime.crons import CronService
    from graphwright.settings import Settings

__all__ = ["cron_app"]

cron_app = typer.Typer(
    name="cron",
    help="Schedules: start a workflow's run on a cron expression (add, list, remove).",
    no_args_is_help=True,
)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="GW_URL", help="A graphwright server (default: the database directly)."
    ),
]
KeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="GW_API_KEY", help="Sent as X-Api-Key.")
]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="GW_TOKEN", help="Bearer token.")]
CronIdArg = Annotated[str, typer.Argument(help="The cron's id (from `cron list`).")]
RegistryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--registry", "-r", help="Module or .py file with register(registry); repeatable."
    ),
]


def _remote(
    url: str, api_key: str | None, token: str | None, method: str, path: str, body: Any = None
) -> Any:
    """Call the server; a problem answer exits 2 with its code."""
    import httpx

    from graphwright.cli import _fail
    from graphwright.errors import GraphwrightError

    headers = {}
    if api_key:
        headers["X-Api-Key"] = api_key
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = httpx.request(
            method, url.rstrip("/") + path, json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        _fail(GraphwrightError(f"cannot reach {url}: {exc}", code="cron.server_unreachable"))
    if answer.status_code >= 400:
        _fail(_problem(answer.status_code, answer.text))
    return answer.json() if answer.content else None


def _problem(status: int, text: str) -> Any:
    import json

    from graphwright.errors import GraphwrightError

    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    details = {"problems": body.get("problems", [])}
    message = str(body.get("detail") or f"HTTP {status}")
    return GraphwrightError(message, code=str(body.get("code") or "http.error"), details=details)


async def _local(
    settings: Settings,
    registry: Registry | None,
    use: Callable[[CronService], Awaitable[None]],
    *,
    runs: bool,
) -> None:
    """Open the database (with the whole runtime when ``runs``: to check a cron's run)."""
    from graphwright.runtime.crons import CronService, cron_service
    from graphwright.runtime.database import Database
    from graphwright.runtime.process import open_runtime
    from graphwright.store.crons import CronStore

    if runs:
        async with open_runtime(settings, registry=registry, start_workers=False) as runtime:
            await use(cron_service(runtime))
        return
    async with Database(settings) as database:
        await use(CronService(store=CronStore(database.pool), run_service=None, settings=settings))


def _run_local(
    tenant: str | None,
    use: Callable[[CronService, str], Awaitable[Any]],
    *,
    registry: list[str] | None = None,
    runs: bool = False,
) -> Any:
    from graphwright.cli import _arun, _registry

    settings = _settings_for(tenant)
    reg = _registry(settings, registry) if registry else None
    found: list[Any] = []

    async def go(crons: CronService) -> None:
        found.append(await use(crons, settings.tenant))

    _arun(lambda: _local(settings, reg, go, runs=runs))
    return found[0]


def _show(data: Any) -> None:
    from graphwright.cli import _print_json

    _print_json(data)


def _bad(message: str, hint: str) -> NoReturn:
    raise typer.BadParameter(message, param_hint=hint)


@cron_app.command("add")
def add_cron(
    assistant: Annotated[str, typer.Argument(help="The published workflow (assistant) id.")],
    schedule: Annotated[
        str,
        typer.Option(
            "--schedule", "-s", help="Cron expression: '0 9 * * 1-5'; a 6th field is seconds."
        ),
    ],
    input: Annotated[str, typer.Option("--input", "-i", help="JSON object or @file.")] = "{}",
    thread: Annotated[
        str | None, typer.Option("--thread", "-t", help="Run on this thread (default: a new one).")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA time zone (default UTC).")
    ] = None,
    end_time: Annotated[
        datetime | None, typer.Option("--end-time", help="No firing after this time.")
    ] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="JSON object: the cron's and its runs'.")
    ] = None,
    keep_threads: Annotated[
        bool, typer.Option("--keep-threads", help="Keep each firing's new thread.")
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    tenant: TenantOpt = None,
    registry: RegistryOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Add a schedule; prints the cron (with its next fire time) as JSON."""
    from graphwright.cli import _load_json

    data = _load_json(input, "--input")
    if not isinstance(data, dict):
        _bad("must be a JSON object", "--input")
    meta = _load_json(metadata, "--metadata") if metadata else {}
    if not isinstance(meta, dict):
        _bad("must be a JSON object", "--metadata")
    body: dict[str, Any] = {
        "assistant_id": assistant,
        "schedule": schedule,
        "input": data,
        "metadata": meta,
        "enabled": not disabled,
    }
    if timezone is not None:
        body["timezone"] = timezone
    if end_time is not None:
        body["end_time"] = end_time.isoformat()
    if thread is None:
        body["on_run_completed"] = "keep" if keep_threads else "delete"
    if url:
        path = "/runs/crons" if thread is None else f"/threads/{thread}/runs/crons"
        _show(_remote(url, api_key, token, "POST", path, body))
        return

    async def use(crons: CronService, tenant_id: str) -> Any:
        from graphwright.api.routes.crons import CronCreateBody

        spec = CronCreateBody.model_validate(body).spec(stateless=thread is None)
        return (await crons.create(tenant_id, thread, spec)).to_dict()

    _show(_run_local(tenant, use, registry=registry, runs=True))


@cron_app.command("list")
def list_crons(
    assistant: Annotated[
        str | None, typer.Option("--assistant", "-a", help="Only this workflow's.")
    ] = None,
    thread: Annotated[
        str | None, typer.Option("--thread", "-t", help="Only this thread's.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print the tenant's schedules as JSON: next and last fire times, last error."""
    body: dict[str, Any] = {"limit": limit, "assistant_id": assistant, "thread_id": thread}
    if url:
        _show(_remote(url, api_key, token, "POST", "/runs/crons/search", body))
        return

    async def use(crons: CronService, tenant_id: str) -> Any:
        from graphwright.store.crons import CronFilter

        found = await crons.search(
            CronFilter(tenant_id, assistant_id=assistant, thread_id=thread), limit=limit
        )
        return [cron.to_dict() for cron in found]

    _show(_run_local(tenant, use))


def _set_enabled(
    cron_id: str,
    enabled: bool,
    tenant: str | None,
    url: str | None,
    api_key: str | None,
    token: str | None,
) -> None:
    if url:
        _show(_remote(url, api_key, token, "PATCH", f"/runs/crons/{cron_id}", {"enabled": enabled}))
        return

    async def use(crons: CronService, tenant_id: str) -> Any:
        from graphwright.runtime.crons import CronChanges

        return (await crons.update(tenant_id, cron_id, CronChanges(enabled=enabled))).to_dict()

    _show(_run_local(tenant, use))


@cron_app.command("enable")
def enable_cron(
    cron_id: CronIdArg,
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Enable a schedule: it fires next at its first time from now."""
    _set_enabled(cron_id, True, tenant, url, api_key, token)


@cron_app.command("disable")
def disable_cron(
    cron_id: CronIdArg,
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Disable a schedule (it keeps its settings; `enable` resumes it)."""
    _set_enabled(cron_id, False, tenant, url, api_key, token)


@cron_app.command("remove")
def remove_cron(
    cron_id: CronIdArg,
    tenant: TenantOpt = None,
    url: UrlOpt = None,
    api_key: KeyOpt = None,
    token: TokenOpt = None,
) -> None:
    """Remove a schedule (exit 2 with cron.not_found when there is none); its runs stay."""
    from graphwright.cli import err

    if url:
        _remote(url, api_key, token, "DELETE", f"/runs/crons/{cron_id}")
    else:

        async def use(crons: CronService, tenant_id: str) -> None:
            await crons.delete(tenant_id, cron_id)

        _run_local(tenant, use)
    err.print(f"cron {cron_id} removed", markup=False)
