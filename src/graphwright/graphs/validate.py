"""Whole-document validation: every problem, each with a code and a JSON pointer.

``check_workflow`` never raises for bad documents; it returns problems.
``validate_workflow`` raises :class:`WorkflowValidationError` listing them all.
``parse_workflow`` does only the structural part (JSON, keys, types).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from graphwright.errors import Problem, WorkflowValidationError
from graphwright.expressions import ExpressionError, compile_expression, compile_template
from graphwright.graphs.bindings import (
    FUNCTION_CONTEXT,
    MAP_CONTEXT,
    WorkflowResolver,
    function_ref_problems,
    rate_limit_problems,
    unknown_subworkflow,
)
from graphwright.graphs.crew_checks import check_crew
from graphwright.graphs.graph_checks import check_graph
from graphwright.graphs.pointers import loc_to_pointer, pointer
from graphwright.graphs.spec import (
    ApprovalNodeSpec,
    CrewNodeSpec,
    FunctionNodeSpec,
    MapNodeSpec,
    SubworkflowNodeSpec,
    WorkflowSpec,
)
from graphwright.graphs.text_checks import document_text_problems
from graphwright.registry import Registry
from graphwright.state.model import INPUT_CHANNEL
from graphwright.state.reducers import reducer_accepts

__all__ = [
    "NODE_KINDS",
    "WorkflowResolver",
    "check_workflow",
    "parse_workflow",
    "suggest",
    "validate_workflow",
]

NODE_KINDS = ("function", "subworkflow", "approval", "map", "crew")
MAX_DOCUMENT_BYTES = 2_000_000

_RESERVED_FIELDS = frozenset(dir(BaseModel)) | {INPUT_CHANNEL}


def suggest(name: str, candidates: list[str] | tuple[str, ...] | Any) -> str | None:
    """Return the closest candidate to ``name`` (for 'did you mean' hints)."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return matches[0] if matches else None


def validate_workflow(
    data: Any,
    *,
    registry: Registry | None = None,
    resolve: WorkflowResolver | None = None,
) -> WorkflowSpec:
    """Validate a document (JSON text, mapping or spec) and return the spec.

    Args:
        data: The document.
        registry: Checks function names against it; ``None`` skips those checks.
        resolve: Looks up subworkflows; ``None`` skips subworkflow checks.

    Raises:
        WorkflowValidationError: listing every problem found.
    """
    spec, problems = check_workflow(data, registry=registry, resolve=resolve)
    if problems or spec is None:
        workflow_id = data.get("id") if isinstance(data, Mapping) else None
        raise WorkflowValidationError(problems, workflow_id=spec.id if spec else workflow_id)
    return spec


def check_workflow(
    data: Any,
    *,
    registry: Registry | None = None,
    resolve: WorkflowResolver | None = None,
) -> tuple[WorkflowSpec | None, list[Problem]]:
    """Validate a document and return ``(spec or None, problems)``; never raises for bad input.

    A :class:`WorkflowSpec` (from :func:`parse_workflow`) is not parsed again.
    """
    if isinstance(data, WorkflowSpec):
        spec = data
    else:
        structured, problems = parse_workflow(data)
        if structured is None:
            return None, problems + _beyond_broken_nodes(
                data, problems, registry=registry, resolve=resolve
            )
        spec = structured
    checker = _Checker(spec, registry=registry, resolve=resolve)
    checker.run()
    return (spec if not checker.problems else None), checker.problems


_STAND_IN = {"kind": "function", "ref": "stand_in"}
"""Takes the place of a node whose shape is wrong, so the rest of the document is checked."""


