"""Registering crews, tools and LLMs; LLMs configured in settings; crewai privacy defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from graphwright.errors import ConfigurationError, RegistryError
from graphwright.registry import LLMConfig, Registry, load_registry_modules, register_llms
from graphwright.registry.llms import CREWAI_PRIVACY_DEFAULTS, apply_crewai_privacy_defaults


def test_crews_tools_and_llms_register_by_name() -> None:
    """Each kind has its decorator, lookup and sorted names; registering imports no crewai."""
    registry = Registry()

    @registry.crew("team.review")
    def review(inputs: dict[str, Any]) -> Any:
        return None

    @registry.crew("team.plain")
    def plain() -> Any:
        return None

    @registry.tool("team.lookup")
    def lookup(name: str) -> str:
        """Look up a name."""
        return name

    registry.add_llm("fast", lambda: "openai/gpt-4o-mini")

    assert registry.get_crew("team.review").takes_inputs is True
    assert registry.get_crew("team.plain").takes_inputs is False
    assert registry.crew_names() == ["team.plain", "team.review"]
    assert registry.get_tool("team.lookup").tool_name == "team_lookup"
    assert registry.get_tool("team.lookup").is_function
    assert registry.has_llm("fast")
    assert registry.get_llm("fast")() == "openai/gpt-4o-mini"
    assert len(registry) == 4
    assert registry.function_names() == []


@pytest.mark.parametrize(
    ("register", "code"),
    [
        (lambda r: r.add_crew("Bad Name", lambda: None), "registry.invalid_name"),
        (lambda r: r.add_crew("c.x", 5), "registry.not_callable"),
        (lambda r: r.add_crew("c.x", lambda team, inputs: None), "registry.bad_signature"),
        (lambda r: r.add_tool("t.x", lambda name: name), "registry.invalid_tool"),
        (lambda r: r.add_tool("t.x", 42), "registry.invalid_tool"),
        (lambda r: r.add_llm("fast", "gpt-4o"), "registry.not_callable"),
        (lambda r: r.get_crew("nope"), "registry.unknown_name"),
        (lambda r: r.get_tool("nope"), "registry.unknown_name"),
        (lambda r: r.get_llm("nope"), "registry.unknown_name"),
    ],
    ids=[
        "crew-bad-name",
        "crew-not-callable",
        "crew-takes-other-arguments",
        "tool-without-docstring",
        "tool-not-a-tool",
        "llm-not-callable",
        "unknown-crew",
        "unknown-tool",
        "unknown-llm",
    ],
)
def test_bad_registrations_are_coded(register: Any, code: str) -> None:
    """Invalid names, objects and signatures, and unknown lookups, raise coded errors."""
    with pytest.raises(RegistryError) as caught:
        register(Registry())
    assert caught.value.code == code


def test_names_are_unique_per_kind_and_merge_checks_every_kind() -> None:
    """A name may be a function and a crew, but not two crews; merging refuses clashes."""
    registry = Registry()
    registry.add_function("team.review", lambda: None)
    registry.add_crew("team.review", lambda: None)
    with pytest.raises(RegistryError) as caught:
        registry.add_crew("team.review", lambda: None)
    assert caught.value.code == "registry.duplicate_name"

    other = Registry()
    other.add_llm("fast", lambda: None)
    other.add_crew("team.review", lambda: None)
    with pytest.raises(RegistryError):
        registry.merge(other)
    assert not registry.has_llm("fast"), "a refused merge adds nothing"

    other = Registry()
    other.add_llm("fast", lambda: None)
    registry.merge(other)
    assert registry.has_llm("fast")


def test_tools_may_be_crewai_tools() -> None:
    """An object with ``name`` and ``run`` (a crewai BaseTool) registers under its own name."""

    class Tool:
        name = "Inventory search"

        def run(self, query: str) -> str:
            return query

    entry = Registry().add_tool("team.search", Tool())
    assert entry.tool_name == "Inventory search"
    assert not entry.is_function


def test_llms_from_settings_register_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_LLMS-style configs become LLM factories; the key is read from the environment."""
    monkeypatch.delenv("GW_TEST_LLM_KEY", raising=False)
    registry = register_llms(
        Registry(),
        {
            "fast": {"provider": "openai", "model": "gpt-4o", "api_key_env": "GW_TEST_LLM_KEY"},
            "offline": LLMConfig(provider="scripted", answers=["Final Answer: ok"]),
        },
    )
    assert registry.llm_names() == ["fast", "offline"]
    with pytest.raises(ConfigurationError) as caught:
        registry.get_llm("fast")()
    assert caught.value.code == "config.llm_key_missing"
    assert caught.value.details == {"variable": "GW_TEST_LLM_KEY"}


def test_llm_settings_build_crewai_llms(monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider config builds crewai's LLM for it offline, with the key from the environment."""
    pytest.importorskip("crewai", reason="building an LLM needs graphwright[crew]")
    monkeypatch.setenv("GW_TEST_LLM_KEY", "sk-test")
    config = LLMConfig(
        provider="openai", model="gpt-4o-mini", api_key_env="GW_TEST_LLM_KEY", temperature=0.1
    )
    llm = config.factory()()
    assert (llm.provider, llm.model, llm.temperature, llm.api_key) == (
        "openai",
        "gpt-4o-mini",
        0.1,
        "sk-test",
    )
    offline = LLMConfig(provider="scripted", answers=["ok"]).factory()()
    assert offline.call("hi") == "ok"


@pytest.mark.parametrize(
    "config",
    [
        {"model": "gpt-4o"},
        {"provider": "openai", "api_key": "sk-do-not-put-keys-here"},
        {"provider": "Open AI"},
        {"provider": "openai", "temperature": 9},
    ],
    ids=["no-provider", "key-in-settings", "bad-provider", "temperature"],
)
def test_invalid_llm_settings_are_refused(config: dict[str, Any]) -> None:
    """A config that does not validate (including one holding a key) is config.invalid_llm."""
    with pytest.raises(ConfigurationError) as caught:
        register_llms(Registry(), {"fast": config})
    assert caught.value.code == "config.invalid_llm"
    assert caught.value.details == {"llm": "fast"}


def test_load_registry_modules_registers_llms_and_sets_privacy_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading modules sets crewai's telemetry defaults first, keeps the user's, adds LLMs."""
    for key in CREWAI_PRIVACY_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CREWAI_TRACING_ENABLED", "true")
    module = tmp_path / "team_nodes.py"
    module.write_text(
        "import os\n"
        "SEEN = os.environ.get('CREWAI_DISABLE_TELEMETRY')\n"
        "def register(registry):\n"
        "    registry.add_crew('team.crew', lambda: SEEN)\n"
    )
    registry = load_registry_modules(
        [str(module)], llms={"offline": {"provider": "scripted", "answers": []}}
    )
    assert registry.get_crew("team.crew").factory() == "true"
    assert registry.has_llm("offline")
    assert os.environ["CREWAI_DISABLE_VERSION_CHECK"] == "true"
    assert os.environ["CREWAI_TRACING_ENABLED"] == "true", "the user's choice is kept"


def test_privacy_defaults_never_override_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user who turns crewai telemetry on keeps it on."""
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "false")
    apply_crewai_privacy_defaults()
    assert os.environ["CREWAI_DISABLE_TELEMETRY"] == "false"
