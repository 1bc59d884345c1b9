"""The HTTP service: LangGraph Server API plus graphwright's own endpoints."""

from graphwright.api.app import create_app

__all__ = ["create_app"]
