"""Who may call what: authentication, the role of every route, tenant and metadata scope.

Every route of the service is listed in :data:`RULES` with the role it needs and
the LangGraph resource/action it is (for ``langgraph_sdk.Auth`` ``on`` handlers);
a route missing from the table is refused (a test checks that none is missing).
The check runs as an application-wide dependency, so no route can forget it.

The tenant of a request is the principal's; a key or token scoped to thread
metadata (``{"client_id": "acme"}``) sees only threads and approvals carrying
that metadata and answers 404 for the others, as for another tenant's ids.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from graphwright.api.hosts import LOOPBACK_NAMES
from graphwright.auth.principal import ROLES, AuthError, Principal
from graphwright.errors import ConfigurationError, NotFoundError
from graphwright.settings import Settings
from graphwright.store.api_keys import KEY_PREFIX, ApiKeyStore

if TYPE_CHECKING:
    from graphwright.auth.jwt import JwtVerifier
    from graphwright.auth.langgraph_auth import LangGraphAuth

__all__ = [
    "METRICS",
    "RULES",
    "Access",
    "PrincipalDep",
    "Rule",
    "auth_mode",
    "check_exposure",
    "current_principal",
    "deciding_label",
    "guard",
    "scoped",
]

log = logging.getLogger("graphwright.auth")

READ = "read"
"""Pseudo-role of routes any authenticated principal may call."""
PUBLIC = "public"
"""Pseudo-role of routes that need no credentials."""
METRICS = "metrics"
"""Pseudo-role of ``/metrics`` and the details of ``/readyz``: admin or the metrics token."""


@dataclass(frozen=True)
class Rule:
    """What a route needs: a role (or READ / PUBLIC / METRICS) and its LangGraph resource/action."""

    role: str
    resource: str | None = None
    action: str | None = None


def _rules() -> dict[tuple[str, str], Rule]:
    t, a = "threads", "assistants"
    table = {
        ("POST", "/assistants/search"): Rule(READ, a, "search"),
        ("POST", "/assistants/count"): Rule(READ, a, "search"),
        ("POST", "/assistants"): Rule("author", a, "create"),
        ("GET", "/assistants/{assistant_id}"): Rule(READ, a, "read"),
        ("PATCH", "/assistants/{assistant_id}"): Rule("author", a, "update"),
        ("DELETE", "/assistants/{assistant_id}"): Rule("author", a, "delete"),
        ("POST", "/assistants/{assistant_id}/latest"): Rule("author", a, "update"),
        ("POST", "/assistants/{assistant_id}/versions"): Rule(READ, a, "search"),
        ("GET", "/assistants/{assistant_id}/schemas"): Rule(READ, a, "read"),
        ("GET", "/assistants/{assistant_id}/graph"): Rule(READ, a, "read"),
        ("POST", "/threads"): Rule("operator", t, "create"),
        ("POST", "/threads/search"): Rule(READ, t, "search"),
        ("POST", "/threads/count"): Rule(READ, t, "search"),
        ("POST", "/threads/prune"): Rule("operator", t, "delete"),
        ("GET", "/threads/{thread_id}"): Rule(READ, t, "read"),
        ("PATCH", "/threads/{thread_id}"): Rule("operator", t, "update"),
        ("DELETE", "/threads/{thread_id}"): Rule("operator", t, "delete"),
        ("POST", "/threads/{thread_id}/copy"): Rule("operator", t, "create"),
        ("GET", "/threads/{thread_id}/state"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/state"): Rule("operator", t, "update"),
        ("GET", "/threads/{thread_id}/state/{checkpoint_id}"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/state/checkpoint"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/history"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/runs"): Rule("operator", t, "create_run"),
        ("GET", "/threads/{thread_id}/runs"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/runs/stream"): Rule("operator", t, "create_run"),
        ("POST", "/threads/{thread_id}/runs/wait"): Rule("operator", t, "create_run"),
        ("GET", "/threads/{thread_id}/runs/{run_id}"): Rule(READ, t, "read"),
        ("DELETE", "/threads/{thread_id}/runs/{run_id}"): Rule("operator", t, "update"),
        ("GET", "/threads/{thread_id}/runs/{run_id}/join"): Rule(READ, t, "read"),
        ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): Rule(READ, t, "read"),
        ("GET", "/threads/{thread_id}/stream"): Rule(READ, t, "read"),
        ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): Rule("operator", t, "update"),
        ("POST", "/runs"): Rule("operator", t, "create_run"),
        ("POST", "/runs/stream"): Rule("operator", t, "create_run"),
        ("POST", "/runs/wait"): Rule("operator", t, "create_run"),
        ("POST", "/runs/crons"): Rule("operator", "crons", "create"),
        ("POST", "/threads/{thread_id}/runs/crons"): Rule("operator", "crons", "create"),
        ("POST", "/runs/crons/search"): Rule(READ, "crons", "search"),
        ("POST", "/runs/crons/count"): Rule(READ, "crons", "search"),
        ("GET", "/runs/crons/{cron_id}"): Rule(READ, "crons", "read"),
        ("PATCH", "/runs/crons/{cron_id}"): Rule("operator", "crons", "update"),
        ("DELETE", "/runs/crons/{cron_id}"): Rule("operator", "crons", "delete"),
        ("POST", "/workflows/validate"): Rule("author", a, "read"),
        ("GET", "/workflows"): Rule(READ, a, "search"),
        ("POST", "/workflows"): Rule("author", a, "create"),
        ("GET", "/workflows/{workflow_id}"): Rule(READ, a, "read"),
        ("GET", "/workflows/{workflow_id}/versions"): Rule(READ, a, "read"),
        ("GET", "/workflows/{workflow_id}/graph"): Rule(READ, a, "read"),
        ("GET", "/approvals"): Rule(READ, t, "search"),
        ("GET", "/approvals/{approval_id}"): Rule(READ, t, "read"),
        ("POST", "/approvals/{approval_id}/decide"): Rule("approver", t, "create_run"),
        ("GET", "/auth/whoami"): Rule(READ),
        ("GET", "/ops/summary"): Rule(READ, t, "search"),
        ("GET", "/info"): Rule(PUBLIC),  # public in LangGraph Server: clients ask before auth
        ("GET", "/healthz"): Rule(PUBLIC),
        ("GET", "/readyz"): Rule(PUBLIC),
        ("GET", "/metrics"): Rule(METRICS),
        ("GET", "/secrets"): Rule("admin"),
        ("PUT", "/secrets/{name}"): Rule("admin"),
        ("DELETE", "/secrets/{name}"): Rule("admin"),
        ("GET", "/keys"): Rule("admin"),
        ("POST", "/keys"): Rule("admin"),
        ("DELETE", "/keys/{key_id}"): Rule("admin"),
        # Webhooks: delivery history reads like runs; the signing secret is an admin's.
        ("GET", "/threads/{thread_id}/runs/{run_id}/webhooks"): Rule(READ, t, "read"),
        ("GET", "/webhooks/deliveries"): Rule(READ, t, "search"),
        ("POST", "/webhooks/deliveries/{delivery_id}/retry"): Rule("operator", t, "update"),
        ("GET", "/webhooks/secret"): Rule("admin"),
        ("POST", "/webhooks/secret/rotate"): Rule("admin"),
        # The Store: items are run data, written by the role that runs workflows.
        ("PUT", "/store/items"): Rule("operator", "store", "put"),
        ("GET", "/store/items"): Rule(READ, "store", "get"),
        ("DELETE", "/store/items"): Rule("operator", "store", "delete"),
        ("POST", "/store/items/search"): Rule(READ, "store", "search"),
        ("POST", "/store/namespaces"): Rule(READ, "store", "list_namespaces"),
    }
    return table


RULES: dict[tuple[str, str], Rule] = _rules()
"""(method, path template) -> what the route needs. HEAD is checked as GET."""


def _loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def auth_mode(settings: Settings) -> str:
    """The effective ``GW_AUTH``: as set, else ``none`` on a loopback bind, ``keys`` elsewhere."""
    if settings.auth is not None and settings.auth.strip():
        return settings.auth.strip()
    return "none" if _loopback(settings.host) else "keys"


def _methods(mode: str) -> set[str]:
    """The comma-separated methods of a ``GW_AUTH`` value (``keys,jwt``)."""
    return {part.strip() for part in mode.split(",")}


def check_exposure(settings: Settings) -> None:
    """Refuse unsafe settings for a server on a non-loopback address.

    Raises:
        ConfigurationError: ``config.insecure`` (no authentication without
            ``GW_ALLOW_INSECURE=1``), ``config.no_secret_key`` (``GW_SECRET_KEY``
            missing; a malformed one is refused by the settings),
            ``config.invalid_auth`` (unknown mode).
    """
    mode = auth_mode(settings)
    parts = _methods(mode)
    if ":" not in mode and not parts <= {"none", "keys", "jwt"}:
        raise ConfigurationError(
            f"GW_AUTH={mode!r}: use keys, jwt, keys,jwt, none or path/to/auth.py:auth",
            code="config.invalid_auth",
        )
    if "jwt" in parts and not settings.jwt_issuer:
        raise ConfigurationError(
            "GW_AUTH=jwt needs GW_JWT_ISSUER (and GW_JWT_AUDIENCE)", code="config.invalid_auth"
        )
    if _loopback(settings.host):
        return
    if mode == "none":
        if not settings.allow_insecure:
            raise ConfigurationError(
                f"refusing to serve on {settings.host} without authentication: set GW_AUTH "
                "(keys, jwt or a langgraph_sdk.Auth module), or bind 127.0.0.1",
                code="config.insecure",
            )
        log.warning(
            "SERVING WITHOUT AUTHENTICATION on %s (GW_AUTH=none, GW_ALLOW_INSECURE=1): "
            "anyone who can reach this address acts as tenant %r with every role",
            settings.host,
            settings.tenant,
        )
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    if not key.strip():  # a placeholder such as `changeme` is refused by Settings already
        raise ConfigurationError(
            f"refusing to serve on {settings.host} without a real GW_SECRET_KEY "
            "(generate one with `graphwright secrets keygen`)",
            code="config.no_secret_key",
        )


class Access:
    """Authenticates requests and checks their rules, for one server process."""

    def __init__(self, settings: Settings, keys: ApiKeyStore | None = None) -> None:
        """Prepare the configured methods (JWT and custom auth are loaded here).

        ``keys`` (the API key store) is set once the database is open.
        """
        self.settings = settings
        self.mode = auth_mode(settings)
        self.keys = keys
        modes = _methods(self.mode) if ":" not in self.mode else set()
        self.open = self.mode == "none"
        self.use_keys = "keys" in modes
        self.jwt: JwtVerifier | None = None
        self.custom: LangGraphAuth | None = None
        if "jwt" in modes:
            from graphwright.auth.jwt import JwtVerifier

            self.jwt = JwtVerifier(settings)
        if ":" in self.mode:
            from graphwright.auth.langgraph_auth import load_langgraph_auth

            self.custom = load_langgraph_auth(self.mode)

    def local(self) -> Principal:
        """The principal of a server without authentication: the default tenant, every role."""
        return Principal(
            id="local", tenant=self.settings.tenant, roles=frozenset(ROLES), kind="local"
        )

    async def authenticate(self, request: Request) -> Principal:
        """Who sent ``request``.

        Raises:
            AuthError: ``auth.required`` (no credentials) or the method's error.
        """
        if self.open:
            return self.local()
        if self.custom is not None:
            return await self.custom.authenticate(request, default_tenant=self.settings.tenant)
        token = request.headers.get("x-api-key")
        if token is None:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                token = value.strip()
        if not token:
            raise AuthError(
                "this server needs credentials: an API key (X-Api-Key) or a bearer token",
                code="auth.required",
            )
        metrics = self.settings.metrics_token
        if metrics is not None and _same(token, metrics.get_secret_value()):
            return Principal(
                id="metrics", tenant=self.settings.tenant, roles=frozenset({METRICS}), kind="token"
            )
        if token.startswith(KEY_PREFIX) and self.use_keys and self.keys is not None:
            return (await self.keys.verify(token)).principal()
        if self.jwt is not None and token.count(".") == 2:
            return await self.jwt.verify(token)
        raise AuthError("the credentials are not valid here", code="auth.invalid")

    async def authorize(self, request: Request, principal: Principal, rule: Rule) -> Principal:
        """Check ``rule`` for ``principal``; returns it with any scope a custom handler adds.

        Raises:
            AuthError: ``auth.forbidden``.
        """
        if rule.role == METRICS:
            if not principal.has(METRICS):
                raise AuthError(
                    "metrics need the admin role or GW_METRICS_TOKEN", code="auth.forbidden"
                )
            return principal
        if rule.role != READ and not principal.has(rule.role):
            if rule.action == "create_run" and principal.has("approver"):
                # Deciding a gate by resuming it is an approver's act: one rule for
                # deciding, whichever endpoint is used (checked again on the body).
                body = await _json_body(request)
                command = body.get("command") if isinstance(body, dict) else None
                if isinstance(command, dict) and "resume" in command:
                    return await self._custom_scope(request, principal, rule)
            raise AuthError(
                f"this needs the {rule.role} role (the caller has: "
                f"{', '.join(sorted(principal.roles)) or 'none'})",
                code="auth.forbidden",
                details={"required": rule.role},
            )
        if METRICS in principal.roles and len(principal.roles) == 1:
            raise AuthError("the metrics token reads metrics only", code="auth.forbidden")
        return await self._custom_scope(request, principal, rule)

    async def _custom_scope(self, request: Request, principal: Principal, rule: Rule) -> Principal:
        """Run the custom ``on`` handler of the rule's resource/action, if any."""
        if self.custom is None or rule.resource is None or rule.action is None:
            return principal
        if rule.resource == "store":
            # The store routes run the handler themselves, on the value LangGraph Server
            # passes (namespace as a tuple, from the query of a GET too), and use the
            # namespace it may rewrite (api/routes/store.py).
            return principal
        value: dict[str, Any] = {**request.path_params}
        if request.method in ("POST", "PUT", "PATCH"):
            body = await _json_body(request)
            if isinstance(body, dict):
                value = {**body, **value}
        before = (
            dict(value.get("metadata") or {}) if isinstance(value.get("metadata"), dict) else {}
        )
        found = await self.custom.authorize(principal, rule.resource, rule.action, value)
        scope = dict(principal.scope)
        if found:
            scope.update(found)
        after = value.get("metadata")
        if isinstance(after, dict) and rule.action in ("create", "create_run"):
            request.state.added_metadata = {k: v for k, v in after.items() if before.get(k) != v}
        return replace(principal, scope=scope)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