def _beyond_broken_nodes(
    data: Any,
    problems: list[Problem],
    *,
    registry: Registry | None,
    resolve: WorkflowResolver | None,
) -> list[Problem]:
    """The semantic problems of a document whose only shape problems are inside nodes.

    Each broken node is replaced by a stand-in and the document checked again, so
    an unknown node kind does not hide a CEL typo or an edge to a misspelled node.
    Problems at or under a replaced node are dropped (the shape problem names it).
    Empty when other parts of the document are malformed.
    """
    parsed, _ = _parse(data)
    nodes = parsed.get("nodes") if isinstance(parsed, Mapping) else None
    if not isinstance(nodes, Mapping) or not problems:
        return []
    bases = {pointer("nodes", str(name)): name for name in nodes}
    broken: set[str] = set()
    for problem in problems:
        name = next(
            (
                n
                for b, n in bases.items()
                if problem.pointer == b or problem.pointer.startswith(b + "/")
            ),
            None,
        )
        if name is None:
            return []  # a problem outside the nodes: the document's shape is too unsure
        broken.add(name)
    salvaged = dict(parsed)
    salvaged["nodes"] = {n: (_STAND_IN if n in broken else node) for n, node in nodes.items()}
    try:
        spec = WorkflowSpec.model_validate(salvaged)
    except (ValidationError, RecursionError):
        return []
    checker = _Checker(spec, registry=registry, resolve=resolve)
    checker.run()
    hidden = [pointer("nodes", name) for name in broken]
    return [
        p
        for p in checker.problems
        if not any(p.pointer == b or p.pointer.startswith(b + "/") for b in hidden)
    ]


def parse_workflow(data: Any) -> tuple[WorkflowSpec | None, list[Problem]]:
    """Parse a document (JSON text, bytes, mapping or spec) into a spec, checking only its shape.

    Returns ``(spec, [])``, or ``(None, problems)`` for the JSON, key and type
    problems that :func:`check_workflow` reports first. The spec is not checked
    any further: pass it to :func:`check_workflow` (it is not parsed again).
    """
    if isinstance(data, WorkflowSpec):
        return data, []
    parsed, problems = _parse(data)
    if problems:
        return None, problems
    # What PostgreSQL cannot store is refused here, so validating and publishing agree.
    problems = document_text_problems(parsed)
    if problems:
        return None, problems
    return _structure(parsed)


def _parse(data: Any) -> tuple[Any, list[Problem]]:
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode()
        except UnicodeDecodeError:
            return None, [Problem("dsl.invalid_json", "", "document is not UTF-8 text")]
    if isinstance(data, str):
        if len(data) > MAX_DOCUMENT_BYTES:
            return None, [Problem("dsl.too_large", "", "document is larger than 2 MB")]
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, RecursionError) as exc:
            return None, [Problem("dsl.invalid_json", "", f"not valid JSON: {exc}")]
    if not isinstance(data, Mapping):
        return None, [Problem("dsl.wrong_type", "", "a workflow document is a JSON object")]
    return data, []


