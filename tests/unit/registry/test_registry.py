"""Registry: the allow-list of node functions, its name rules and module loading."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import pytest

from graphwright.errors import ConfigurationError, RegistryError
from graphwright.graphs.validate import check_workflow
from graphwright.registry import Registry, load_registry_modules

from ..factories import DROP, apply, demo_registry, valid_document


def noop() -> None:
    """A function to register."""


@pytest.mark.parametrize(
    "name",
    ["Bad", "a..b", "a.", ".a", "1a", "", "a-b", "a b", "a.B", "_a", None, 5],
    ids=[
        "upper",
        "double-dot",
        "trailing-dot",
        "leading-dot",
        "digit-first",
        "empty",
        "dash",
        "space",
        "upper-part",
        "underscore-first",
        "none",
        "int",
    ],
)
def test_invalid_name(name: Any) -> None:
    """A name outside the dotted lower-case pattern raises registry.invalid_name."""
    with pytest.raises(RegistryError) as info:
        Registry().add_function(name, noop)
    assert info.value.code == "registry.invalid_name"


@pytest.mark.parametrize(
    "name", ["a", "team.task", "a1.b_2.c3"], ids=["one-part", "two-parts", "three-parts"]
)
def test_valid_name(name: str) -> None:
    """Dotted lower-case names register and resolve."""
    registry = Registry()
    registry.add_function(name, noop)
    assert registry.has_function(name)
    assert registry.get_function(name).func is noop
    assert registry.function_names() == [name]
    assert len(registry) == 1


def test_duplicate_name() -> None:
    """Registering a taken name raises registry.duplicate_name and keeps the first entry."""
    registry = Registry()
    registry.add_function("t.x", noop)
    with pytest.raises(RegistryError) as info:
        registry.add_function("t.x", lambda: 1)
    assert info.value.code == "registry.duplicate_name"
    assert registry.get_function("t.x").func is noop


def test_merge_rejects_duplicates() -> None:
    """Merging a registry with a clashing name raises registry.duplicate_name."""
    first, second = Registry(), Registry()
    first.add_function("t.x", noop)
    second.add_function("t.x", noop)
    with pytest.raises(RegistryError) as info:
        first.merge(second)
    assert info.value.code == "registry.duplicate_name"


def test_merge_adds_entries() -> None:
    """Merging adds every entry of the other registry."""
    first, second = Registry(), Registry()
    first.add_function("t.x", noop)
    second.add_function("t.y", noop)
    first.merge(second)
    assert first.function_names() == ["t.x", "t.y"]


def test_not_callable() -> None:
    """A non-callable raises registry.not_callable."""
    with pytest.raises(RegistryError) as info:
        Registry().add_function("t.x", 42)  # type: ignore[arg-type]
    assert info.value.code == "registry.not_callable"


def test_positional_only_parameters_rejected() -> None:
    """Positional-only parameters raise registry.bad_signature (arguments are passed by name)."""

    def positional(item: int, /) -> int:
        return item

    with pytest.raises(RegistryError) as info:
        Registry().add_function("t.x", positional)
    assert info.value.code == "registry.bad_signature"


def test_callable_without_signature_is_a_registry_error() -> None:
    """A callable whose signature cannot be read raises a RegistryError, not a bare ValueError."""
    with pytest.raises(RegistryError):
        Registry().add_function("t.x", dict)


def test_unknown_name_lookup() -> None:
    """get_function for an unregistered name raises registry.unknown_name."""
    with pytest.raises(RegistryError) as info:
        Registry().get_function("t.nope")
    assert info.value.code == "registry.unknown_name"


def test_entry_describes_signature() -> None:
    """An entry records async-ness, parameter names, required ones and **kwargs."""

    async def work(state: Any, item: int, *, label: str = "x", **extra: Any) -> None:
        return None

    entry = Registry().add_function("t.work", work)
    assert entry.is_async
    assert entry.parameters == ("state", "item", "label")
    assert entry.required == ("state", "item")
    assert entry.accepts_any


@pytest.mark.parametrize(
    ("func", "is_async"),
    [
        (noop, False),
        (functools.partial(noop), False),
        (lambda: None, False),
    ],
    ids=["sync-function", "partial", "lambda"],
)
def test_sync_callables_are_not_async(func: Any, is_async: bool) -> None:
    """Sync callables are marked sync (they will run in a worker thread)."""
    assert Registry().add_function("t.x", func).is_async is is_async


def test_decorator_registers_and_returns_function() -> None:
    """The decorator registers the function and returns it unchanged."""
    registry = Registry()

    @registry.function("t.double")
    def double(item: int) -> int:
        return item * 2

    assert double(2) == 4
    assert registry.get_function("t.double").func is double


# --- signature checks in validation ---


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ([("/nodes/write/inputs", DROP)], [("registry.signature_mismatch", "/nodes/write/ref")]),
        (
            [("/nodes/write/inputs", {"subject": "state.topic"})],
            [("registry.signature_mismatch", "/nodes/write/ref")],
        ),
        (
            [("/nodes/score/node/ref", "demo.write")],
            [("registry.signature_mismatch", "/nodes/score/node/ref")],
        ),
        ([], []),
    ],
    ids=["no-inputs", "wrong-input-name", "map-item-is-not-topic", "provided"],
)
def test_signature_mismatch(
    changes: list[tuple[str, Any]], problems: list[tuple[str, str]]
) -> None:
    """A function that requires an argument the node does not provide is a validation problem."""
    _, found = check_workflow(apply(valid_document(), *changes), registry=demo_registry())
    assert [(p.code, p.pointer) for p in found] == problems


def test_map_provides_item_and_index() -> None:
    """Inside a map a function may require item and index; outside it may not."""
    registry = demo_registry()

    @registry.function("demo.indexed")
    def indexed(item: int, index: int) -> int:
        return item + index

    inside = apply(valid_document(), ("/nodes/score/node/ref", "demo.indexed"))
    assert check_workflow(inside, registry=registry)[1] == []
    outside = apply(
        valid_document(), ("/nodes/write/ref", "demo.indexed"), ("/nodes/write/inputs", DROP)
    )
    assert [p.code for p in check_workflow(outside, registry=registry)[1]] == [
        "registry.signature_mismatch"
    ]


# --- load_registry_modules ---

GOOD = "def register(registry):\n    registry.add_function('{name}', lambda: 1)\n"


def write_module(tmp_path: Path, filename: str, text: str) -> str:
    """Write a registry module and return its path as a string."""
    path = tmp_path / filename
    path.write_text(text)
    return str(path)


@pytest.fixture(autouse=True)
def _forget_loaded_modules() -> Any:
    """Drop registry modules loaded by a test from sys.modules afterwards."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("graphwright_registry_"):
            del sys.modules[name]


