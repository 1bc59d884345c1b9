"""Refuse request text PostgreSQL cannot store, before any route handler runs.

Every router uses :class:`GuardedRoute`: path parameters, query parameters,
headers and the parsed JSON body are checked for NUL characters, lone
surrogates and (the body) nesting deeper than
:data:`~graphwright.graphs.text_checks.MAX_DEPTH` levels. Failures are 422
``request.invalid_text`` / ``request.too_deep`` with a pointer per problem:
``/metadata/a`` for the body, ``/<name>`` for a path or query parameter and
``/headers/<name>`` for a header. A JSON body that cannot even be parsed because
it is not UTF-8 text is 400 ``request.invalid_json``, one nested too deeply for
the parser 422 ``request.too_deep`` (pointer ``""``), on every route.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from fastapi import Request, Response
from fastapi.routing import APIRoute

from graphwright.api.openapi import with_problem_responses
from graphwright.errors import InvalidInputError
from graphwright.graphs.pointers import pointer
from graphwright.graphs.text_checks import TextIssue, find_unstorable, printable_text, text_flaw

__all__ = ["DocumentRoute", "GuardedRoute", "refuse_unstorable", "unstorable_error"]


class GuardedRoute(APIRoute):
    """A route whose requests are checked by :func:`refuse_unstorable` first.

    Its OpenAPI operation lists the problem responses it can answer
    (:func:`~graphwright.api.openapi.with_problem_responses`).
    """

    check_body: ClassVar[bool] = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.responses = with_problem_responses(self)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, preceded by the check."""
        handler = super().get_route_handler()
        check_body = self.check_body

        async def guarded(request: Request) -> Response:
            await refuse_unstorable(request, body=check_body)
            return await handler(request)

        return guarded


class DocumentRoute(GuardedRoute):
    """A guarded route whose body is a workflow document.

    The document validator reports the same flaws as ``dsl.*`` problems, so
    ``/workflows/validate`` and publishing answer alike.
    """

    check_body = False


async def refuse_unstorable(request: Request, *, body: bool = True) -> None:
    """Check a request's path, query, headers and (with ``body``) JSON body.

    The body is parsed either way (the route reuses the result), so a body that
    is not UTF-8 or too deep to parse is refused here for every route.

    Raises:
        InvalidInputError: ``request.invalid_text`` or ``request.too_deep`` (422),
            ``request.invalid_json`` (400).
    """
    issues: list[TextIssue] = []
    for name, value in request.path_params.items():
        _check_text(issues, str(value), pointer(name))
    for name, value in request.query_params.multi_items():
        where = pointer(printable_text(name))
        if not _check_text(issues, name, where, in_key=True):
            _check_text(issues, value, where)
    for name, value in request.headers.items():
        _check_text(issues, value, pointer("headers", printable_text(name)))
    if not issues:
        try:
            parsed = await _json_body(request)
        except RecursionError:
            issues.append(TextIssue("too_deep", ""))
        else:
            if body:
                issues += find_unstorable(parsed)
    if issues:
        raise unstorable_error(issues)


def _check_text(issues: list[TextIssue], text: str, where: str, *, in_key: bool = False) -> bool:
    """Append the issue of ``text`` (if any) to ``issues``; True when there was one."""
    flaw = text_flaw(text)
    if flaw is not None:
        issues.append(TextIssue(flaw, where, in_key=in_key))
    return flaw is not None


def unstorable_error(issues: list[TextIssue]) -> InvalidInputError:
    """The 422 error for ``issues`` (its code is the first issue's kind)."""
    first = issues[0]
    code = "request.too_deep" if first.kind == "too_deep" else "request.invalid_text"
    problems = [{"pointer": i.pointer, "message": i.message} for i in issues]
    return InvalidInputError(
        f"invalid request at {first.pointer or '/'}: {first.message}",
        code=code,
        details={"problems": problems},
    )


async def _json_body(request: Request) -> Any:
    """The parsed JSON body (cached on the request for the route), or None.

    A body that is not JSON (or not sent as JSON) is None: the route refuses it as usual.

    Raises:
        RecursionError: the body is nested too deeply for the JSON parser.
        InvalidInputError: ``request.invalid_json``: the body is not UTF-8 text.
    """
    content_type = request.headers.get("content-type")
    if content_type:
        kind = content_type.split(";", 1)[0].strip().lower()
        if not kind.startswith("application/") or not (
            kind == "application/json" or kind.endswith("+json")
        ):
            return None
    if not await request.body():
        return None
    try:
        return await request.json()
    except UnicodeDecodeError:
        # FastAPI would answer a bare 400 "error parsing the body" for these.
        raise InvalidInputError(
            "the request body is not valid JSON: it is not UTF-8 text",
            code="request.invalid_json",
        ) from None
    except ValueError:
        return None
