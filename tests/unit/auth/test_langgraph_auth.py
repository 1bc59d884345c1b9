"""LangGraph Platform custom auth: a ``langgraph_sdk.Auth`` file honoured as the Platform does."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from graphwright.auth.langgraph_auth import (
    LangGraphAuth,
    load_langgraph_auth,
    matches,
    normalize_filter,
)
from graphwright.auth.principal import ROLES, AuthError, Principal
from graphwright.errors import ConfigurationError

# As LangGraph's documentation writes them: tokens checked in the authenticate
# handler, an owner stamped on every created resource and used as the filter, and
# thread deletion refused.
DOCUMENTED = """
from langgraph_sdk import Auth

auth = Auth()

VALID_TOKENS = {
    "user1-token": {"id": "user1", "name": "Alice", "permissions": ["threads:write"]},
    "user2-token": {"id": "user2", "name": "Bob", "permissions": ["operator", "approver"]},
    "acme-token": {"id": "user3", "name": "Carol", "permissions": [], "tenant": "acme"},
}


@auth.authenticate
async def get_current_user(authorization: str | None) -> Auth.types.MinimalUserDict:
    assert authorization
    scheme, token = authorization.split()
    assert scheme.lower() == "bearer"
    if token not in VALID_TOKENS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid token")
    user = VALID_TOKENS[token]
    return {
        "identity": user["id"],
        "display_name": user["name"],
        "permissions": user["permissions"],
        "tenant": user.get("tenant"),
        "org": "acme-org",
    }


@auth.on
async def add_owner(ctx: Auth.types.AuthContext, value: dict):
    filters = {"owner": ctx.user.identity}
    metadata = value.setdefault("metadata", {})
    metadata.update(filters)
    return filters


@auth.on.threads.delete
async def no_deletes(ctx: Auth.types.AuthContext, value: dict):
    return False
"""

PRECEDENCE = """
from langgraph_sdk import Auth

auth = Auth()


@auth.authenticate
def authenticate() -> str:
    return "u1"


@auth.on
async def everything(ctx, value):
    return {"by": "global"}


@auth.on(actions="search")
async def any_search(ctx, value):
    return {"by": "action"}


@auth.on.threads
async def threads(ctx, value):
    return {"by": "resource"}


@auth.on.threads.delete
async def delete_thread(ctx, value):
    return {"by": "resource_action"}
