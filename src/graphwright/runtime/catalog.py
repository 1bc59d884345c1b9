"""Published workflows, compiled on demand and cached per (tenant, id, version).

The cache holds compiled graphs only (pure functions of immutable versions);
run state is never kept here.

A document is validated once, when it is published; loading a stored version
checks only what may have changed since (registered names, installed packages).
Each publish and each load fetches every subworkflow once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from graphwright.errors import NotFoundError, Problem, WorkflowValidationError
from graphwright.graphs.checked import CheckedWorkflow, check_document, check_published
from graphwright.graphs.compiler import CompiledWorkflow, compile_workflow
from graphwright.graphs.pins import subworkflow_refs
from graphwright.graphs.spec import WorkflowSpec
from graphwright.graphs.validate import parse_workflow
from graphwright.registry import Registry
from graphwright.store.workflows import PublishedWorkflow, WorkflowStore

__all__ = ["Catalog", "LoadedWorkflow"]

MAX_SUBWORKFLOW_DEPTH = 16


class LoadedWorkflow:
    """A compiled workflow version with one LangGraph graph per checkpoint saver.

    ``store`` (the tenant's Store, if any) is what node code gets from ``get_store()``.
    """

    def __init__(
        self,
        published: PublishedWorkflow,
        compiled: CompiledWorkflow,
        *,
        store: BaseStore | None = None,
    ) -> None:
        self.published = published
        self.compiled = compiled
        self.store = store
        self._graphs: dict[int, CompiledStateGraph[Any, Any, Any, Any]] = {}

    @property
    def version(self) -> int:
        """The published version."""
        return self.published.version

    def graph(self, saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The graph bound to ``saver`` (compiled once per saver)."""
        key = id(saver)
        graph = self._graphs.get(key)
        if graph is None:
            # Compile once; each saver gets a cheap copy bound to it.
            base = self._graphs.get(0)
            if base is None:
                base = self._graphs[0] = self.compiled.graph(None)
            graph = self._graphs[key] = base.copy(
                update={"checkpointer": saver, "store": self.store}
            )
        return graph


class Catalog:
    """Publishes, loads and compiles workflows for the engine."""

    def __init__(
        self,
        store: WorkflowStore,
        registry: Registry,
        *,
        cache_size: int,
        tenant_store: Callable[[str], BaseStore] | None = None,
    ) -> None:
        """``tenant_store(tenant)`` makes the Store a tenant's graphs are bound to."""
        self.store = store
        self.registry = registry
        self.tenant_store = tenant_store
        self._cache: OrderedDict[tuple[str, str, int], LoadedWorkflow] = OrderedDict()
        self._cache_size = cache_size

    async def _specs_for(
        self, tenant: str, spec: WorkflowSpec, latest: dict[str, int] | None = None
    ) -> dict[tuple[str, int | None], WorkflowSpec]:
        """Fetch every subworkflow ``spec`` needs, recursively (bounded depth).

        ``latest`` (if given) receives the version each unpinned reference resolved to.
        """
        found: dict[tuple[str, int | None], WorkflowSpec] = {}
        frontier = subworkflow_refs(spec)
        depth = 0
        while frontier and depth < MAX_SUBWORKFLOW_DEPTH:
            depth += 1
            nxt: list[tuple[str, int | None]] = []
            for ref in frontier:
                if ref in found:
                    continue
                try:
                    child = await self.store.get(tenant, ref[0], ref[1])
                except NotFoundError:
                    continue
                found[ref] = child.spec
                found[(ref[0], child.version)] = child.spec
                if ref[1] is None and latest is not None:
                    latest[ref[0]] = child.version
                nxt.extend(subworkflow_refs(child.spec))
            frontier = nxt
        return found

    async def check(self, tenant: str, document: Any) -> tuple[WorkflowSpec | None, list[Problem]]:
        """Validate a document against the registry and the published workflows."""
        checked, problems, _ = await self._check(tenant, document)
        return (checked.spec if checked is not None else None), problems

    async def publish(self, tenant: str, document: Any) -> PublishedWorkflow:
        """Validate, pin subworkflow versions and store a new version (no-op if identical).

        Raises:
            WorkflowValidationError: listing every problem.
        """
        checked, problems, latest = await self._check(tenant, document)
        if checked is None:
            raise WorkflowValidationError(problems)
        return await self.store.publish(tenant, checked.pinned(latest).spec)

    async def _check(
        self, tenant: str, document: Any
    ) -> tuple[CheckedWorkflow | None, list[Problem], dict[str, int]]:
        """Validate once, fetching each subworkflow once; also the versions to pin."""
        spec, problems = parse_workflow(document)
        if spec is None:
            return None, problems, {}
        latest: dict[str, int] = {}
        specs = await self._specs_for(tenant, spec, latest)
        checked, problems = check_document(spec, registry=self.registry, subworkflows=specs)
        return checked, problems, latest

    async def load(self, tenant: str, workflow_id: str, version: int | None) -> LoadedWorkflow:
        """Return the compiled workflow version (latest when ``version`` is None).

        The stored version was validated when published; only what may have
        changed since is checked (see :func:`~graphwright.graphs.checked.check_published`).

        Raises:
            NotFoundError: ``workflow.not_found`` / ``workflow.version_not_found``.
            WorkflowValidationError: when a stored version no longer compiles (for
                example a function was removed from the registry).
        """
        if version is None:
            version = await self.store.latest_version(tenant, workflow_id)
        cached = self._cached(tenant, workflow_id, version)
        if cached is not None:
            return cached
        published = await self.store.get(tenant, workflow_id, version)
        cached = self._cached(tenant, workflow_id, published.version)
        if cached is not None:
            return cached
        specs = await self._specs_for(tenant, published.spec)
        checked, problems = check_published(
            published.spec, registry=self.registry, subworkflows=specs
        )
        if checked is None:
            raise WorkflowValidationError(problems, workflow_id=published.workflow_id)
        compiled = compile_workflow(checked, registry=self.registry)
        # The cache is per tenant, so each tenant's graphs carry that tenant's Store.
        tenant_store = self.tenant_store(tenant) if self.tenant_store is not None else None
        loaded = LoadedWorkflow(published, compiled, store=tenant_store)
        self._cache[(tenant, workflow_id, published.version)] = loaded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return loaded

    def _cached(self, tenant: str, workflow_id: str, version: int) -> LoadedWorkflow | None:
        key = (tenant, workflow_id, version)
        loaded = self._cache.get(key)
        if loaded is not None:
            self._cache.move_to_end(key)
        return loaded
