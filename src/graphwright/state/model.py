"""Compile a workflow's state fields into a Pydantic model for LangGraph.

The state model has one attribute per field, typed from the document and
annotated with the field's reducer. Every field has a default (the document's,
else null / [] / {} / 0), so nodes always see a complete state. Run input and
node updates are validated separately, field by field, so an error names the
field and the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
)

from graphwright.errors import InvalidInputError
from graphwright.graphs.spec import FieldSpec, WorkflowSpec
from graphwright.state.reducers import REDUCERS

__all__ = ["INPUT_CHANNEL", "CompiledState", "compile_state", "default_value", "python_type"]

# Hidden field holding the run's input, so expressions can read `input.*`.
INPUT_CHANNEL = "gw_input"

_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
    "any": Any,
}


def python_type(field: FieldSpec, *, allow_null: bool | None = None) -> Any:
    """Return the Python annotation of a field (without its reducer)."""
    if field.enum is not None:
        base: Any = Annotated[Literal[tuple(field.enum)], BeforeValidator(_enum_guard(field.enum))]
    elif field.type == "array":
        item = python_type(field.items) if field.items is not None else Any
        base = list[item]  # type: ignore[valid-type]
    else:
        base = _SCALARS[field.type]
    nullable = field.nullable if allow_null is None else allow_null
    return base | None if nullable and base is not Any else base


def _enum_guard(values: list[Any]) -> Any:
    """Refuse booleans for non-boolean enums (Python treats True as 1)."""
    allows_bool = any(isinstance(v, bool) for v in values)

    def guard(value: Any) -> Any:
        if isinstance(value, bool) and not allows_bool:
            raise ValueError(f"expected one of {values!r}")
        return value

    return guard


def default_value(field: FieldSpec) -> Any:
    """A field's value before any node writes it: its default, else null / [] / {} / 0."""
    if field.has_default:
        return _copy(field.default)
    if field.reducer in ("append", "extend"):
        return []
    if field.reducer == "merge":
        return {}
    if field.reducer == "add":
        return 0
    return None


def _update_type(field: FieldSpec) -> Any:
    """Type of the value a node may write, given the reducer."""
    if field.reducer == "append":
        return python_type(field.items) if field.items is not None else Any
    if field.reducer in ("extend", "merge"):
        return python_type(field, allow_null=False)
    return python_type(field)


_STRICT = ConfigDict(strict=False)


