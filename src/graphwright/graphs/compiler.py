"""Compile a validated workflow spec into a LangGraph ``StateGraph``.

``compile_workflow(spec, registry=...)`` is pure: it builds the graph and its
node callables but touches no database. The checkpointer is passed to
:meth:`CompiledWorkflow.graph` by the caller. A
:class:`~graphwright.graphs.checked.CheckedWorkflow` is compiled without being
validated again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from graphwright.errors import Problem, WorkflowValidationError
from graphwright.expressions import compile_expression
from graphwright.graphs.bindings import check_bindings
from graphwright.graphs.checked import CheckedWorkflow
from graphwright.graphs.spec import (
    ApprovalNodeSpec,
    CrewNodeSpec,
    EdgeSpec,
    FunctionNodeSpec,
    MapNodeSpec,
    SubworkflowNodeSpec,
    WorkflowSpec,
)
from graphwright.graphs.validate import WorkflowResolver, validate_workflow
from graphwright.nodes.approval import ApprovalGate
from graphwright.nodes.context import RunContext, expression_context, secret_source
from graphwright.nodes.crew import CrewCall
from graphwright.nodes.function import FunctionCall
from graphwright.nodes.map import MapFanOut, MapLimiter, gather_name, item_name
from graphwright.nodes.policies import attempt_of, guard, retry_policy
from graphwright.nodes.rate_limit import turn_of
from graphwright.nodes.runners import (
    ApprovalNode,
    CrewNode,
    FunctionNode,
    MapCrewItem,
    MapFunctionItem,
    Noop,
)
from graphwright.nodes.subworkflow import SubworkflowCall
from graphwright.registry import Registry
from graphwright.state.model import INPUT_CHANNEL, CompiledState, compile_state, default_value

__all__ = ["CompiledWorkflow", "compile_workflow"]

_NAMES = {"START": START, "END": END}


@dataclass
class CompiledWorkflow:
    """A workflow compiled to an (uncompiled) LangGraph ``StateGraph``.

    Attributes:
        spec: The validated document.
        state: State model and validators.
        builder: The LangGraph builder; :meth:`graph` compiles it.
        subworkflows: Compiled children by ``(workflow id, version)``.
    """

    spec: WorkflowSpec
    state: CompiledState
    builder: StateGraph[Any, Any, Any, Any]
    subworkflows: dict[tuple[str, int | None], CompiledWorkflow] = field(default_factory=dict)

    def graph(
        self, checkpointer: BaseCheckpointSaver[Any] | None = None
    ) -> CompiledStateGraph[Any, Any, Any, Any]:
        """Compile to a runnable LangGraph graph bound to ``checkpointer``.

        The workflow's ``limits.max_steps`` is the graph's recursion limit.
        """
        graph = self.builder.compile(checkpointer=checkpointer, name=self.spec.id)
        return graph.with_config(recursion_limit=self.spec.limits.max_steps)

    def make_input(self, data: Mapping[str, Any], *, fresh: bool = True) -> dict[str, Any]:
        """Validate run input and shape it for LangGraph.

        Fields with a reducer are written with ``Overwrite`` so the input sets
        them rather than being appended/merged. With ``fresh`` (a new thread),
        every other field is set to its default, so the state is complete from
        the first checkpoint.

        Raises:
            InvalidInputError: ``state.invalid_input`` listing every problem.
        """
        values = self.state.validate_input(data)
        out: dict[str, Any] = {}
        for name, spec in self.state.fields.items():
            if name in values:
                value = values[name]
            elif fresh and spec.reducer != "replace" and spec.has_default:
                # Reducer channels start empty ([], {}, 0): seed a declared default.
                value = default_value(spec)
            else:
                continue  # unset fields read as their default (state model, dump)
            out[name] = value if spec.reducer == "replace" else Overwrite(value)
        if self.reads_input:
            out[INPUT_CHANNEL] = values
        return out

    @functools.cached_property
    def reads_input(self) -> bool:
        """Whether any expression of the document reads ``input.*`` (computed once)."""
        return _reads_input(self.spec)

    def output(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Select the workflow's output fields from a state mapping."""
        return {name: values.get(name) for name in self.state.output_fields}


