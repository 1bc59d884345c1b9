"""LangGraph node callables for function, approval, crew and map-item nodes.

They are objects rather than closures, and their ``__call__`` parameters carry
no annotations: LangGraph inspects every node's signature and scans closures
for subgraphs when it compiles, and plain objects keep that cheap. (This
module deliberately has no ``from __future__ import annotations``.)
"""

from contextlib import nullcontext
from typing import Any

from graphwright.graphs.spec import RetrySpec
from graphwright.nodes.approval import ApprovalGate
from graphwright.nodes.context import expression_context, secret_source
from graphwright.nodes.crew import CrewCall
from graphwright.nodes.function import FunctionCall
from graphwright.nodes.map import MapLimiter
from graphwright.nodes.policies import attempt_of, guard
from graphwright.nodes.rate_limit import turn_of
from graphwright.state.model import INPUT_CHANNEL, CompiledState

__all__ = ["ApprovalNode", "CrewNode", "FunctionNode", "MapCrewItem", "MapFunctionItem", "Noop"]


class FunctionNode:
    """A ``function`` node: call, validate the update."""

    def __init__(
        self,
        name: str,
        call: FunctionCall,
        timeout: float | None,
        retry: RetrySpec | None = None,
    ) -> None:
        self.name = name
        self.call = call
        self.timeout = timeout
        self.retry = retry
        self.__name__ = name

    async def __call__(self, state, runtime):  # type: ignore[no-untyped-def]
        call = self.call
        context = expression_context(state, call.state.fields) if call.inputs else {}
        secrets = secret_source(runtime)

        async def attempt() -> dict[str, Any]:
            result = await call.call(state=state, context=context, secrets=secrets)
            return call.to_update(self.name, result, secrets=secrets)

        return await guard(
            self.name,
            self.timeout,
            attempt,
            attempt=attempt_of(runtime),
            retry=self.retry,
            secrets=secrets,
            rate_limit=turn_of(runtime, call.spec.rate_limit),
        )


class ApprovalNode:
    """An ``approval`` node: interrupt until a valid decision arrives."""

    def __init__(self, gate: ApprovalGate) -> None:
        self.gate = gate
        self.__name__ = gate.name

    def __call__(self, state):  # type: ignore[no-untyped-def]
        return self.gate.run(expression_context(state, self.gate.state.fields))


class MapFunctionItem:
    """One item of a ``map`` over a function, under the map's concurrency limit."""

    def __init__(
        self,
        name: str,
        call: FunctionCall,
        state: CompiledState,
        *,
        timeout: float | None,
        limiter: MapLimiter | None,
        retry: RetrySpec | None = None,
    ) -> None:
        self.name = name
        self.retry = retry
        self.call = call
        self.state = state
        self.timeout = timeout
        self.limiter = limiter
        self.needs_state = "state" in call.entry.parameters or call.entry.accepts_any
        self.__name__ = f"{name}__item"

    async def __call__(self, payload, config, runtime):  # type: ignore[no-untyped-def]
        call = self.call
        typed = (
            self.state.model.model_validate({**payload["state"], INPUT_CHANNEL: payload["input"]})
            if self.needs_state
            else None
        )

        secrets = secret_source(runtime)

        async def attempt() -> dict[str, Any]:
            result = await call.call(
                state=typed,
                context=payload,
                item=payload["item"],
                index=payload["index"],
                secrets=secrets,
            )
            return call.to_update(self.name, result, secrets=secrets)

        tries, turn = attempt_of(runtime), turn_of(runtime, call.spec.rate_limit)
        # The item waits for its rate-limit turn holding its concurrency slot, so a
        # turn taken is used at once (never saved up while slots are full).
        slot = self.limiter.for_task(config) if self.limiter is not None else nullcontext()
        async with slot:
            return await guard(
                self.name,
                self.timeout,
                attempt,
                attempt=tries,
                retry=self.retry,
                secrets=secrets,
                rate_limit=turn,
            )


class CrewNode:
    """A ``crew`` node: evaluate inputs, run the crew under the node's policies."""

    def __init__(
        self,
        call: CrewCall,
        timeout: float | None,
        retry: RetrySpec | None = None,
    ) -> None:
        self.call = call
        self.timeout = timeout
        self.retry = retry
        self.__name__ = call.name

    async def __call__(self, state, runtime):  # type: ignore[no-untyped-def]
        call = self.call
        context = expression_context(state, call.state.fields)
        await call.ready()  # outside the timeout: the first crew run imports crewai

        async def attempt() -> dict[str, Any]:
            return await call.run(await call.evaluate(context))

        return await guard(
            call.name,
            self.timeout,
            attempt,
            attempt=attempt_of(runtime),
            retry=self.retry,
            secrets=secret_source(runtime),
            rate_limit=turn_of(runtime, call.spec.rate_limit),
        )


class MapCrewItem:
    """One item of a ``map`` over a crew, under the map's concurrency limit."""

    def __init__(
        self,
        call: CrewCall,
        *,
        timeout: float | None,
        limiter: MapLimiter | None,
        retry: RetrySpec | None = None,
    ) -> None:
        self.call = call
        self.timeout = timeout
        self.limiter = limiter
        self.retry = retry
        self.__name__ = f"{call.name}__item"

    async def __call__(self, payload, config, runtime):  # type: ignore[no-untyped-def]
        call = self.call
        await call.ready()  # outside the timeout: the first crew run imports crewai

        async def attempt() -> dict[str, Any]:
            return await call.run(await call.evaluate(payload))

        tries, secrets = attempt_of(runtime), secret_source(runtime)
        turn = turn_of(runtime, call.spec.rate_limit)
        if self.limiter is None:
            return await guard(
                call.name,
                self.timeout,
                attempt,
                attempt=tries,
                retry=self.retry,
                secrets=secrets,
                rate_limit=turn,
            )
        async with self.limiter.for_task(config):
            return await guard(
                call.name,
                self.timeout,
                attempt,
                attempt=tries,
                retry=self.retry,
                secrets=secrets,
                rate_limit=turn,
            )


class Noop:
    """A node that changes nothing (map dispatch and gather points)."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, state):  # type: ignore[no-untyped-def]
        return None