@dataclass(frozen=True)
class CompiledState:
    """The state model of a workflow plus validators for input and updates.

    Attributes:
        model: Pydantic model used as the LangGraph state schema.
        fields: The document's field specs, by name.
        input_fields: Fields a run may be given.
        output_fields: Fields of a run's result.
    """

    model: type[BaseModel]
    fields: Mapping[str, FieldSpec]
    input_fields: tuple[str, ...]
    output_fields: tuple[str, ...]
    _value_adapters: Mapping[str, TypeAdapter[Any]]
    _update_adapters: Mapping[str, TypeAdapter[Any]]

    def validate_input(self, data: Any) -> dict[str, Any]:
        """Validate run input: only input fields, each of its declared type.

        Input fields without a default and not nullable are required.

        Raises:
            InvalidInputError: ``state.invalid_input`` listing every problem.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError(
                f"run input must be an object, got {type(data).__name__}",
                details={"problems": [{"pointer": "", "message": "expected an object"}]},
            )
        problems: list[dict[str, str]] = []
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in self.input_fields:
                allowed = ", ".join(self.input_fields) or "none"
                problems.append(
                    {"pointer": f"/{key}", "message": f"not an input field (input: {allowed})"}
                )
                continue
            out[key] = self._check(self._value_adapters[key], key, value, problems, strict=True)
        for name in self.input_fields:
            spec = self.fields[name]
            if name not in data and not spec.has_default and not spec.nullable:
                problems.append({"pointer": f"/{name}", "message": "required input is missing"})
        if problems:
            first = problems[0]
            raise InvalidInputError(
                f"invalid run input at {first['pointer']}: {first['message']}",
                details={"problems": problems},
            )
        return out

    def validate_update(self, node: str, update: Any) -> dict[str, Any]:
        """Validate a node's update: known fields, values fitting field type and reducer.

        Raises:
            InvalidInputError: ``state.invalid_update`` naming the node and fields.
        """
        if update is None:
            return {}
        if not isinstance(update, Mapping):
            raise InvalidInputError(
                f"node '{node}' returned {type(update).__name__}; expected a dict of "
                "state updates (or set 'writes' on the node)",
                code="state.invalid_update",
                details={"node": node},
            )
        problems: list[dict[str, str]] = []
        out: dict[str, Any] = {}
        for key, value in update.items():
            adapter = self._update_adapters.get(key)
            if adapter is None:
                problems.append({"pointer": f"/{key}", "message": "not a state field"})
                continue
            out[key] = self._check(adapter, key, value, problems)
        if problems:
            first = problems[0]
            raise InvalidInputError(
                f"node '{node}' wrote an invalid update at {first['pointer']}: {first['message']}",
                code="state.invalid_update",
                details={"node": node, "problems": problems},
            )
        return out

    def validate_value(self, name: str, value: Any) -> Any:
        """Validate a whole value for field ``name`` (as an edit would set it).

        Raises:
            InvalidInputError: ``state.invalid_input``.
        """
        problems: list[dict[str, str]] = []
        result = self._check(self._value_adapters[name], name, value, problems, strict=True)
        if problems:
            raise InvalidInputError(
                f"invalid value for '{name}': {problems[0]['message']}",
                details={"problems": problems},
            )
        return result

    @staticmethod
    def _check(
        adapter: TypeAdapter[Any],
        key: str,
        value: Any,
        problems: list[dict[str, str]],
        *,
        strict: bool = False,
    ) -> Any:
        try:
            return adapter.validate_python(value, strict=strict)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = "/".join(str(p) for p in err["loc"])
                problems.append(
                    {"pointer": f"/{key}" + (f"/{loc}" if loc else ""), "message": err["msg"]}
                )
            return value

    def dump(self, state: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
        """Return the document-visible fields of a state as plain data.

        Fields no node or input has set yet read as their default.
        """
        if isinstance(state, Mapping):
            return {
                name: state[name] if name in state else default_value(spec)
                for name, spec in self.fields.items()
            }
        return {name: getattr(state, name, None) for name in self.fields}


def compile_state(spec: WorkflowSpec) -> CompiledState:
    """Build the state model and validators of ``spec``.

    The caller must have validated ``spec`` (field names, reducer/type pairs).
    """
    definitions: dict[str, Any] = {}
    value_adapters: dict[str, TypeAdapter[Any]] = {}
    update_adapters: dict[str, TypeAdapter[Any]] = {}
    for name, field in spec.state.items():
        annotation = python_type(field)
        value_adapters[name] = TypeAdapter(annotation)
        update_adapters[name] = TypeAdapter(_update_type(field))
        reducer = REDUCERS[field.reducer]
        stored: Any = annotation if annotation is Any else annotation | None
        if reducer is not None:
            # Reducer channels need a concrete type: LangGraph starts them at `type()`
            # ([], {}, 0), so the first update goes through the reducer too.
            stored = Annotated[python_type(field, allow_null=False), reducer]
        default = default_value(field)
        definitions[name] = (
            stored,
            Field(default_factory=lambda d=default: _copy(d), description=field.description),
        )
    definitions[INPUT_CHANNEL] = (dict[str, Any], Field(default_factory=dict, exclude=True))
    model = create_model(
        _model_name(spec.id),
        __config__=ConfigDict(extra="ignore", arbitrary_types_allowed=False),
        **definitions,
    )
    return CompiledState(
        model=model,
        fields=dict(spec.state),
        input_fields=tuple(spec.input),
        output_fields=tuple(spec.output) or tuple(spec.state),
        _value_adapters=value_adapters,
        _update_adapters=update_adapters,
    )


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _model_name(workflow_id: str) -> str:
    return "State_" + "".join(ch if ch.isalnum() else "_" for ch in workflow_id)