def compile_workflow(
    spec: CheckedWorkflow | WorkflowSpec | Mapping[str, Any] | str,
    *,
    registry: Registry,
    resolve: WorkflowResolver | None = None,
) -> CompiledWorkflow:
    """Compile a workflow; a document that is not a ``CheckedWorkflow`` is validated first.

    A :class:`CheckedWorkflow` is not validated again. Its subworkflows (published
    documents, validated when published) and, when ``registry`` is not the one it
    was checked in, the document itself have only their registry names checked
    (:func:`~graphwright.graphs.bindings.check_bindings`), which compiling needs anyway.
    Any other document, and every subworkflow ``resolve`` returns, is validated in full.

    Args:
        spec: The document: a checked workflow, or a spec, mapping or JSON text.
        registry: Where function names resolve.
        resolve: Looks up published subworkflows by id and version (not with a
            ``CheckedWorkflow``, which carries the subworkflows it was checked against).

    Raises:
        WorkflowValidationError: the document, or a subworkflow, is invalid (every
            problem listed).
        TypeError: ``resolve`` given with a ``CheckedWorkflow``.
    """
    if not isinstance(spec, CheckedWorkflow):
        validated = validate_workflow(spec, registry=registry, resolve=resolve)
        return _Compiler(registry, resolve, {}, checked_children=False).compile(validated)
    if resolve is not None:
        raise TypeError("a CheckedWorkflow carries its subworkflows: do not pass resolve")
    if registry is not spec.registry:
        _raise_problems(
            check_bindings(spec.spec, registry=registry, resolve=spec.resolve), spec.spec.id
        )
    return _Compiler(registry, spec.resolve, {}, checked_children=True).compile(spec.spec)


def _raise_problems(problems: list[Problem], workflow_id: str) -> None:
    if problems:
        raise WorkflowValidationError(problems, workflow_id=workflow_id)


_INPUT_WORD = re.compile(r"(?<![\w.])input(?!\w)")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def _reads_input(spec: WorkflowSpec) -> bool:
    sources: list[str] = []
    for node in spec.nodes.values():
        inner = node.node if isinstance(node, MapNodeSpec) else node
        if isinstance(node, MapNodeSpec):
            sources.append(node.over)
        if isinstance(inner, FunctionNodeSpec):
            sources.extend((inner.inputs or {}).values())
        elif isinstance(inner, SubworkflowNodeSpec | CrewNodeSpec):
            sources.extend(inner.inputs.values())
        elif isinstance(inner, ApprovalNodeSpec):
            sources.append(inner.prompt)
            sources.extend(inner.show.values())
    for edge in spec.edges:
        sources.extend(case.when for case in edge.cases or [])
    return any(_INPUT_WORD.search(_QUOTED.sub("''", text)) for text in sources)


class _Compiler:
    def __init__(
        self,
        registry: Registry,
        resolve: WorkflowResolver | None,
        cache: dict[tuple[str, int | None], CompiledWorkflow],
        *,
        checked_children: bool,
    ) -> None:
        self.registry = registry
        self.resolve = resolve
        self.cache = cache
        # Subworkflows of a CheckedWorkflow were validated when published: only
        # their registry names are checked. Others are validated in full.
        self.checked_children = checked_children

    def child(self, node: SubworkflowNodeSpec) -> CompiledWorkflow:
        key = (node.workflow, node.version)
        if key not in self.cache:
            spec = self.resolve(node.workflow, node.version) if self.resolve else None
            if spec is None:
                raise WorkflowValidationError(
                    [Problem("subworkflow.unknown", "", f"'{node.workflow}' is not published")]
                )
            if self.checked_children:
                assert self.resolve is not None  # a CheckedWorkflow always has a resolver
                _raise_problems(
                    check_bindings(spec, registry=self.registry, resolve=self.resolve), spec.id
                )
            else:
                spec = validate_workflow(spec, registry=self.registry, resolve=self.resolve)
            self.cache[key] = self.compile(spec)
        return self.cache[key]

    def compile(self, spec: WorkflowSpec) -> CompiledWorkflow:
        state = compile_state(spec)
        builder: StateGraph[Any, Any, Any, Any] = StateGraph(state.model, context_schema=RunContext)
        used: dict[tuple[str, int | None], CompiledWorkflow] = {}
        for name, node in spec.nodes.items():
            if isinstance(node, FunctionNodeSpec):
                builder.add_node(
                    name,
                    FunctionNode(
                        name,
                        FunctionCall(node, self.registry, state, in_map=False),
                        node.timeout,
                        node.retry,
                    ),
                    retry_policy=retry_policy(node.retry),
                    metadata={"gw_kind": "function"},
                )
            elif isinstance(node, SubworkflowNodeSpec):
                child = used[(node.workflow, node.version)] = self.child(node)
                builder.add_node(
                    name,
                    _subworkflow_node(
                        name, node, SubworkflowCall(node, child, state, in_map=False)
                    ),
                    retry_policy=retry_policy(node.retry),
                    metadata={"gw_kind": "subworkflow"},
                )
            elif isinstance(node, ApprovalNodeSpec):
                builder.add_node(
                    name,
                    ApprovalNode(ApprovalGate(name, node, state, workflow_id=spec.id)),
                    metadata={"gw_kind": "approval"},
                )
            elif isinstance(node, MapNodeSpec):
                self.add_map(builder, name, node, state, used)
            elif isinstance(node, CrewNodeSpec):
                builder.add_node(
                    name,
                    CrewNode(
                        CrewCall(name, node, self.registry, state, in_map=False),
                        node.timeout,
                        node.retry,
                    ),
                    retry_policy=retry_policy(node.retry),
                    metadata={"gw_kind": "crew"},
                )
        for edge in spec.edges:
            self.add_edge(builder, spec, edge, state)
        return CompiledWorkflow(spec=spec, state=state, builder=builder, subworkflows=used)

    def add_map(
        self,
        builder: StateGraph[Any, Any, Any, Any],
        name: str,
        node: MapNodeSpec,
        state: CompiledState,
        used: dict[tuple[str, int | None], CompiledWorkflow],
    ) -> None:
        inner = node.node
        worker: Any
        if isinstance(inner, CrewNodeSpec):
            worker = MapCrewItem(
                CrewCall(name, inner, self.registry, state, in_map=True),
                timeout=inner.timeout,
                limiter=MapLimiter(node.max_concurrency) if node.max_concurrency else None,
                retry=inner.retry,
            )
        elif isinstance(inner, FunctionNodeSpec):
            worker = MapFunctionItem(
                name,
                FunctionCall(inner, self.registry, state, in_map=True),
                state,
                timeout=inner.timeout,
                limiter=MapLimiter(node.max_concurrency) if node.max_concurrency else None,
                retry=inner.retry,
            )
        else:
            child = used[(inner.workflow, inner.version)] = self.child(inner)
            worker = _map_subworkflow_worker(
                name, node, SubworkflowCall(inner, child, state, in_map=True), state
            )
        builder.add_node(name, Noop(name), metadata={"gw_kind": "map"})
        builder.add_node(
            item_name(name),
            worker,
            retry_policy=retry_policy(inner.retry),
            metadata={"gw_kind": "map_item", "gw_map": name},
        )
        builder.add_node(
            gather_name(name),
            Noop(gather_name(name)),
            metadata={"gw_kind": "map_gather", "gw_map": name},
        )
        builder.add_conditional_edges(
            name, MapFanOut(name, node, state), [item_name(name), gather_name(name)]
        )
        builder.add_edge(item_name(name), gather_name(name))

    def add_edge(
        self,
        builder: StateGraph[Any, Any, Any, Any],
        spec: WorkflowSpec,
        edge: EdgeSpec,
        state: CompiledState,
    ) -> None:
        def source(name: str) -> str:
            if isinstance(spec.nodes.get(name), MapNodeSpec):
                return gather_name(name)
            return _NAMES.get(name, name)

        sources = [source(s) for s in edge.sources]
        if edge.cases is not None:
            router = _Router(edge, state)
            targets = sorted({_NAMES.get(t, t) for t in edge.targets})
            builder.add_conditional_edges(sources[0], router, targets)
            return
        targets = [_NAMES.get(t, t) for t in edge.targets]
        if len(sources) > 1:
            builder.add_edge(sources, targets[0])
            return
        for target in targets:
            builder.add_edge(sources[0], target)


