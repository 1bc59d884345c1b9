"""Upper bounds of numeric request parameters.

Numbers past these would overflow PostgreSQL's integers or Python's
``timedelta`` (a 500); with the bounds they are a 422 ``request.invalid``.
"""

from __future__ import annotations

__all__ = ["MAX_AGE_SECONDS", "MAX_OFFSET", "MAX_VERSION"]

MAX_OFFSET = 1_000_000_000
"""Largest page offset (far beyond any real listing)."""

MAX_AGE_SECONDS = 3_153_600_000.0
"""Largest age filter: 100 years."""

MAX_VERSION = 2_147_483_647
"""Largest workflow version (PostgreSQL ``integer``)."""