"""


def _write(directory: Path, source: str, name: str = "auth.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _load(directory: Path, source: str) -> LangGraphAuth:
    return load_langgraph_auth(f"{_write(directory, source)}:auth")


def _handlers(body: str) -> str:
    """An auth module whose authenticate handler answers u1 and with ``body`` appended."""
    return (
        "from langgraph_sdk import Auth\n\nauth = Auth()\n\n\n"
        "@auth.authenticate\nasync def authenticate() -> str:\n    return 'u1'\n\n\n"
        + textwrap.dedent(body)
    )


def _request(
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "GET",
    path: str = "/threads",
    query: bytes = b"",
    path_params: dict[str, str] | None = None,
) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "scheme": "http",
        "server": ("localhost", 8123),
        "client": ("127.0.0.1", 50000),
        "http_version": "1.1",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "path_params": path_params or {},
    }
    return Request(scope)


def _bearer(token: str) -> Request:
    return _request({"Authorization": f"Bearer {token}"})


def _principal(user: Any = "u1") -> Principal:
    return Principal(id="custom:u1", tenant="default", roles=frozenset(), kind="custom", user=user)


# Loading


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_loads_auth_from_a_file_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    """path/to/auth.py:auth loads, relative to the working directory or absolute."""
    (tmp_path / "security").mkdir()
    path = _write(tmp_path / "security", DOCUMENTED)
    monkeypatch.chdir(tmp_path)
    spec = "./security/auth.py:auth" if relative else f"{path}:auth"
    assert isinstance(load_langgraph_auth(spec), LangGraphAuth)


async def test_loads_auth_from_a_module_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """package.module:auth is imported like any module on sys.path."""
    package = tmp_path / "gw_lg_auth_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _write(package, DOCUMENTED, name="security.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    auth = load_langgraph_auth("gw_lg_auth_pkg.security:auth")
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    assert principal.id == "custom:user1"


@pytest.mark.parametrize(
    ("source", "spec"),
    [
        (DOCUMENTED, "{dir}/missing.py:auth"),
        (DOCUMENTED, "{dir}/auth.py:other"),
        (DOCUMENTED, "{dir}/auth.py"),
        (DOCUMENTED, "{dir}/auth.py:VALID_TOKENS"),
        (DOCUMENTED, "gw_no_such_module_anywhere:auth"),
        ("def broken(:\n", "{dir}/auth.py:auth"),
        ("raise RuntimeError('boom')\n", "{dir}/auth.py:auth"),
        (
            "from langgraph_sdk import Auth\nauth = Auth()\n"
            "@auth.on\nasync def a(ctx, value): ...\n@auth.on\nasync def b(ctx, value): ...\n",
            "{dir}/auth.py:auth",
        ),
        (
            "from langgraph_sdk import Auth\nauth = Auth()\n"
            "@auth.authenticate\nasync def who(body: dict) -> str:\n    return 'u1'\n",
            "{dir}/auth.py:auth",
        ),
    ],
    ids=[
        "no-file",
        "no-variable",
        "no-variable-named",
        "not-an-auth",
        "no-module",
        "syntax-error",
        "module-raises",
        "two-global-handlers",
        "unsupported-parameter",
    ],
)
def test_unusable_auth_spec_is_a_configuration_error(
    tmp_path: Path, source: str, spec: str
) -> None:
    """A missing file, module or variable, a non-Auth or a failing module: config.invalid_auth."""
    _write(tmp_path, source)
    with pytest.raises(ConfigurationError) as caught:
        load_langgraph_auth(spec.format(dir=tmp_path))
    assert caught.value.code == "config.invalid_auth"


# Authentication


async def test_documented_handler_authenticates_a_valid_token(tmp_path: Path) -> None:
    """A known token gives custom:<identity>, its display name and the returned user."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    assert principal.id == "custom:user1"
    assert principal.tenant == "default"
    assert principal.name == "Alice"
    assert principal.kind == "custom"
    assert principal.scope == {}
    assert principal.user["identity"] == "user1"
    assert principal.user["permissions"] == ["threads:write"]


async def test_permissions_naming_no_role_give_every_role_but_admin(tmp_path: Path) -> None:
    """Permissions without graphwright role names: every role except admin."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    assert principal.roles == frozenset(ROLES) - {"admin"}


async def test_roles_are_the_role_names_among_permissions(tmp_path: Path) -> None:
    """Permissions naming graphwright roles give exactly those roles."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("user2-token"), default_tenant="default")
    assert principal.roles == {"operator", "approver"}


