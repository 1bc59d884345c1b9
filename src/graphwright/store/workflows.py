"""Published workflow versions: immutable, numbered per workflow, scoped by tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphwright.errors import NotFoundError
from graphwright.graphs.spec import WorkflowSpec
from graphwright.store.pool import Pool

__all__ = ["PublishedWorkflow", "WorkflowStore"]

_COLUMNS = "workflow_id, version, content_hash, spec, created_at"


@dataclass(frozen=True)
class PublishedWorkflow:
    """One stored version of a workflow.

    Attributes:
        workflow_id: The document's ``id``.
        version: 1 for the first version, then one more per distinct content.
        content_hash: SHA-256 of the document's canonical JSON.
        spec: The document.
        created_at: When this version was published.
        created: Whether the call that returned it published it (False when the
            same content was already published, or when it was read).
    """

    workflow_id: str
    version: int
    content_hash: str
    spec: WorkflowSpec
    created_at: datetime
    created: bool = False


class WorkflowStore:
    """Publishes and reads workflow versions in ``gw_workflows``.

    Versions are immutable: publishing the content of an existing version returns
    that version, and anything else becomes a new version. Every call is limited
    to one tenant.
    """

    def __init__(self, pool: Pool) -> None:
        """Use ``pool`` (autocommit connections with dict rows) for every query."""
        self._pool = pool

    async def publish(self, tenant: str, spec: WorkflowSpec) -> PublishedWorkflow:
        """Store ``spec`` as the next version of its workflow unless already stored.

        Concurrent publishes of one workflow are serialised with a transaction
        advisory lock, so distinct contents always get distinct versions.

        Args:
            tenant: Tenant that owns the workflow.
            spec: The validated document.

        Returns:
            The new version (``created=True``), or the existing version with the
            same content (``created=False``).
        """
        content_hash = spec.content_hash()
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(
                "select pg_advisory_xact_lock(hashtext(%s || ':' || %s))", (tenant, spec.id)
            )
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_workflows"
                " where tenant_id = %s and workflow_id = %s and content_hash = %s",
                (tenant, spec.id, content_hash),
            )
            existing = await cur.fetchone()
            if existing is not None:
                return _published(existing)
            cur = await conn.execute(
                "insert into gw_workflows"
                " (tenant_id, workflow_id, version, content_hash, spec, title)"
                " select %s, %s, coalesce(max(version), 0) + 1, %s, %s::jsonb, %s"
                " from gw_workflows where tenant_id = %s and workflow_id = %s"
                f" returning {_COLUMNS}",
                (
                    tenant,
                    spec.id,
                    content_hash,
                    spec.canonical_json(),
                    spec.title,
                    tenant,
                    spec.id,
                ),
            )
            row = await cur.fetchone()
        if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
            raise RuntimeError("insert into gw_workflows returned no row")
        return _published(row, created=True)

    async def latest_version(self, tenant: str, workflow_id: str) -> int:
        """Return the newest version number of a workflow (a cheap read: no spec).

        Raises:
            NotFoundError: ``workflow.not_found``.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "select max(version) as version from gw_workflows"
                " where tenant_id = %s and workflow_id = %s",
                (tenant, workflow_id),
            )
            row = await cur.fetchone()
        if row is None or row["version"] is None:
            raise _workflow_not_found(workflow_id)
        return int(row["version"])

    async def get(
        self, tenant: str, workflow_id: str, version: int | None = None
    ) -> PublishedWorkflow:
        """Return one version of a workflow.

        Args:
            tenant: Tenant that owns the workflow.
            workflow_id: The workflow's id.
            version: The version to read; None for the latest.

        Returns:
            The stored version.

        Raises:
            NotFoundError: ``workflow.not_found`` when the tenant has no such
                workflow; ``workflow.version_not_found`` when the workflow exists
                but not that version.
        """
        async with self._pool.connection() as conn:
            if version is None:
                cur = await conn.execute(
                    f"select {_COLUMNS} from gw_workflows"
                    " where tenant_id = %s and workflow_id = %s"
                    " order by version desc limit 1",
                    (tenant, workflow_id),
                )
            else:
                cur = await conn.execute(
                    f"select {_COLUMNS} from gw_workflows"
                    " where tenant_id = %s and workflow_id = %s and version = %s",
                    (tenant, workflow_id, version),
                )
            row = await cur.fetchone()
            if row is not None:
                return _published(row)
            if version is None:
                raise _workflow_not_found(workflow_id)
            cur = await conn.execute(
                "select 1 from gw_workflows where tenant_id = %s and workflow_id = %s limit 1",
                (tenant, workflow_id),
            )
            if await cur.fetchone() is None:
                raise _workflow_not_found(workflow_id)
        raise NotFoundError(
            f"workflow {workflow_id!r} has no version {version}",
            code="workflow.version_not_found",
            details={"workflow_id": workflow_id, "version": version},
        )

    async def list_versions(self, tenant: str, workflow_id: str) -> list[PublishedWorkflow]:
        """Return every version of a workflow, oldest first.

        Raises:
            NotFoundError: ``workflow.not_found`` when the tenant has no such workflow.
        """
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select {_COLUMNS} from gw_workflows"
                " where tenant_id = %s and workflow_id = %s order by version",
                (tenant, workflow_id),
            )
            rows = await cur.fetchall()
        if not rows:
            raise _workflow_not_found(workflow_id)
        return [_published(row) for row in rows]

    async def list_workflows(self, tenant: str) -> list[PublishedWorkflow]:
        """Return the latest version of each of the tenant's workflows, by workflow id."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"select distinct on (workflow_id) {_COLUMNS} from gw_workflows"
                " where tenant_id = %s order by workflow_id, version desc",
                (tenant,),
            )
            rows = await cur.fetchall()
        return [_published(row) for row in rows]


def _published(row: dict[str, Any], *, created: bool = False) -> PublishedWorkflow:
    return PublishedWorkflow(
        workflow_id=row["workflow_id"],
        version=row["version"],
        content_hash=row["content_hash"],
        spec=WorkflowSpec.model_validate(row["spec"]),
        created_at=row["created_at"],
        created=created,
    )


def _workflow_not_found(workflow_id: str) -> NotFoundError:
    return NotFoundError(
        f"workflow {workflow_id!r} does not exist",
        code="workflow.not_found",
        details={"workflow_id": workflow_id},
    )
