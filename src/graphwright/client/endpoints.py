"""Endpoints written once, for both clients.

An endpoint is a method that builds a :class:`~graphwright.client.calls.Call`;
:func:`endpoint` turns it into a method that sends the call through the client the
resource belongs to. The same class then serves both clients: on a
:class:`~graphwright.client.Client` resource (``Resource[Blocking]``) the method returns
the result, on an :class:`~graphwright.client.AsyncClient` resource
(``Resource[Awaiting]``) it is a coroutine function. Signatures, docstrings and result
types are the builder's, for type checkers (through the overloads of
:meth:`endpoint.__get__`) and for ``help()`` alike::

    class Threads(Resource[M]):
        @endpoint
        def get(self, thread_id: str) -> Call[Thread]:
            \"\"\"One thread with its values and pending interrupts.\"\"\"
            return Call("GET", f"/threads/{segment(thread_id)}", parse_model(Thread))
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, final, overload

from graphwright.client.calls import Call

__all__ = ["Awaiting", "Blocking", "M", "Resource", "Sender", "endpoint"]

P = ParamSpec("P")
T = TypeVar("T")


@final
class Blocking:
    """Mode of :class:`~graphwright.client.Client` resources: methods return results."""


@final
class Awaiting:
    """Mode of :class:`~graphwright.client.AsyncClient` resources: methods are awaited."""


M = TypeVar("M", Blocking, Awaiting)


class Sender(Protocol):
    """A client: ``send`` returns a call's result (Client) or a coroutine of it (AsyncClient)."""

    def send(self, call: Call[Any]) -> Any:
        """Send one call."""


class Resource(Generic[M]):
    """A group of endpoints (``client.workflows``, ``client.runs``...)."""

    def __init__(self, client: Sender) -> None:
        """Send through ``client``."""
        self.client = client


_CALL = re.compile(r"^Call\[(.*)\]$")


class endpoint(Generic[P, T]):
    """Decorator: a method building a ``Call[T]`` becomes a method sending it.

    Bound to a resource of a :class:`~graphwright.client.Client` it returns ``T``; of an
    :class:`~graphwright.client.AsyncClient`, it is a coroutine function returning ``T``.
    """

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        """Wrap ``build`` (``self`` is the resource)."""
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__
        signature = inspect.signature(build)
        returns = signature.return_annotation
        if isinstance(returns, str) and (match := _CALL.match(returns)):
            returns = match.group(1)
        self.signature = signature.replace(
            parameters=list(signature.parameters.values())[1:], return_annotation=returns
        )

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, resource: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, resource: Resource[Blocking], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, resource: Resource[Awaiting], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any]) -> Any:
        """The method bound to ``resource`` (made once per resource, then cached)."""
        if resource is None:
            return self
        build, send = self.build, resource.client.send

        async def awaiting(*args: Any, **kwargs: Any) -> Any:
            return await send(build(resource, *args, **kwargs))

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return send(build(resource, *args, **kwargs))

        method: Any = awaiting if inspect.iscoroutinefunction(send) else blocking
        functools.update_wrapper(method, build)
        del method.__wrapped__  # help() shows the signature below (no ``self``, no ``Call``)
        method.__signature__ = self.signature
        resource.__dict__[self.name] = method  # later lookups skip this descriptor
        return method
