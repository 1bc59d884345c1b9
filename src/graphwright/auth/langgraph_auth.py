"""LangGraph Platform custom auth: a ``langgraph_sdk.Auth`` object (``GW_AUTH=auth.py:auth``).

An operator who wrote ``@auth.authenticate`` and ``@auth.on`` handlers for LangGraph
Platform names them the way ``langgraph.json`` does: a file path (relative to the
working directory, or absolute) or a module name, then ``:`` and the variable. The
file's imports must resolve on ``sys.path`` as for any module (LangGraph installs the
project with ``"dependencies": ["."]``; do the same, or set ``PYTHONPATH``).

Authorization follows LangGraph Platform: for a (resource, action) the most specific
handler runs, ``@auth.on.<resource>.<action>`` before ``@auth.on.<resource>`` before
``@auth.on(actions=<action>)`` before ``@auth.on``; without any, the request is
allowed. A handler returns ``None`` or ``True`` (allow), ``False`` (deny, 403) or a
filter on the resource's metadata, and may change ``value`` (the caller reads it
back, for example the metadata a ``create`` handler adds).

Supported filters (several keys must all hold):

- ``{"k": v}`` and ``{"k": {"$eq": v}}``: metadata ``k`` equals ``v``, a JSON scalar
  (string, number, boolean or null).
- ``{"k": {"$contains": v}}``: metadata ``k`` is a list holding ``v``;
  ``{"k": {"$contains": [v1, v2]}}`` and its shorthand ``{"k": [v1, v2]}``: a list
  holding each of them (items are scalars).

Anything else (``$ne``, ``$in``, ``$or``, nested objects, two operators on one key)
raises :class:`~graphwright.errors.ConfigurationError` ``config.invalid_auth_filter``
rather than being ignored. A normalised filter is ``{"k": scalar}`` for equality and
``{"k": [scalars]}`` for containment: exactly what PostgreSQL's ``metadata @> filter``
tests, and what :func:`matches` checks for one object.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Final, cast

from langgraph_sdk import Auth
from langgraph_sdk.auth.exceptions import HTTPException
from langgraph_sdk.auth.types import AuthContext, BaseUser
from starlette.concurrency import run_in_threadpool

from graphwright.auth.principal import ROLES, AuthError, Principal
from graphwright.errors import ConfigurationError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["ACTIONS", "LangGraphAuth", "load_langgraph_auth", "matches", "normalize_filter"]

log = logging.getLogger("graphwright.auth")

ACTIONS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "threads": ("create", "read", "update", "delete", "search", "create_run"),
        "assistants": ("create", "read", "update", "delete", "search"),
        "crons": ("create", "read", "update", "delete", "search"),
        "store": ("put", "get", "search", "list_namespaces", "delete"),
    }
)
"""The resources graphwright authorizes with ``on`` handlers, and their actions."""

_TENANT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""A tenant name (the pattern of ``GW_TENANT``)."""


def _headers(request: Request) -> dict[bytes, bytes]:
    # As LangGraph Platform passes them: raw ASGI names (lower case) and values.
    return dict(request.scope.get("headers") or [])


def _authorization(request: Request) -> str | None:
    value = _headers(request).get(b"authorization")
    return value.decode("latin-1") if value is not None else None


_ARGUMENTS: Final[Mapping[str, Callable[[Request], Any]]] = MappingProxyType(
    {
        "request": lambda request: request,
        "headers": _headers,
        "authorization": _authorization,
        "path": lambda request: request.scope.get("path", ""),
        "method": lambda request: request.method,
        "query_params": lambda request: request.query_params,
        "path_params": lambda request: request.path_params,
        # Scopes a Starlette AuthenticationMiddleware granted earlier; none in graphwright.
        "scopes": lambda request: list(getattr(request.scope.get("auth"), "scopes", [])),
        "scope": lambda request: request.scope,
    }
)
"""What an authenticate handler may declare, by parameter name."""


def load_langgraph_auth(spec: str) -> LangGraphAuth:
    """Load the ``langgraph_sdk.Auth`` named by ``path/to/auth.py:name`` or ``package.module:name``.

    Raises:
        ConfigurationError: ``config.invalid_auth`` when the spec is malformed, the
            file or module cannot be imported (its own error is in the message), the
            variable is missing or not a ``langgraph_sdk.Auth``, or its authenticate
            handler declares a parameter graphwright cannot give.
    """
    source, colon, name = spec.strip().rpartition(":")
    if not colon or not source or not name.isidentifier():
        raise ConfigurationError(
            f"GW_AUTH={spec!r}: name an Auth object as path/to/auth.py:auth or package.module:auth",
            code="config.invalid_auth",
        )
    module = _import(source)
    found = getattr(module, name, None)
    if found is None:
        raise ConfigurationError(f"{source} has no variable {name!r}", code="config.invalid_auth")
    if not isinstance(found, Auth):
        raise ConfigurationError(
            f"{source}:{name} is a {type(found).__name__}, not a langgraph_sdk.Auth",
            code="config.invalid_auth",
        )
    return LangGraphAuth(found)