async def test_tenant_comes_from_the_returned_user(tmp_path: Path) -> None:
    """A ``tenant`` key of the returned user is the principal's tenant."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("acme-token"), default_tenant="default")
    assert principal.tenant == "acme"


async def test_http_exception_401_is_auth_invalid_with_its_detail(tmp_path: Path) -> None:
    """HTTPException(401) from the handler is AuthError auth.invalid (401) keeping its detail."""
    auth = _load(tmp_path, DOCUMENTED)
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(_bearer("stolen"), default_tenant="default")
    assert (caught.value.code, caught.value.status) == ("auth.invalid", 401)
    assert caught.value.message == "Invalid token"


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "sync"])
async def test_http_exception_403_is_auth_forbidden(tmp_path: Path, asynchronous: bool) -> None:
    """HTTPException(403) from a sync or async handler is AuthError auth.forbidden (403)."""
    source = f"""
    from langgraph_sdk import Auth
    auth = Auth()
    @auth.authenticate
    {"async " if asynchronous else ""}def who(method: str) -> str:
        raise Auth.exceptions.HTTPException(status_code=403, detail="suspended account")
    """
    auth = _load(tmp_path, source)
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(_request(), default_tenant="default")
    assert (caught.value.code, caught.value.status) == ("auth.forbidden", 403)
    assert caught.value.message == "suspended account"


@pytest.mark.parametrize("asynchronous", [True, False], ids=["async", "sync"])
@pytest.mark.parametrize(
    ("parameter", "identity_of", "expected"),
    [
        ("request", "request.headers['x-user']", "from-header"),
        ("headers", "headers[b'x-user'].decode()", "from-header"),
        ("authorization", "authorization.removeprefix('Bearer ')", "tok"),
        ("path", "path", "/threads/t1/runs"),
        ("method", "method.lower()", "post"),
        ("query_params", "query_params['user']", "from-query"),
        ("path_params", "path_params['thread_id']", "t1"),
        ("scopes", "'scopes-' + str(len(scopes))", "scopes-0"),
        ("scope", "scope['type']", "http"),
    ],
)
async def test_handler_gets_each_parameter_it_declares(
    tmp_path: Path, parameter: str, identity_of: str, expected: str, asynchronous: bool
) -> None:
    """A sync or async handler receives exactly the parameter it declares, by name."""
    source = f"""
    from langgraph_sdk import Auth
    auth = Auth()
    @auth.authenticate
    {"async " if asynchronous else ""}def who({parameter}):
        return {identity_of}
    """
    auth = _load(tmp_path, source)
    request = _request(
        {"X-User": "from-header", "Authorization": "Bearer tok"},
        method="POST",
        path="/threads/t1/runs",
        query=b"user=from-query",
        path_params={"thread_id": "t1"},
    )
    principal = await auth.authenticate(request, default_tenant="default")
    assert principal.id == f"custom:{expected}"


async def test_handler_may_declare_several_parameters_and_defaults(tmp_path: Path) -> None:
    """Several known parameters are passed together; an unknown one with a default is left."""
    source = """
    from langgraph_sdk import Auth
    auth = Auth()
    @auth.authenticate
    async def who(method: str, path: str, extra: str = "kept") -> str:
        return f"{method}:{path}:{extra}"
    """
    auth = _load(tmp_path, source)
    principal = await auth.authenticate(_request(path="/x"), default_tenant="default")
    assert principal.id == "custom:GET:/x:kept"


async def test_sync_handler_runs_off_the_event_loop_thread(tmp_path: Path) -> None:
    """A sync authenticate handler runs in a worker thread: a blocking one cannot stall the loop."""
    source = """
    import threading
    from langgraph_sdk import Auth
    auth = Auth()
    @auth.authenticate
    def who() -> str:
        return str(threading.get_ident())
    """
    auth = _load(tmp_path, source)
    principal = await auth.authenticate(_request(), default_tenant="default")
    assert principal.id != f"custom:{threading.get_ident()}"


async def test_returned_user_object_is_read_by_attribute(tmp_path: Path) -> None:
    """A user object gives identity, display name, permissions and tenant by attribute."""
    source = """
    from dataclasses import dataclass, field
    from langgraph_sdk import Auth
    auth = Auth()

    @dataclass
    class User:
        identity: str
        display_name: str
        permissions: list[str] = field(default_factory=list)
        tenant: str = "globex"
        is_authenticated: bool = True

    @auth.authenticate
    async def who() -> User:
        return User("u9", "Nine", ["viewer"])
    """
    auth = _load(tmp_path, source)
    principal = await auth.authenticate(_request(), default_tenant="default")
    assert (principal.id, principal.name, principal.tenant) == ("custom:u9", "Nine", "globex")
    assert principal.roles == {"viewer"}
    assert type(principal.user).__name__ == "User"


async def test_string_identity_is_its_own_name(tmp_path: Path) -> None:
    """A handler returning a string: that identity, named after itself, default tenant."""
    auth = _load(tmp_path, _handlers(""))
    principal = await auth.authenticate(_request(), default_tenant="t0")
    assert (principal.id, principal.name, principal.tenant) == ("custom:u1", "u1", "t0")
    assert principal.user == "u1"


async def test_no_authenticate_handler_is_an_auth_error(tmp_path: Path) -> None:
    """An Auth without @auth.authenticate refuses every request with AuthError."""
    auth = _load(tmp_path, "from langgraph_sdk import Auth\nauth = Auth()\n")
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(_request(), default_tenant="default")
    assert caught.value.code == "auth.invalid"


@pytest.mark.parametrize(
    "returned",
    [
        "{'permissions': ['viewer']}",
        "''",
        "42",
        "{'identity': 'u1', 'permissions': 'viewer'}",
        "{'identity': 'u1', 'tenant': 'Not A Tenant'}",
    ],
    ids=["no-identity", "empty-identity", "number", "permissions-string", "bad-tenant"],
)
async def test_unusable_returned_user_is_a_configuration_error(
    tmp_path: Path, returned: str
) -> None:
    """A user without a string identity, bad permissions or tenant: config.invalid_auth_handler."""
    source = f"""
    from langgraph_sdk import Auth
    auth = Auth()
    @auth.authenticate
    async def who():
        return {returned}
    """
    auth = _load(tmp_path, source)
    with pytest.raises(ConfigurationError) as caught:
        await auth.authenticate(_request(), default_tenant="default")
    assert caught.value.code == "config.invalid_auth_handler"


# Authorization


@pytest.mark.parametrize(
    ("resource", "action", "by"),
    [
        ("threads", "delete", "resource_action"),
        ("threads", "read", "resource"),
        ("threads", "search", "resource"),
        ("assistants", "search", "action"),
        ("store", "search", "action"),
        ("assistants", "read", "global"),
        ("crons", "create", "global"),
        ("store", "put", "global"),
    ],
)
async def test_most_specific_handler_runs(
    tmp_path: Path, resource: str, action: str, by: str
) -> None:
    """resource.action beats resource, which beats on(actions=...), which beats the global one."""
    auth = _load(tmp_path, PRECEDENCE)
    assert await auth.authorize(_principal(), resource, action, {}) == {"by": by}


async def test_documented_global_handler_stamps_owner_and_filters(tmp_path: Path) -> None:
    """The global handler adds owner metadata to the value and returns the owner filter."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    value: dict[str, Any] = {"metadata": {"topic": "x"}}
    found = await auth.authorize(principal, "threads", "create", value)
    assert found == {"owner": "user1"}
    assert value == {"metadata": {"topic": "x", "owner": "user1"}}


