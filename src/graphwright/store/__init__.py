"""PostgreSQL access for graphwright's own tables, and the migrations that create them.

Every store takes a :data:`Pool` (autocommit connections with dict rows), scopes
each query to one tenant, and raises :class:`~graphwright.errors.GraphwrightError`
subclasses with stable codes.
"""

from graphwright.store.migrations import Migration, apply_migrations, load_migrations
from graphwright.store.pool import Pool, mask_url, open_pool
from graphwright.store.threads import (
    KEEP,
    THREAD_STATUSES,
    Keep,
    ThreadRecord,
    ThreadStatus,
    ThreadStore,
)
from graphwright.store.workflows import PublishedWorkflow, WorkflowStore

__all__ = [
    "KEEP",
    "THREAD_STATUSES",
    "Keep",
    "Migration",
    "Pool",
    "PublishedWorkflow",
    "ThreadRecord",
    "ThreadStatus",
    "ThreadStore",
    "WorkflowStore",
    "apply_migrations",
    "load_migrations",
    "mask_url",
    "open_pool",
]