def _structure(data: Any) -> tuple[WorkflowSpec | None, list[Problem]]:
    problems: list[Problem] = []
    nodes = data.get("nodes")
    if isinstance(nodes, Mapping):
        for name, node in nodes.items():
            if isinstance(node, Mapping) and "kind" in node and node["kind"] not in NODE_KINDS:
                kind = node["kind"]
                problems.append(
                    Problem(
                        "node.unknown_kind",
                        pointer("nodes", str(name), "kind"),
                        f"unknown node kind {kind!r}; known kinds: {', '.join(NODE_KINDS)}",
                        suggest(str(kind), NODE_KINDS),
                    )
                )
    try:
        return WorkflowSpec.model_validate(data), []
    except ValidationError as exc:
        seen = {p.pointer for p in problems}
        for err in exc.errors(include_url=False):
            problem = _problem_from_error(data, err)
            if problem.code == "node.unknown_kind" and problem.pointer in seen:
                continue
            if problem.code == "node.unknown_kind" and any(
                p.code == "node.unknown_kind" and problem.pointer.startswith(p.pointer)
                for p in problems
            ):
                continue
            problems.append(problem)
    except RecursionError:
        problems.append(Problem("dsl.too_deep", "", "document is nested too deeply"))
    return None, _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for p in problems:
        key = (p.code, p.pointer, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _problem_from_error(data: Any, err: Mapping[str, Any]) -> Problem:
    loc = tuple(err.get("loc", ()))
    where = loc_to_pointer(data, loc)
    kind = err.get("type", "")
    message = str(err.get("msg", "invalid value"))
    if kind == "missing":
        return Problem("dsl.missing", where, f"required key '{loc[-1]}' is missing")
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        return Problem(
            "dsl.unknown_key", where, f"unknown key '{key}'", _suggest_key(data, loc, key)
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        if kind == "union_tag_not_found":
            return Problem("node.missing_kind", where, "node needs a 'kind'")
        return Problem(
            "node.unknown_kind",
            where if where.endswith("/kind") else where + "/kind",
            f"unknown node kind; known kinds: {', '.join(NODE_KINDS)}",
        )
    if kind == "string_pattern_mismatch":
        return Problem("dsl.invalid_name", where, message)
    if kind == "literal_error" and loc and loc[0] == "dsl":
        return Problem("dsl.unsupported_version", where, "'dsl' must be \"graphwright/v1\"")
    if kind == "value_error" and loc and loc[0] == "edges":
        return Problem("edge.invalid", where, message.removeprefix("Value error, "))
    if kind == "value_error" and loc and loc[0] == "nodes" and "crew" in loc:
        return Problem("crew.invalid", where, message.removeprefix("Value error, "))
    return Problem("dsl.invalid_value", where, message)


def _suggest_key(data: Any, loc: tuple[Any, ...], key: str) -> str | None:
    from graphwright.graphs import spec as spec_module

    models: list[type[BaseModel]] = [
        spec_module.WorkflowSpec,
        spec_module.FieldSpec,
        spec_module.EdgeSpec,
        spec_module.FunctionNodeSpec,
        spec_module.ApprovalNodeSpec,
        spec_module.SubworkflowNodeSpec,
        spec_module.MapNodeSpec,
        spec_module.RetrySpec,
        spec_module.CrewNodeSpec,
        spec_module.InlineCrewSpec,
        spec_module.CrewAgentSpec,
        spec_module.CrewTaskSpec,
    ]
    names: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return suggest(key, sorted(names))


class _Checker:
    """Semantic checks over a structurally valid spec."""

    def __init__(
        self, spec: WorkflowSpec, *, registry: Registry | None, resolve: WorkflowResolver | None
    ) -> None:
        self.spec = spec
        self.registry = registry
        self.resolve = resolve
        self.problems: list[Problem] = []
        self.fields = list(spec.state)

    def add(self, code: str, where: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(code, where, message, suggestion))

    def run(self) -> None:
        self.check_state()
        self.check_io()
        for name, node in self.spec.nodes.items():
            self.check_node(name, node, pointer("nodes", name))
        self.problems.extend(check_graph(self.spec))
        if self.resolve is not None:
            self.check_subworkflow_cycles()

    def check_state(self) -> None:
        from pydantic import TypeAdapter

        from graphwright.state.model import python_type

        for name, field in self.spec.state.items():
            where = pointer("state", name)
            if name in _RESERVED_FIELDS or name.startswith(("gw_", "model_")):
                self.add("state.reserved_name", where, f"'{name}' is a reserved name")
                continue
            if not reducer_accepts(field.reducer, field.type):
                self.add(
                    "state.reducer_type_mismatch",
                    where + "/reducer",
                    f"reducer '{field.reducer}' does not work on a field of type '{field.type}'",
                )
            if field.items is not None and field.type != "array":
                self.add("state.items_not_array", where + "/items", "'items' needs type 'array'")
            if field.has_default and field.default is not None:
                try:
                    TypeAdapter(python_type(field)).validate_python(field.default, strict=True)
                except ValidationError as exc:
                    msg = exc.errors(include_url=False)[0]["msg"]
                    self.add("state.invalid_default", where + "/default", msg)
                except (TypeError, ValueError) as exc:  # pragma: no cover - schema build error
                    self.add("state.invalid_default", where + "/default", str(exc))

    def check_io(self) -> None:
        for key in ("input", "output"):
            values: list[str] = getattr(self.spec, key)
            for index, name in enumerate(values):
                if name not in self.spec.state:
                    self.add(
                        "io.unknown_field",
                        pointer(key, index),
                        f"{key} field '{name}' is not declared in state",
                        suggest(name, self.fields),
                    )
            if len(set(values)) != len(values):
                self.add("io.duplicate_field", pointer(key), f"{key} lists a field twice")

    def check_field(self, name: str, where: str, *, role: str = "field") -> bool:
        if name not in self.spec.state:
            self.add(
                "state.unknown_field",
                where,
                f"{role} '{name}' is not declared in state",
                suggest(name, self.fields),
            )
            return False
        return True

    def check_expr(self, source: str, where: str, allowed: frozenset[str]) -> None:
        try:
            compiled = compile_expression(source, allowed=allowed | {"input"})
        except ExpressionError as exc:
            self.add(exc.code, where, exc.message)
            return
        self.check_refs(compiled.fields, where)

    def check_refs(self, refs: frozenset[tuple[str, str]], where: str) -> None:
        for root, name in sorted(refs):
            if root == "state" and name not in self.spec.state:
                self.add(
                    "state.unknown_field",
                    where,
                    f"expression reads state.{name}, which is not declared",
                    suggest(name, self.fields),
                )
            elif root == "input" and name not in self.spec.input:
                self.add(
                    "io.unknown_field",
                    where,
                    f"expression reads input.{name}, which is not an input field",
                    suggest(name, self.spec.input),
                )

    def check_node(self, name: str, node: Any, where: str) -> None:
        if "__" in name:
            self.add("node.reserved_name", where, "node names may not contain '__'")
        if isinstance(node, FunctionNodeSpec):
            self.check_function(node, where, FUNCTION_CONTEXT)
        elif isinstance(node, SubworkflowNodeSpec):
            self.check_subworkflow(node, where, FUNCTION_CONTEXT)
        elif isinstance(node, ApprovalNodeSpec):
            self.check_approval(node, where)
        elif isinstance(node, MapNodeSpec):
            self.check_map(node, where)
        elif isinstance(node, CrewNodeSpec):
            check_crew(self, node, where, FUNCTION_CONTEXT, in_map=False)
        inner = node.node if isinstance(node, MapNodeSpec) else node
        if self.registry is not None and not isinstance(inner, ApprovalNodeSpec):
            inner_where = where + "/node" if isinstance(node, MapNodeSpec) else where
            self.problems.extend(rate_limit_problems(inner, inner_where, self.registry))

    def check_function(self, node: FunctionNodeSpec, where: str, ctx: frozenset[str]) -> None:
        for key, source in (node.inputs or {}).items():
            self.check_expr(source, pointer(*where[1:].split("/"), "inputs", key), ctx)
        if node.writes is not None:
            self.check_field(node.writes, where + "/writes")
        if self.registry is not None:
            self.problems.extend(function_ref_problems(node, where, ctx, self.registry))

    def check_subworkflow(self, node: SubworkflowNodeSpec, where: str, ctx: frozenset[str]) -> None:
        base = where[1:].split("/")
        for key, source in node.inputs.items():
            self.check_expr(source, pointer(*base, "inputs", key), ctx)
        for parent_field in node.outputs:
            self.check_field(parent_field, pointer(*base, "outputs", parent_field))
        if node.writes is not None:
            self.check_field(node.writes, where + "/writes")
        if self.resolve is None:
            return
        child = self.resolve(node.workflow, node.version)
        if child is None:
            self.problems.append(unknown_subworkflow(node, where))
            return
        for key in node.inputs:
            if key not in child.input:
                self.add(
                    "subworkflow.unknown_input",
                    pointer(*base, "inputs", key),
                    f"'{key}' is not an input field of '{child.id}'",
                    suggest(key, child.input),
                )
        for parent_field, child_field in node.outputs.items():
            if child_field not in child.state:
                self.add(
                    "subworkflow.unknown_output",
                    pointer(*base, "outputs", parent_field),
                    f"'{child_field}' is not a state field of '{child.id}'",
                    suggest(child_field, list(child.state)),
                )

    def check_approval(self, node: ApprovalNodeSpec, where: str) -> None:
        try:
            template = compile_template(node.prompt)
            self.check_refs(template.fields, where + "/prompt")
        except ExpressionError as exc:
            self.add(exc.code, where + "/prompt", exc.message)
        for key, source in node.show.items():
            self.check_expr(source, where + pointer("show", key), FUNCTION_CONTEXT)
        if len(set(node.decisions)) != len(node.decisions):
            self.add("approval.duplicate_decision", where + "/decisions", "decisions repeat")
        for index, field_name in enumerate(node.editable):
            self.check_field(field_name, where + pointer("editable", index), role="editable field")
        if (node.timeout is None) != (node.on_timeout is None):
            self.add(
                "approval.timeout_incomplete",
                where + ("/on_timeout" if node.on_timeout is None else "/timeout"),
                "'timeout' and 'on_timeout' go together",
            )
        if node.on_timeout is not None and node.on_timeout not in node.decisions:
            self.add(
                "approval.unknown_decision",
                where + "/on_timeout",
                f"'on_timeout' must be one of the decisions ({', '.join(node.decisions)})",
                suggest(node.on_timeout, node.decisions),
            )
        if node.editable and "edit" not in node.decisions:
            self.add(
                "approval.editable_without_edit",
                where + "/editable",
                "'editable' needs an 'edit' decision in 'decisions'",
            )
        if self.check_field(node.writes, where + "/writes"):
            field = self.spec.state[node.writes]
            if field.type not in ("object", "any") or field.reducer not in ("replace", "merge"):
                self.add(
                    "approval.writes_type",
                    where + "/writes",
                    f"'{node.writes}' must be an object field with reducer replace or merge",
                )

    def check_map(self, node: MapNodeSpec, where: str) -> None:
        self.check_expr(node.over, where + "/over", FUNCTION_CONTEXT)
        inner = node.node
        inner_where = where + "/node"
        if isinstance(inner, CrewNodeSpec):
            check_crew(self, inner, inner_where, MAP_CONTEXT, in_map=True)
            return
        if isinstance(inner, FunctionNodeSpec):
            self.check_function(inner, inner_where, MAP_CONTEXT)
        else:
            self.check_subworkflow(inner, inner_where, MAP_CONTEXT)
        if inner.writes is not None and inner.writes in self.spec.state:
            field = self.spec.state[inner.writes]
            if field.type != "array" or field.reducer not in ("append", "extend"):
                self.add(
                    "map.writes_reducer",
                    inner_where + "/writes",
                    f"'{inner.writes}' gathers one result per item, so it must be an array "
                    "with reducer 'append' (or 'extend' for list results)",
                )
        if isinstance(inner, SubworkflowNodeSpec) and inner.writes is None and not inner.outputs:
            self.add(
                "map.no_output",
                inner_where,
                "a subworkflow in a map needs 'writes' (results gathered in an array) or 'outputs'",
            )

    def check_subworkflow_cycles(self) -> None:
        assert self.resolve is not None  # checked by the caller
        resolve = self.resolve
        root = self.spec.id

        def children(spec: WorkflowSpec) -> list[tuple[str, int | None, str]]:
            found: list[tuple[str, int | None, str]] = []
            for name, node in spec.nodes.items():
                inner = node.node if isinstance(node, MapNodeSpec) else node
                if isinstance(inner, SubworkflowNodeSpec):
                    found.append((inner.workflow, inner.version, name))
            return found

        seen: set[tuple[str, int | None]] = set()

        def visit(spec: WorkflowSpec, path: list[str], first_node: str | None) -> None:
            for child_id, version, node_name in children(spec):
                entry = first_node or node_name
                if child_id == root or child_id in path:
                    self.add(
                        "subworkflow.cycle",
                        pointer("nodes", entry, "workflow")
                        if first_node is None
                        else pointer("nodes", entry),
                        "subworkflows form a cycle: " + " -> ".join([*path, child_id]),
                    )
                    continue
                if (child_id, version) in seen or len(path) > 32:
                    continue
                seen.add((child_id, version))
                child = resolve(child_id, version)
                if child is not None:
                    visit(child, [*path, child_id], entry)

        visit(self.spec, [root], None)