async def test_handler_returning_false_is_forbidden(tmp_path: Path) -> None:
    """The documented threads.delete handler returning False is AuthError auth.forbidden (403)."""
    auth = _load(tmp_path, DOCUMENTED)
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    with pytest.raises(AuthError) as caught:
        await auth.authorize(principal, "threads", "delete", {"thread_id": "t1"})
    assert (caught.value.code, caught.value.status) == ("auth.forbidden", 403)


@pytest.mark.parametrize(
    ("status", "code"),
    [(403, "auth.forbidden"), (401, "auth.invalid")],
    ids=["403", "401"],
)
async def test_http_exception_in_on_handler_is_an_auth_error(
    tmp_path: Path, status: int, code: str
) -> None:
    """HTTPException in an on handler becomes the AuthError of its status, with its detail."""
    body = f"""
    @auth.on.threads.update
    async def no(ctx, value):
        raise Auth.exceptions.HTTPException(status_code={status}, detail="not yours")
    """
    auth = _load(tmp_path, _handlers(body))
    with pytest.raises(AuthError) as caught:
        await auth.authorize(_principal(), "threads", "update", {})
    assert (caught.value.code, caught.value.message) == (code, "not yours")


@pytest.mark.parametrize("result", ["None", "True", "{}"], ids=["none", "true", "empty-filter"])
async def test_allowing_results_give_no_filter(tmp_path: Path, result: str) -> None:
    """None, True and an empty filter allow without restriction (None)."""
    body = f"""
    @auth.on
    async def allow(ctx, value):
        return {result}
    """
    auth = _load(tmp_path, _handlers(body))
    assert await auth.authorize(_principal(), "assistants", "read", {}) is None


async def test_without_on_handlers_everything_is_allowed(tmp_path: Path) -> None:
    """No on handler at all: every action is allowed without a filter."""
    auth = _load(tmp_path, _handlers(""))
    assert await auth.authorize(_principal(), "threads", "delete", {}) is None


