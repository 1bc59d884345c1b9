"""Pydantic models of the workflow document (``graphwright/v1``).

These models describe a workflow; they do nothing. Structural checks live here
(types, required keys, name patterns); checks that need the whole document or
the registry live in :mod:`graphwright.graphs.validate`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DSL_VERSION",
    "ApprovalNodeSpec",
    "CaseSpec",
    "CrewAgentSpec",
    "CrewNodeSpec",
    "CrewTaskSpec",
    "EdgeSpec",
    "FieldSpec",
    "FunctionNodeSpec",
    "InlineCrewSpec",
    "LimitsSpec",
    "MapNodeSpec",
    "NodeSpec",
    "RetrySpec",
    "SubworkflowNodeSpec",
    "WorkflowSpec",
]

DSL_VERSION = "graphwright/v1"

NODE_NAME = r"^[a-z][a-z0-9_]{0,62}$"
FIELD_NAME = r"^[a-z][a-z0-9_]{0,62}$"
REGISTRY_NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"
WORKFLOW_ID = r"^[a-z][a-z0-9_-]{0,62}$"
INPUT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"

FieldType = Literal["string", "integer", "number", "boolean", "object", "array", "any"]
Reducer = Literal["replace", "append", "extend", "merge", "add"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldSpec(_Spec):
    """Type, default and reducer of one state field (or of array items)."""

    type: FieldType = Field(description="JSON type of the value.")
    items: FieldSpec | None = Field(default=None, description="Type of array items.")
    enum: list[str | int | float | bool] | None = Field(
        default=None, min_length=1, description="Allowed values."
    )
    nullable: bool = Field(default=False, description="Whether null is allowed.")
    default: Any = Field(default=None, description="Value before any node writes the field.")
    reducer: Reducer = Field(
        default="replace",
        description=(
            "How a node's update combines with the current value: replace; append (one item "
            "to an array); extend (a list onto an array); merge (keys into an object); add "
            "(numbers)."
        ),
    )
    description: str | None = None

    @property
    def has_default(self) -> bool:
        """Whether the document gave an explicit default."""
        return "default" in self.model_fields_set


class RetrySpec(_Spec):
    """Retry policy of a node: exponential backoff with jitter."""

    max_attempts: int = Field(default=3, ge=1, le=100)
    initial_interval: float = Field(default=0.5, ge=0, le=3600)
    backoff_factor: float = Field(default=2.0, ge=1, le=100)
    max_interval: float = Field(default=60.0, ge=0, le=86400)
    jitter: bool = True
    on: list[str] | None = Field(
        default=None,
        description=(
            "Error codes that are retried. Default: every error except invalid "
            "updates/input and setup errors (codes starting with 'state.', 'approval.', "
            "'expr.', 'registry.', 'config.'; crew.not_installed, crew.invalid_crew)."
        ),
    )


class _NodeBase(_Spec):
    description: str | None = None


class _PolicyMixin(_Spec):
    retry: RetrySpec | None = None
    timeout: float | None = Field(
        default=None, gt=0, le=86400, description="Seconds one attempt may take."
    )
    rate_limit: str | None = Field(
        default=None,
        pattern=REGISTRY_NAME,
        description=(
            "Declared rate limit (GW_RATE_LIMITS or the registry) each attempt waits on "
            "before it starts; in a map, each item. Waiting is not a failure."
        ),
    )


class FunctionNodeSpec(_NodeBase, _PolicyMixin):
    """Calls a registered Python function."""

    kind: Literal["function"]
    ref: str = Field(pattern=REGISTRY_NAME, description="Registered function name.")
    inputs: dict[str, str] | None = Field(
        default=None,
        description="Keyword arguments computed by CEL expressions over state/input (and item).",
    )
    writes: str | None = Field(
        default=None,
        pattern=FIELD_NAME,
        description="State field the return value is written to; else it returns an update.",
    )


class SubworkflowNodeSpec(_NodeBase, _PolicyMixin):
    """Runs another published workflow as a subgraph."""

    kind: Literal["subworkflow"]
    workflow: str = Field(pattern=WORKFLOW_ID)
    version: int | None = Field(default=None, ge=1, description="Pinned version; else latest.")
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Child state field -> CEL expression over the parent's state/input (item).",
    )
    outputs: dict[str, str] = Field(
        default_factory=dict, description="Parent state field -> child state field."
    )
    writes: str | None = Field(
        default=None,
        pattern=FIELD_NAME,
        description="In a map: parent field receiving the child's output object per item.",
    )


class ApprovalNodeSpec(_NodeBase):
    """Pauses the run until a person decides (a LangGraph ``interrupt()``)."""

    kind: Literal["approval"]
    prompt: str = Field(description="Template; ${...} holds CEL over state/input.")
    decisions: list[Annotated[str, Field(pattern=NODE_NAME)]] = Field(
        default_factory=lambda: ["approve", "reject"], min_length=1
    )
    editable: list[str] = Field(
        default_factory=list, description="State fields an 'edit' decision may change."
    )
    show: dict[str, str] = Field(
        default_factory=dict, description="Extra values for the approver: name -> CEL."
    )
    writes: str = Field(pattern=FIELD_NAME, description="Object field receiving the decision.")
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=31_536_000,
        description="Seconds the gate waits; then it is decided with 'on_timeout'.",
    )
    on_timeout: str | None = Field(
        default=None, description="Decision taken automatically when the timeout expires."
    )


class CrewAgentSpec(_Spec):
    """An agent of an inline crew. ``goal`` and ``backstory`` are templates over ``inputs``."""

    role: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, description="Template; ${...} holds CEL over 'inputs'.")
    backstory: str = Field(min_length=1, description="Template; ${...} holds CEL over 'inputs'.")
    llm: str = Field(
        pattern=REGISTRY_NAME,
        description="Registered LLM name (configured in settings or Python, never here).",
    )
    tools: list[Annotated[str, Field(pattern=REGISTRY_NAME)]] = Field(
        default_factory=list, description="Registered tool names."
    )
    allow_delegation: bool = False
    max_iter: int | None = Field(default=None, ge=1, le=100, description="Agent step limit.")


class CrewTaskSpec(_Spec):
    """A task of an inline crew; ``description`` and ``expected_output`` are templates."""

    name: str | None = Field(default=None, pattern=NODE_NAME)
    description: str = Field(min_length=1, description="Template; ${...} holds CEL over 'inputs'.")
    expected_output: str = Field(
        min_length=1, description="Template; ${...} holds CEL over 'inputs'."
    )
    agent: str | None = Field(
        default=None,
        pattern=NODE_NAME,
        description="Key in 'agents'; required unless the process is hierarchical.",
    )
    output_schema: str | None = Field(
        default=None,
        pattern=FIELD_NAME,
        description=(
            "State field whose type the task's answer must have: the answer is the JSON "
            "object {<field>: value} (read it with 'json.<field>')."
        ),
    )


class InlineCrewSpec(_Spec):
    """A crew written in the document: agents, tasks and a process."""

    agents: dict[Annotated[str, Field(pattern=NODE_NAME)], CrewAgentSpec] = Field(min_length=1)
    tasks: list[CrewTaskSpec] = Field(min_length=1, max_length=100)
    process: Literal["sequential", "hierarchical"] = "sequential"
    manager_llm: str | None = Field(
        default=None,
        pattern=REGISTRY_NAME,
        description="Registered LLM of the manager agent (hierarchical process only).",
    )

    @model_validator(mode="after")
    def _process_needs(self) -> InlineCrewSpec:
        if self.process == "hierarchical" and self.manager_llm is None:
            raise ValueError("a hierarchical crew needs 'manager_llm'")
        if self.process == "sequential" and self.manager_llm is not None:
            raise ValueError("'manager_llm' belongs to hierarchical crews")
        if self.process == "sequential":
            for index, task in enumerate(self.tasks):
                if task.agent is None:
                    raise ValueError(f"task {index} needs an 'agent' in a sequential crew")
        return self


class CrewNodeSpec(_NodeBase, _PolicyMixin):
    """Runs a CrewAI crew: a registered factory (``ref``) or an inline ``crew``.

    Exactly one of the two is given (checked by validation, ``crew.invalid``).
    """

    kind: Literal["crew"]
    ref: str | None = Field(default=None, pattern=REGISTRY_NAME, description="Registered crew.")
    crew: InlineCrewSpec | None = Field(default=None, description="An inline crew.")
    inputs: dict[Annotated[str, Field(pattern=INPUT_NAME)], str] = Field(
        default_factory=dict,
        description="Crew inputs: name -> CEL over state/input (and item/index in a map).",
    )
    outputs: dict[Annotated[str, Field(pattern=FIELD_NAME)], str] = Field(
        default_factory=dict,
        description=(
            "State field -> crew result: raw, json, json.<path>, pydantic, pydantic.<path>, "
            "tasks[i].raw (or .json..., .pydantic...), usage, usage.<key>."
        ),
    )


InnerNodeSpec = Annotated[
    FunctionNodeSpec | SubworkflowNodeSpec | CrewNodeSpec, Field(discriminator="kind")
]


class MapNodeSpec(_NodeBase):
    """Runs a node once per item of a list (LangGraph ``Send``) and gathers results."""

    kind: Literal["map"]
    over: str = Field(description="CEL expression giving the list.")
    node: InnerNodeSpec
    max_concurrency: int | None = Field(default=None, ge=1, le=10000)


NodeSpec = Annotated[
    FunctionNodeSpec | SubworkflowNodeSpec | ApprovalNodeSpec | MapNodeSpec | CrewNodeSpec,
    Field(discriminator="kind"),
]


class CaseSpec(_Spec):
    """One branch of a conditional edge."""

    when: str = Field(description="CEL condition over state/input.")
    to: str


class EdgeSpec(_Spec):
    """A plain, fan-out, join or conditional edge."""

    source: str | list[str] = Field(alias="from", description="Node, START, or a list (join).")
    to: str | list[str] | None = Field(default=None, description="Target(s); a list fans out.")
    cases: list[CaseSpec] | None = Field(default=None, min_length=1)
    default: str | None = Field(default=None, description="Target when no case matches.")

    @model_validator(mode="after")
    def _one_shape(self) -> EdgeSpec:
        if (self.to is None) == (self.cases is None):
            raise ValueError("an edge has either 'to' or 'cases'")
        if self.cases is None and self.default is not None:
            raise ValueError("'default' belongs to conditional edges ('cases')")
        if self.cases is not None and self.default is None:
            raise ValueError("a conditional edge needs a 'default' target (use \"END\")")
        if isinstance(self.source, list) and (len(self.source) == 0):
            raise ValueError("'from' list is empty")
        return self

    @property
    def sources(self) -> list[str]:
        """The source node names."""
        return list(self.source) if isinstance(self.source, list) else [self.source]

    @property
    def targets(self) -> list[str]:
        """Every node this edge may lead to."""
        if self.cases is not None:
            return [c.to for c in self.cases] + [self.default or "END"]
        return list(self.to) if isinstance(self.to, list) else [self.to or "END"]


class LimitsSpec(_Spec):
    """Execution limits of a workflow."""

    max_steps: int = Field(default=100, ge=1, le=10_000, description="Step (superstep) limit.")


class WorkflowSpec(_Spec):
    """A whole workflow document."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"$id": "https://graphwright.dev/schema/graphwright-v1.json"},
    )

    dsl: Literal["graphwright/v1"] = Field(description="Document format version.")
    id: str = Field(pattern=WORKFLOW_ID)
    title: str | None = None
    description: str | None = None
    state: dict[Annotated[str, Field(pattern=FIELD_NAME)], FieldSpec]
    input: list[str] = Field(default_factory=list, description="Fields a run may be given.")
    output: list[str] = Field(
        default_factory=list, description="Fields of the result (empty: every field)."
    )
    nodes: dict[Annotated[str, Field(pattern=NODE_NAME)], NodeSpec] = Field(min_length=1)
    edges: list[EdgeSpec] = Field(min_length=1)
    limits: LimitsSpec = Field(default_factory=LimitsSpec)

    def canonical_json(self) -> str:
        """Serialise deterministically (sorted keys): the basis of the content hash."""
        import json

        return json.dumps(
            self.model_dump(mode="json", by_alias=True, exclude_unset=True),
            sort_keys=True,
            separators=(",", ":"),
        )

    def content_hash(self) -> str:
        """SHA-256 of :meth:`canonical_json`."""
        import hashlib

        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
