"""Python client for a graphwright server: sync (:class:`Client`) and async (:class:`AsyncClient`).

It covers graphwright's own endpoints (workflows, approvals, ops summary, health) and the
run, thread and stream calls a UI or script needs, with typed results, typed
errors and streams that resume after a dropped connection::

    from graphwright.client import Client

    with Client("http://127.0.0.1:8123", api_key="...") as gw:
        gw.workflows.publish(document)
        for event in gw.stream_run(None, "asset-discovery", input={...}):
            if (progress := event.progress()) is not None:
                print(progress.type, progress.node)

The official ``langgraph-sdk`` (and ``RemoteGraph``) keeps working against the
same server for everything it covers: assistants, thread history, state
updates. Use this client for what the SDK does not know (workflow documents,
the approvals inbox, progress events) and where resuming streams matters.
"""

from graphwright.client.async_client import AsyncClient, AsyncEventStream
from graphwright.client.errors import (
    AuthenticationError,
    ConflictError,
    GraphwrightAPIError,
    GraphwrightClientError,
    GraphwrightConnectionError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
    StreamError,
)
from graphwright.client.models import (
    Approval,
    Health,
    Interrupt,
    OpsFigures,
    OpsSummary,
    ProblemDetail,
    ProgressEvent,
    PublishedWorkflow,
    Readiness,
    Run,
    RunError,
    RunOutput,
    StreamEvent,
    Thread,
    ThreadState,
    ValidationResult,
    WorkflowOps,
)
from graphwright.client.sync_client import Client, EventStream

__all__ = [
    "Approval",
    "AsyncClient",
    "AsyncEventStream",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "EventStream",
    "GraphwrightAPIError",
    "GraphwrightClientError",
    "GraphwrightConnectionError",
    "Health",
    "Interrupt",
    "InvalidRequestError",
    "NotFoundError",
    "OpsFigures",
    "OpsSummary",
    "ProblemDetail",
    "ProgressEvent",
    "PublishedWorkflow",
    "Readiness",
    "Run",
    "RunError",
    "RunOutput",
    "ServerError",
    "ServiceUnavailableError",
    "StreamError",
    "StreamEvent",
    "Thread",
    "ThreadState",
    "ValidationResult",
    "WorkflowOps",
]