async def test_unmatched_action_without_global_handler_is_allowed(tmp_path: Path) -> None:
    """A handler for another action does not apply; without a global handler it is allowed."""
    body = """
    @auth.on.threads.delete
    async def deny(ctx, value):
        return False
    """
    auth = _load(tmp_path, _handlers(body))
    assert await auth.authorize(_principal(), "threads", "read", {}) is None


async def test_filter_is_normalised(tmp_path: Path) -> None:
    """$eq becomes plain equality and $contains a list of the items."""
    body = """
    @auth.on.threads.search
    async def mine(ctx, value):
        return {"owner": {"$eq": ctx.user.identity}, "tags": {"$contains": "x"}, "org": "o"}
    """
    auth = _load(tmp_path, _handlers(body))
    found = await auth.authorize(_principal(), "threads", "search", {})
    assert found == {"owner": "u1", "tags": ["x"], "org": "o"}


async def test_unsupported_filter_is_a_configuration_error(tmp_path: Path) -> None:
    """A filter with an operator graphwright does not support: config.invalid_auth_filter."""
    body = """
    @auth.on
    async def other(ctx, value):
        return {"owner": {"$ne": "u2"}}
    """
    auth = _load(tmp_path, _handlers(body))
    with pytest.raises(ConfigurationError) as caught:
        await auth.authorize(_principal(), "threads", "read", {})
    assert caught.value.code == "config.invalid_auth_filter"


async def test_non_filter_result_is_a_configuration_error(tmp_path: Path) -> None:
    """A handler result that is neither None, a bool nor a dict: config.invalid_auth_handler."""
    body = """
    @auth.on
    async def odd(ctx, value):
        return "yes"
    """
    auth = _load(tmp_path, _handlers(body))
    with pytest.raises(ConfigurationError) as caught:
        await auth.authorize(_principal(), "threads", "read", {})
    assert caught.value.code == "config.invalid_auth_handler"


async def test_context_describes_user_resource_and_action(tmp_path: Path) -> None:
    """ctx has the user (identity, display name, permissions, extra keys), resource and action."""
    body = """
    @auth.on.assistants
    async def record(ctx, value):
        user = ctx.user
        value["seen"] = (
            user.identity, user.display_name, list(user.permissions), list(ctx.permissions),
            user["org"], user.org, "org" in user, ctx.resource, ctx.action,
        )
    """
    auth = _load(tmp_path, DOCUMENTED + textwrap.dedent(body))
    principal = await auth.authenticate(_bearer("user1-token"), default_tenant="default")
    value: dict[str, Any] = {}
    assert await auth.authorize(principal, "assistants", "update", value) is None
    assert value["seen"] == (
        "user1",
        "Alice",
        ["threads:write"],
        ["threads:write"],
        "acme-org",
        "acme-org",
        True,
        "assistants",
        "update",
    )


async def test_non_custom_principal_is_shown_by_id_and_roles(tmp_path: Path) -> None:
    """A principal of another kind appears as its id, with its roles as permissions."""
    body = """
    @auth.on
    async def who(ctx, value):
        return {"who": ctx.user.identity, "perms": ",".join(ctx.permissions)}
    """
    auth = _load(tmp_path, _handlers(body))
    principal = Principal(id="key:k1", tenant="default", roles=frozenset({"viewer", "operator"}))
    found = await auth.authorize(principal, "threads", "read", {})
    assert found == {"who": "key:k1", "perms": "operator,viewer"}


async def test_store_handler_rewrites_the_namespace(tmp_path: Path) -> None:
    """A store handler may rewrite value["namespace"]; the caller reads the new one back."""
    body = """
    @auth.on.store
    async def scope_store(ctx, value):
        namespace = tuple(value["namespace"]) if value.get("namespace") else ()
        if not namespace or namespace[0] != ctx.user.identity:
            namespace = (ctx.user.identity, *namespace)
        value["namespace"] = namespace
    """
    auth = _load(tmp_path, _handlers(body))
    value: dict[str, Any] = {"namespace": ("notes",), "key": "k"}
    assert await auth.authorize(_principal(), "store", "put", value) is None
    assert value["namespace"] == ("u1", "notes")


