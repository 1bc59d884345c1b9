"""graphwright.testing: the scripted offline LLM and its answer helpers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import graphwright.testing as testing
from graphwright.testing import (
    ScriptExhaustedError,
    approx_tokens,
    final_answer,
    scripted_llm,
    scripted_llms,
    tool_call,
)

pytest.importorskip("crewai", reason="the scripted LLM is a crewai BaseLLM")


def test_answers_come_in_order_and_are_counted() -> None:
    """Each call returns the next answer; tokens are words x 4/3; prompts are recorded."""
    llm = scripted_llm(["one two three", "four"])

    assert llm.call("hello there") == "one two three"
    assert llm.call([{"role": "user", "content": "again"}]) == "four"
    usage = llm.get_token_usage_summary()
    assert usage.prompt_tokens == approx_tokens("hello there") + approx_tokens("again") == 5
    assert usage.completion_tokens == approx_tokens("one two three") + approx_tokens("four") == 6
    assert usage.successful_requests == 2
    assert llm.calls == 2
    assert llm.prompts == [
        [{"role": "user", "content": "hello there"}],
        [{"role": "user", "content": "again"}],
    ]


def test_an_exhausted_script_raises() -> None:
    """A call beyond the script raises ScriptExhaustedError naming the call number."""
    llm = scripted_llm(["only"])
    llm.call("x")
    with pytest.raises(ScriptExhaustedError, match="no answer for call 2"):
        llm.call("y")


def test_answers_may_be_functions_of_the_messages() -> None:
    """A callable answer gets the messages and returns the text."""

    def echo(messages: list[dict[str, Any]]) -> str:
        return "echo: " + str(messages[-1]["content"])

    llm = scripted_llm([echo])
    assert asyncio.run(llm.acall([{"role": "user", "content": "ping"}])) == "echo: ping"


def test_factories_restart_the_script() -> None:
    """scripted_llms builds a fresh LLM per call, each starting from the first answer."""
    build = scripted_llms(["a", "b"])
    first, second = build(), build()
    assert first.call("x") == "a"
    assert second.call("x") == "a"
    assert first is not second


def test_the_class_is_a_crewai_llm_built_on_demand() -> None:
    """``ScriptedLLM`` is a crewai BaseLLM speaking the text protocol, reachable by name."""
    from crewai.llms.base_llm import BaseLLM

    cls = testing.ScriptedLLM
    assert issubclass(cls, BaseLLM)
    assert cls.__module__ == "graphwright.testing"
    assert isinstance(scripted_llm([]), cls)
    assert scripted_llm([]).supports_function_calling() is False
    with pytest.raises(AttributeError):
        _ = testing.NoSuchThing


def test_answer_helpers_write_crewai_text_protocol() -> None:
    """final_answer and tool_call write the Thought/Action/Final Answer lines crewai parses."""
    assert final_answer("done") == "Thought: I now know the final answer\nFinal Answer: done"
    assert final_answer({"a": 1}, thought="ok").endswith('Final Answer: {"a": 1}')
    call = tool_call("lookup", {"name": "web-1"})
    arguments = json.dumps({"name": "web-1"})
    assert call.splitlines()[1:] == ["Action: lookup", f"Action Input: {arguments}"]
    assert tool_call("ping").endswith("Action Input: {}")
