"""Wiring of optional subsystems into the services (approvals inbox, metrics...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphwright.api.services import Services

__all__ = ["install_extensions"]


async def install_extensions(services: Services) -> None:
    """Attach hooks of subsystems that react to runs (called once at start-up)."""
    return None
