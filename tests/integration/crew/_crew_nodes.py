"""Crew LLMs and tools for the live server of the crew tests (GW_REGISTRY_MODULES).

The ``crew-inline`` workflow's agents run on the LLM named ``scripted`` here; in a
real deployment that name would come from GW_LLMS (provider, model, key env).
"""

from __future__ import annotations

from graphwright import Registry
from graphwright.testing import final_answer, scripted_llms, tool_call


def register(registry: Registry) -> None:
    """Register LLM ``scripted`` and tool ``crewtest.lookup``."""
    registry.add_llm(
        "scripted",
        scripted_llms(
            [
                tool_call("crewtest_lookup", {"name": "web-1"}),
                final_answer("web-1 is a web server"),
                final_answer({"summary": {"title": "Web tier", "assets": 1}}),
            ]
        ),
    )

    @registry.tool("crewtest.lookup")
    def lookup(name: str) -> str:
        """Look up an asset by name."""
        return f"{name} is a web server"