class _Router:
    """A conditional edge: the first case whose CEL condition is true wins."""

    def __init__(self, edge: EdgeSpec, state: CompiledState) -> None:
        self.cases = [
            (compile_expression(c.when), _NAMES.get(c.to, c.to)) for c in edge.cases or []
        ]
        self.default = _NAMES.get(edge.default or "END", edge.default or END)
        self.state = state

    async def __call__(self, state: Any) -> str:
        context = expression_context(state, self.state.fields)
        for condition, target in self.cases:
            if await condition.evaluate_async(context) is True:
                return target
        return self.default


def _subworkflow_node(name: str, spec: SubworkflowNodeSpec, call: SubworkflowCall) -> Any:
    async def subworkflow_node(
        state: Any, config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        context = expression_context(state, call.state.fields)

        async def attempt() -> dict[str, Any]:
            output = await call.call(context=context, config=config, run_context=runtime.context)
            return call.to_update(name, output)

        return await guard(
            name,
            spec.timeout,
            attempt,
            attempt=attempt_of(runtime),
            retry=spec.retry,
            secrets=secret_source(runtime),
            rate_limit=turn_of(runtime, spec.rate_limit),
        )

    subworkflow_node.__name__ = name
    return subworkflow_node


def _map_subworkflow_worker(
    name: str, node: MapNodeSpec, call: SubworkflowCall, state_model: CompiledState
) -> Any:
    inner = node.node
    limiter = MapLimiter(node.max_concurrency) if node.max_concurrency else None

    async def map_item(
        payload: dict[str, Any], config: RunnableConfig, runtime: Runtime[RunContext]
    ) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            output = await call.call(context=payload, config=config, run_context=runtime.context)
            return call.to_update(name, output)

        return await _limited(
            limiter,
            config,
            lambda: guard(
                name,
                inner.timeout,
                attempt,
                attempt=attempt_of(runtime),
                retry=inner.retry,
                secrets=secret_source(runtime),
                rate_limit=turn_of(runtime, inner.rate_limit),
            ),
        )

    map_item.__name__ = item_name(name)
    return map_item


async def _limited(
    limiter: MapLimiter | None,
    config: RunnableConfig,
    run: Callable[[], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    if limiter is None:
        return await run()
    async with limiter.for_task(config):
        return await run()