@pytest.mark.parametrize(
    ("resource", "action"),
    [("runs", "read"), ("threads", "put"), ("store", "create")],
    ids=["unknown-resource", "store-action-on-threads", "thread-action-on-store"],
)
async def test_unknown_resource_or_action_is_a_caller_bug(
    tmp_path: Path, resource: str, action: str
) -> None:
    """authorize refuses a resource/action pair LangGraph does not define (ValueError)."""
    auth = _load(tmp_path, _handlers(""))
    with pytest.raises(ValueError, match="no such auth resource/action"):
        await auth.authorize(_principal(), resource, action, {})


# Filters


@pytest.mark.parametrize(
    ("filter", "metadata", "expected"),
    [
        ({"owner": "u1"}, {"owner": "u1", "x": 1}, True),
        ({"owner": "u1"}, {"owner": "u2"}, False),
        ({"owner": "u1"}, {}, False),
        ({"owner": None}, {}, False),
        ({"owner": None}, {"owner": None}, True),
        ({"owner": {"$eq": "u1"}}, {"owner": "u1"}, True),
        ({"tags": {"$contains": "x"}}, {"tags": ["y", "x"]}, True),
        ({"tags": {"$contains": "x"}}, {"tags": ["y"]}, False),
        ({"tags": {"$contains": "x"}}, {"tags": "x"}, False),
        ({"tags": {"$contains": ["x", "z"]}}, {"tags": ["z", "y", "x"]}, True),
        ({"tags": {"$contains": ["x", "z"]}}, {"tags": ["x"]}, False),
        ({"tags": ["x"]}, {"tags": ["x", "y"]}, True),
        ({"level": 1}, {"level": 1.0}, True),
        ({"level": 1}, {"level": True}, False),
        ({"on": True}, {"on": 1}, False),
        ({"on": True}, {"on": True}, True),
        ({"owner": "u1"}, {"owner": ["u1"]}, False),
        ({"owner": "u1", "org": "o"}, {"owner": "u1", "org": "p"}, False),
        ({"owner": "u1", "org": "o"}, {"owner": "u1", "org": "o"}, True),
        ({}, {}, True),
    ],
    ids=[
        "equal",
        "not-equal",
        "missing",
        "missing-is-not-null",
        "null",
        "eq-operator",
        "contains",
        "contains-missing-item",
        "contains-needs-a-list",
        "contains-all",
        "contains-not-all",
        "list-shorthand",
        "int-equals-float",
        "bool-is-not-int",
        "int-is-not-bool",
        "bool",
        "scalar-is-not-list",
        "and-one-fails",
        "and-all-hold",
        "empty",
    ],
)
def test_matches(filter: dict[str, Any], metadata: dict[str, Any], expected: bool) -> None:
    """matches applies a handler's filter to one object's metadata."""
    assert matches(filter, metadata) is expected


@pytest.mark.parametrize(
    "filter",
    [
        {"owner": {"$ne": "u1"}},
        {"$or": [{"owner": "u1"}]},
        {"owner": {"$eq": "u1", "$contains": "u1"}},
        {"owner": {}},
        {"owner": {"name": "u1"}},
        {"owner": {"$eq": ["u1"]}},
        {"tags": {"$contains": [{"a": 1}]}},
        {1: "u1"},
    ],
    ids=[
        "ne",
        "or",
        "two-operators",
        "no-operator",
        "nested-object",
        "eq-list",
        "contains-object",
        "non-string-key",
    ],
)
def test_unsupported_filter_is_refused(filter: dict[Any, Any]) -> None:
    """Unsupported operators or values raise config.invalid_auth_filter instead of matching."""
    with pytest.raises(ConfigurationError) as caught:
        matches(filter, {"owner": "u1"})
    assert caught.value.code == "config.invalid_auth_filter"


def test_normalised_filter_is_its_own_normal_form() -> None:
    """Normalising twice changes nothing (callers may pass a normalised filter back)."""
    once = normalize_filter({"owner": {"$eq": "u1"}, "tags": {"$contains": "x"}})
    assert normalize_filter(once) == once == {"owner": "u1", "tags": ["x"]}
