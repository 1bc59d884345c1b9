"""Helpers for testing workflows: a scripted, offline LLM for CrewAI crews.

:class:`ScriptedLLM` is a ``crewai`` ``BaseLLM`` that answers from a script, in
order, one answer per call, and counts tokens approximately (words x 4/3). It
never touches the network, so crews run deterministically in tests and demos::

    from graphwright.testing import final_answer, scripted_llm, tool_call

    llm = scripted_llm([
        tool_call("lookup", {"name": "web-1"}),   # the agent calls a tool...
        final_answer("web-1 is a web server"),    # ...then answers
    ])
    agent = Agent(role="Analyst", goal="...", backstory="...", llm=llm, tools=[lookup])

For inline crews (crews written in the workflow document), register a factory so
every crew run gets a fresh script: ``registry.add_llm("scripted", scripted_llms([...]))``.

Importing this module does not import crewai: ``ScriptedLLM`` is built on first
use (``scripted_llm(...)`` or ``graphwright.testing.ScriptedLLM``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

__all__ = [
    "Answer",
    "ScriptExhaustedError",
    "ScriptedLLM",  # noqa: F822 - built on first access by the module __getattr__
    "approx_tokens",
    "final_answer",
    "scripted_llm",
    "scripted_llms",
    "tool_call",
]

Answer = str | Callable[[list[dict[str, Any]]], str]
"""A scripted answer: the text, or a function of the messages the LLM received."""


class ScriptExhaustedError(RuntimeError):
    """The LLM was called more often than its script has answers."""


def approx_tokens(text: str) -> int:
    """Approximate token count of ``text``: its words x 4/3, rounded up."""
    return math.ceil(len(text.split()) * 4 / 3)


def final_answer(text: str | Mapping[str, Any] | Sequence[Any], *, thought: str = "") -> str:
    """A scripted answer ending the agent's task with ``text`` (objects become JSON)."""
    body = text if isinstance(text, str) else json.dumps(text)
    return f"Thought: {thought or 'I now know the final answer'}\nFinal Answer: {body}"


def tool_call(tool: str, arguments: Mapping[str, Any] | None = None, *, thought: str = "") -> str:
    """A scripted answer in which the agent calls ``tool`` with ``arguments``."""
    return (
        f"Thought: {thought or f'I should use {tool}'}\n"
        f"Action: {tool}\n"
        f"Action Input: {json.dumps(dict(arguments or {}))}"
    )


def scripted_llm(answers: Sequence[Answer], *, model: str = "scripted") -> Any:
    """A new :class:`ScriptedLLM` answering ``answers`` in order (imports crewai).

    Raises:
        ModuleNotFoundError: crewai is not installed (``pip install 'graphwright[crew]'``).
    """
    return _scripted_class()(model=model, answers=list(answers))


def scripted_llms(answers: Sequence[Answer], *, model: str = "scripted") -> Callable[[], Any]:
    """A factory of :func:`scripted_llm` for :meth:`graphwright.Registry.add_llm`.

    Each call (each crew run) gets a new LLM starting the script from its first answer.
    """
    script = list(answers)

    def build() -> Any:
        return scripted_llm(script, model=model)

    return build


def __getattr__(name: str) -> Any:
    if name == "ScriptedLLM":
        return _scripted_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _message_text(messages: str | Sequence[Mapping[str, Any]]) -> str:
    if isinstance(messages, str):
        return messages
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "\n".join(parts)


@cache
def _scripted_class() -> type[Any]:
    """Build the ``ScriptedLLM`` class (once): it subclasses crewai's ``BaseLLM``."""
    from graphwright.registry.llms import apply_crewai_privacy_defaults

    apply_crewai_privacy_defaults()
    from crewai.llms.base_llm import BaseLLM
    from pydantic import Field, PrivateAttr

    class ScriptedLLM(BaseLLM):
        """A crewai LLM answering from a script, in order; offline and deterministic.

        Attributes:
            answers: The script: texts, or functions of the received messages.
            prompts: The messages of every call so far (for assertions).
        """

        llm_type: str = "scripted"
        provider: str = "scripted"
        answers: list[Any] = Field(default_factory=list)
        _position: int = PrivateAttr(default=0)
        _lock: Any = PrivateAttr(default_factory=threading.Lock)
        _prompts: list[list[dict[str, Any]]] = PrivateAttr(default_factory=list)

        @property
        def calls(self) -> int:
            """How many calls the LLM answered."""
            return self._position

        @property
        def prompts(self) -> list[list[dict[str, Any]]]:
            """The messages of each call, in order."""
            return list(self._prompts)

        def call(
            self,
            messages: Any,
            tools: list[dict[str, Any]] | None = None,
            callbacks: list[Any] | None = None,
            available_functions: dict[str, Any] | None = None,
            from_task: Any | None = None,
            from_agent: Any | None = None,
            response_model: Any | None = None,
        ) -> str:
            """Return the next scripted answer.

            Raises:
                ScriptExhaustedError: every answer was given already.
            """
            received = (
                [{"role": "user", "content": messages}]
                if isinstance(messages, str)
                else [dict(m) for m in messages]
            )
            with self._lock:
                position = self._position
                if position >= len(self.answers):
                    raise ScriptExhaustedError(
                        f"scripted LLM '{self.model}' has no answer for call {position + 1} "
                        f"(its script has {len(self.answers)})"
                    )
                self._position = position + 1
                self._prompts.append(received)
            answer = self.answers[position]
            text = answer(received) if callable(answer) else str(answer)
            prompt_tokens = approx_tokens(_message_text(received))
            completion_tokens = approx_tokens(text)
            self._track_token_usage_internal(
                {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
            )
            return text

        async def acall(
            self,
            messages: Any,
            tools: list[dict[str, Any]] | None = None,
            callbacks: list[Any] | None = None,
            available_functions: dict[str, Any] | None = None,
            from_task: Any | None = None,
            from_agent: Any | None = None,
            response_model: Any | None = None,
        ) -> str:
            """Same as :meth:`call` (the script needs no I/O)."""
            return self.call(messages, tools, callbacks, available_functions)

        def get_input_tokens_count(
            self,
            messages: Any,
            tools: Any = None,
            response_model: Any = None,
        ) -> int:
            """Approximate input tokens (words x 4/3), without crewai's warning."""
            return approx_tokens(_message_text(messages))

        def supports_function_calling(self) -> bool:
            """Scripts speak crewai's text protocol (Thought / Action / Final Answer)."""
            return False

        def get_context_window_size(self) -> int:
            """A large window: scripts are never summarised away."""
            return 1_000_000

    ScriptedLLM.__module__ = __name__
    ScriptedLLM.__qualname__ = "ScriptedLLM"
    return ScriptedLLM