async def _json_body(request: Request) -> Any:
    import json

    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None  # the route answers the parse error


async def guard(request: Request) -> None:
    """Application-wide dependency: authenticate, check the route's rule, enforce the scope."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    method = "GET" if request.method == "HEAD" else request.method
    rule = RULES.get((method, path or ""))
    if rule is None:
        raise AuthError(f"{method} {path} is not open to anyone", code="auth.forbidden")
    if rule.role == PUBLIC:
        return
    access: Access = request.app.state.access
    principal = await access.authenticate(request)
    request.state.principal = principal
    principal = await access.authorize(request, principal, rule)
    request.state.principal = principal
    if principal.scope:
        await _check_scope(request, principal)


async def _check_scope(request: Request, principal: Principal) -> None:
    """A scoped principal sees only threads (and their approvals) whose metadata matches."""
    services = request.app.state.services
    thread_id = request.path_params.get("thread_id")
    approval_id = request.path_params.get("approval_id")
    missing: NotFoundError
    if approval_id is not None:
        try:
            record = await services.approvals.store.get(principal.tenant, approval_id)
        except NotFoundError:
            return  # the route answers 404
        thread_id = record.thread_id
        missing = NotFoundError(f"approval {approval_id!r} not found", code="approval.not_found")
    elif thread_id is not None:
        missing = NotFoundError(f"thread {thread_id!r} not found", code="thread.not_found")
    else:
        return
    try:
        thread = await services.threads.get(principal.tenant, thread_id)
    except NotFoundError:
        return  # the route answers 404 (or creates it, in scope)
    from graphwright.auth.langgraph_auth import matches

    if not matches(dict(principal.scope), thread.metadata or {}):
        raise missing


def current_principal(request: Request) -> Principal:
    """The request's principal (set by :func:`guard`; the local one on public routes)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        access: Access = request.app.state.access
        return access.local()
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def scoped(request: Request, metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``metadata`` with the caller's scope (and metadata its auth handler added) forced in.

    Used for new threads, metadata updates and searches: a scoped caller can
    neither create nor move a thread out of its scope, nor search past it.
    """
    principal = current_principal(request)
    added: dict[str, Any] = getattr(request.state, "added_metadata", None) or {}
    if not principal.scope and not added:
        return None if metadata is None else dict(metadata)
    return {**(metadata or {}), **added, **principal.scope}


def deciding_label(principal: Principal) -> str | None:
    """What ``decided_by`` records for an authenticated principal (None without auth)."""
    if principal.kind == "local":
        return None
    return f"{principal.name} ({principal.id})" if principal.name else principal.id
