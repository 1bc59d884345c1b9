"""Who is calling: principals, roles, API keys, JWT and LangGraph custom auth.

Nothing here imports the web framework at import time; the service wires it in
``graphwright.api.access``.
"""