def _import(source: str) -> ModuleType:
    as_file = source.endswith(".py") or "/" in source or "\\" in source
    try:
        if not as_file:
            return importlib.import_module(source)
        path = Path(source).resolve()
        if not path.is_file():
            raise ConfigurationError(f"no auth file {path}", code="config.invalid_auth")
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        stem = re.sub(r"\W", "_", path.stem)
        name = f"graphwright_auth_{stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ConfigurationError(f"cannot load {path}", code="config.invalid_auth")
        module = importlib.util.module_from_spec(spec)
        # Registered before running, as an import would: dataclasses and type hints
        # of the handlers look their module up there.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]  # a failed load must not be served from the cache
            raise
        return module
    except ConfigurationError:
        raise
    except Exception as exc:  # the module's own code may raise anything: report it coded
        raise ConfigurationError(
            f"cannot import auth module {source!r}: {type(exc).__name__}: {exc}",
            code="config.invalid_auth",
        ) from exc


class LangGraphAuth:
    """Runs the handlers of one ``langgraph_sdk.Auth`` as LangGraph Platform does.

    Reads ``Auth``'s ``_authenticate_handler``, ``_handlers`` and ``_global_handlers``:
    langgraph_sdk documents them as read by the server and keeps them stable.
    """

    def __init__(self, auth: Auth) -> None:
        """Resolve the handler of every supported (resource, action) up front.

        Raises:
            ConfigurationError: ``config.invalid_auth`` when the authenticate handler
                declares a parameter other than those of :data:`_ARGUMENTS` without a
                default, or a positional-only one.
        """
        self._authenticate: Callable[..., Any] | None = auth._authenticate_handler
        self._parameters: tuple[str, ...] = ()
        self._is_async = False
        if self._authenticate is None:
            log.warning("the langgraph_sdk.Auth has no @auth.authenticate: every request fails")
        else:
            self._parameters = _parameters_of(self._authenticate)
            self._is_async = inspect.iscoroutinefunction(self._authenticate)
        handlers = auth._handlers
        fallback = auth._global_handlers[-1] if auth._global_handlers else None
        resolved: dict[tuple[str, str], Callable[..., Any] | None] = {}
        for resource, actions in ACTIONS.items():
            for action in actions:
                keys = ((resource, action), (resource, "*"), ("*", action))
                found = next((handlers[key][-1] for key in keys if handlers.get(key)), fallback)
                resolved[(resource, action)] = found
        self._handlers = MappingProxyType(resolved)
        for resource, action in handlers:
            if (resource != "*" and resource not in ACTIONS) or (
                action != "*" and not any(action in ACTIONS[r] for r in _known(resource))
            ):
                log.warning(
                    "auth handler for %s.%s is never called by graphwright", resource, action
                )

    async def authenticate(self, request: Request, *, default_tenant: str) -> Principal:
        """Who sent ``request``, as the authenticate handler says.

        The handler is called with the parameters it declares (sync handlers in a
        worker thread). The principal is ``custom:<identity>``; its tenant is the
        returned user's ``tenant`` (key or attribute) or ``default_tenant``; its roles
        are the graphwright roles among the user's ``permissions``, or every role but
        ``admin`` when they name none (LangGraph lets any authenticated user do what
        its ``on`` handlers allow).

        Raises:
            AuthError: ``auth.invalid`` (no authenticate handler, or it raised
                ``HTTPException`` with a status other than 403) or ``auth.forbidden``
                (403); the message is the exception's ``detail``.
            ConfigurationError: ``config.invalid_auth_handler`` when the handler
                returns something without a non-empty string identity, permissions that
                are not strings, or a tenant that is not a tenant name.
        """
        handler = self._authenticate
        if handler is None:
            raise AuthError("the auth module has no @auth.authenticate handler")
        arguments = {name: _ARGUMENTS[name](request) for name in self._parameters}
        try:
            if self._is_async:
                returned = await handler(**arguments)
            else:
                returned = await run_in_threadpool(handler, **arguments)
            if inspect.isawaitable(returned):
                returned = await returned
        except HTTPException as exc:
            raise _refusal(exc) from None
        user = _user_of(returned)
        return Principal(
            id=f"custom:{user.identity}",
            tenant=_tenant_of(returned, default_tenant),
            roles=_roles(user.permissions),
            name=user.display_name,
            kind="custom",
            user=returned,
        )

    async def authorize(
        self, principal: Principal, resource: str, action: str, value: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Run the most specific ``on`` handler of ``resource``/``action`` on ``value``.

        ``value`` is passed as is: the handler may change it (add metadata, rewrite a
        store namespace) and the caller reads it back.

        Returns:
            None when allowed without restriction (no handler, ``None``, ``True`` or an
            empty filter), else the normalised metadata filter (see the module doc).

        Raises:
            AuthError: ``auth.forbidden`` when the handler returns ``False`` or raises
                ``HTTPException(403)``; ``auth.invalid`` for another status.
            ConfigurationError: ``config.invalid_auth_filter`` for an unsupported
                filter, ``config.invalid_auth_handler`` for a result that is neither
                ``None``, a bool nor a dict.
            ValueError: ``resource``/``action`` is not in :data:`ACTIONS` (a caller bug).
        """
        if action not in ACTIONS.get(resource, ()):
            raise ValueError(f"no such auth resource/action: {resource}.{action}")
        handler = self._handlers[(resource, action)]
        if handler is None:
            return None
        user = _user_of(principal.user) if principal.user is not None else _user_from(principal)
        context = AuthContext(
            permissions=user.permissions,
            user=cast(BaseUser, user),
            resource=cast(Any, resource),
            action=cast(Any, action),
        )
        try:
            result = handler(ctx=context, value=value)
            if inspect.isawaitable(result):
                result = await result
        except HTTPException as exc:
            raise _refusal(exc) from None
        if result is None or result is True:
            return None
        if result is False:
            raise AuthError(
                f"the auth handler refuses {resource}.{action}",
                code="auth.forbidden",
                details={"resource": resource, "action": action},
            )
        if isinstance(result, Mapping):
            return normalize_filter(result) or None
        raise ConfigurationError(
            f"the auth handler of {resource}.{action} returned a {type(result).__name__}; "
            "expected None, a bool or a filter dict",
            code="config.invalid_auth_handler",
        )


def _known(resource: str) -> Sequence[str]:
    return tuple(ACTIONS) if resource == "*" else (resource,) if resource in ACTIONS else ()


def _parameters_of(handler: Callable[..., Any]) -> tuple[str, ...]:
    names: list[str] = []
    for parameter in inspect.signature(handler).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name in _ARGUMENTS and parameter.kind != parameter.POSITIONAL_ONLY:
            names.append(parameter.name)
        elif parameter.default is parameter.empty:
            raise ConfigurationError(
                f"the authenticate handler declares {parameter.name!r}; graphwright passes "
                f"these by name: {', '.join(_ARGUMENTS)}",
                code="config.invalid_auth",
            )
    return tuple(names)


def _refusal(exc: HTTPException) -> AuthError:
    code = "auth.forbidden" if exc.status_code == 403 else "auth.invalid"
    return AuthError(str(exc.detail), code=code, details={"status": exc.status_code})


class _User:
    """``ctx.user`` of an ``on`` handler: the authenticated user as LangGraph shows it.

    Has ``identity``, ``display_name``, ``permissions`` and ``is_authenticated``;
    other keys (or attributes) of what the authenticate handler returned are read as
    ``ctx.user["org"]`` or ``ctx.user.org``.
    """

    __slots__ = ("display_name", "identity", "is_authenticated", "permissions", "raw")

    def __init__(
        self,
        raw: Any,
        *,
        identity: str,
        display_name: str,
        permissions: Sequence[str],
        is_authenticated: bool = True,
    ) -> None:
        self.raw = raw
        self.identity = identity
        self.display_name = display_name
        self.permissions = permissions
        self.is_authenticated = is_authenticated

    def __getitem__(self, key: str) -> Any:
        if isinstance(self.raw, Mapping):
            return self.raw[key]
        if key in self.__slots__ and key != "raw":
            return getattr(self, key)
        try:
            return getattr(self.raw, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def _keys(self) -> list[str]:
        if isinstance(self.raw, Mapping):
            return list(self.raw)
        return ["identity", "display_name", "permissions", "is_authenticated"]

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not slots: the returned user's own.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _field(returned: Any, name: str) -> Any:
    if isinstance(returned, Mapping):
        return returned.get(name)
    return getattr(returned, name, None)


def _user_of(returned: Any) -> _User:
    """Read what an authenticate handler returned: a string, a dict or a user object."""
    if isinstance(returned, str):
        identity: Any = returned
    elif isinstance(returned, Mapping) or hasattr(returned, "identity"):
        identity = _field(returned, "identity")
    else:
        identity = None
    if not isinstance(identity, str) or not identity:
        raise _bad_user(
            f"the authenticate handler returned a {type(returned).__name__} without a "
            "non-empty string identity"
        )
    if isinstance(returned, str):
        return _User(returned, identity=identity, display_name=identity, permissions=())
    permissions = _field(returned, "permissions")
    if permissions is None:
        permissions = ()
    if isinstance(permissions, str | bytes) or not isinstance(permissions, Sequence):
        raise _bad_user("the authenticate handler's permissions are not a list of strings")
    if not all(isinstance(p, str) for p in permissions):
        raise _bad_user("the authenticate handler's permissions are not a list of strings")
    display_name = _field(returned, "display_name")
    authenticated = _field(returned, "is_authenticated")
    return _User(
        returned,
        identity=identity,
        display_name=display_name if isinstance(display_name, str) and display_name else identity,
        permissions=tuple(permissions),
        is_authenticated=authenticated if isinstance(authenticated, bool) else True,
    )


def _user_from(principal: Principal) -> _User:
    """``ctx.user`` for a principal of another kind: its id, its roles as permissions."""
    return _User(
        None,
        identity=principal.id,
        display_name=principal.name or principal.id,
        permissions=tuple(sorted(principal.roles)),
    )


def _tenant_of(returned: Any, default: str) -> str:
    tenant = None if isinstance(returned, str) else _field(returned, "tenant")
    if tenant is None:
        return default
    if not isinstance(tenant, str) or not _TENANT.match(tenant):
        raise _bad_user("the authenticate handler's tenant is not a tenant name")
    return tenant


def _roles(permissions: Sequence[str]) -> frozenset[str]:
    named = frozenset(p for p in permissions if p in ROLES)
    return named or frozenset(role for role in ROLES if role != "admin")


def _bad_user(message: str) -> ConfigurationError:
    return ConfigurationError(message, code="config.invalid_auth_handler")


def normalize_filter(filter: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised form of an ``on`` handler's metadata filter (see the module doc).

    Raises:
        ConfigurationError: ``config.invalid_auth_filter`` for an unsupported key,
            operator or value.
    """
    normal: dict[str, Any] = {}
    for key, wanted in filter.items():
        if not isinstance(key, str) or key.startswith("$"):
            raise _bad_filter(f"filter key {key!r} is not supported (only metadata keys)")
        normal[key] = _condition(key, wanted)
    return normal


def _condition(key: str, wanted: Any) -> Any:
    if isinstance(wanted, Mapping):
        if len(wanted) != 1:
            raise _bad_filter(f"filter of {key!r} must have exactly one operator: $eq or $contains")
        ((operator, operand),) = wanted.items()
        if operator == "$eq":
            return _scalar_of(key, operand)
        if operator == "$contains":
            return _items(key, operand if isinstance(operand, list | tuple) else [operand])
        raise _bad_filter(f"filter operator {operator!r} of {key!r} is not supported")
    if isinstance(wanted, list | tuple):
        return _items(key, wanted)
    return _scalar_of(key, wanted)


def _scalar_of(key: str, wanted: Any) -> Any:
    if not _scalar(wanted):
        raise _bad_filter(f"filter value of {key!r} must be a string, number, boolean or null")
    return wanted


def _items(key: str, items: Sequence[Any]) -> list[Any]:
    if not all(_scalar(item) for item in items):
        raise _bad_filter(f"$contains of {key!r} takes strings, numbers, booleans or null")
    return list(items)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _bad_filter(message: str) -> ConfigurationError:
    return ConfigurationError(message, code="config.invalid_auth_filter")


def matches(filter: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` (of one object) satisfies ``filter``.

    ``filter`` is read as an ``on`` handler's (normalised or not). A key missing from
    ``metadata`` does not match, not even ``None``; ``True`` does not equal ``1``.

    Raises:
        ConfigurationError: ``config.invalid_auth_filter`` for an unsupported filter.
    """
    for key, wanted in normalize_filter(filter).items():
        if key not in metadata:
            return False
        value = metadata[key]
        if isinstance(wanted, list):
            if not isinstance(value, list | tuple):
                return False
            if not all(any(_same(have, item) for have in value) for item in wanted):
                return False
        elif not _same(value, wanted):
            return False
    return True


def _same(have: Any, wanted: Any) -> bool:
    # JSON equality: booleans are not numbers, 1 equals 1.0, containers never equal scalars.
    if isinstance(have, bool) or isinstance(wanted, bool):
        return have is wanted
    return _scalar(have) and bool(have == wanted)
