"""The authenticated caller of a request: its tenant, roles and metadata scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphwright.errors import GraphwrightError

__all__ = ["ROLES", "AuthError", "Principal"]

ROLES: Final[tuple[str, ...]] = ("admin", "author", "operator", "approver", "viewer")
"""Roles a principal may hold. Every role may read; ``admin`` may do everything.

- ``author``: validate and publish workflows.
- ``operator``: create threads and runs, cancel runs, update and delete threads.
- ``approver``: list and decide approvals (also by resuming a gate with ``command.resume``).
- ``viewer``: read only.
"""


class AuthError(GraphwrightError):
    """Authentication failed (401) or the caller may not do this (403).

    Codes: ``auth.required`` (no credentials), ``auth.invalid`` (unknown, revoked
    or malformed credentials), ``auth.expired``, ``auth.forbidden`` (403).
    """

    default_code = "auth.invalid"

    @property
    def status(self) -> int:
        """HTTP status: 403 for ``auth.forbidden``, else 401."""
        return 403 if self.code == "auth.forbidden" else 401


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        id: Stable identifier recorded in audits (``key:<id>``, ``jwt:<sub>``,
            ``custom:<identity>``, ``local``).
        tenant: The tenant every object of the request belongs to.
        roles: Roles held (see :data:`ROLES`).
        name: Display name (a key's name, a token's subject or name claim).
        kind: ``local`` (no auth configured), ``key``, ``jwt`` or ``custom``.
        scope: Thread metadata every object the caller sees must match
            (``{"client_id": "acme"}``); empty means the whole tenant.
        user: What a custom ``langgraph_sdk.Auth`` authenticate handler returned.
    """

    id: str
    tenant: str
    roles: frozenset[str]
    name: str = ""
    kind: str = "local"
    scope: Mapping[str, Any] = field(default_factory=dict)
    user: Any = None

    def has(self, role: str) -> bool:
        """Whether the principal holds ``role`` (``admin`` holds every role)."""
        return "admin" in self.roles or role in self.roles