def test_load_from_file(tmp_path: Path) -> None:
    """A .py file's register(registry) fills the registry."""
    path = write_module(tmp_path, "nodes.py", GOOD.format(name="t.loaded"))
    registry = load_registry_modules([path])
    assert registry.function_names() == ["t.loaded"]


def test_load_into_given_registry(tmp_path: Path) -> None:
    """Loading into an existing registry adds to it."""
    registry = Registry()
    registry.add_function("t.first", noop)
    path = write_module(tmp_path, "nodes.py", GOOD.format(name="t.second"))
    assert load_registry_modules([path], registry) is registry
    assert registry.function_names() == ["t.first", "t.second"]


def test_load_by_module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dotted module name on sys.path is imported and registered."""
    package = tmp_path / "gw_test_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nodes.py").write_text(GOOD.format(name="t.by_name"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_registry_modules(["gw_test_pkg.nodes"]).function_names() == ["t.by_name"]
    finally:
        for name in ("gw_test_pkg.nodes", "gw_test_pkg"):
            sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("missing.py", None),
        ("noreg.py", "x = 1\n"),
        ("notcallable.py", "register = 5\n"),
        ("syntax.py", "def (:\n"),
    ],
    ids=["missing-file", "no-register", "register-not-callable", "syntax-error"],
)
def test_load_failures(tmp_path: Path, filename: str, text: str | None) -> None:
    """A module that cannot be imported or has no register() raises config.registry_module."""
    path = str(tmp_path / filename) if text is None else write_module(tmp_path, filename, text)
    with pytest.raises(ConfigurationError) as info:
        load_registry_modules([path])
    assert info.value.code == "config.registry_module"


def test_load_unknown_module_name() -> None:
    """An unknown dotted module name raises config.registry_module."""
    with pytest.raises(ConfigurationError) as info:
        load_registry_modules(["graphwright_no_such_module_xyz"])
    assert info.value.code == "config.registry_module"


def test_load_duplicate_across_modules(tmp_path: Path) -> None:
    """Two modules registering the same name raise registry.duplicate_name."""
    first = write_module(tmp_path, "one.py", GOOD.format(name="t.same"))
    second = write_module(tmp_path, "two.py", GOOD.format(name="t.same"))
    with pytest.raises(RegistryError) as info:
        load_registry_modules([first, second])
    assert info.value.code == "registry.duplicate_name"


def test_load_module_raising_at_import(tmp_path: Path) -> None:
    """A module that raises while importing gives config.registry_module."""
    path = write_module(tmp_path, "boom.py", "raise RuntimeError('boom')\n")
    with pytest.raises(ConfigurationError) as info:
        load_registry_modules([path])
    assert info.value.code == "config.registry_module"


def test_failed_import_is_not_cached(tmp_path: Path) -> None:
    """After a file fails to import, loading it again (fixed) succeeds."""
    path = write_module(tmp_path, "flaky.py", "def (:\n")
    with pytest.raises(ConfigurationError):
        load_registry_modules([path])
    write_module(tmp_path, "flaky.py", GOOD.format(name="t.fixed"))
    assert load_registry_modules([path]).function_names() == ["t.fixed"]
