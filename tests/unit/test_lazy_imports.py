"""The package face is cheap: heavy dependencies load only when a name that needs them is used.

Each import check runs in a fresh interpreter, since this test process has already
imported most of graphwright.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import graphwright

HEAVY = (
    "psycopg",
    "psycopg_pool",
    "langgraph.checkpoint.postgres",
    "fastapi",
    "uvicorn",
    "redis",
    "crewai",
    "langgraph",
)


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter; it leaves a dict in ``out``, returned here."""
    report = "\nimport json as _json, sys as _sys\nprint(_json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + report],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "module",
    ["graphwright", "graphwright.client", "graphwright.cli"],
    ids=["package", "client", "cli"],
)
def test_import_leaves_heavy_modules_unloaded(module: str) -> None:
    """Importing it loads no driver, pool, checkpointer, web stack, Redis, crewai, LangGraph."""
    out = _run(
        f"""
        import sys
        import {module}
        out = {{"loaded": [m for m in {HEAVY!r} if m in sys.modules]}}
        """
    )
    assert out["loaded"] == []


def test_engine_loads_on_first_access() -> None:
    """``graphwright.Engine`` resolves on first access, and only then is psycopg imported."""
    out = _run(
        """
        import sys
        import graphwright
        before = "psycopg" in sys.modules
        engine = graphwright.Engine
        out = {
            "before": before,
            "after": "psycopg" in sys.modules,
            "name": f"{engine.__module__}.{engine.__qualname__}",
            "cached": "Engine" in vars(graphwright),
        }
        """
    )
    assert out == {
        "before": False,
        "after": True,
        "name": "graphwright.runtime.engine.Engine",
        "cached": True,
    }


@pytest.mark.parametrize("name", graphwright.__all__, ids=graphwright.__all__)
def test_public_name_resolves_and_is_listed(name: str) -> None:
    """Every name in ``__all__`` resolves to a defined object and appears in ``dir()``."""
    assert getattr(graphwright, name) is not None
    assert name in dir(graphwright)


@pytest.mark.parametrize(
    "name", ["NoSuchName", "engine", "_SOURCE"], ids=["unknown", "wrong-case", "private"]
)
def test_unknown_name_raises_attribute_error(name: str) -> None:
    """A name the package does not export raises AttributeError naming it."""
    with pytest.raises(AttributeError, match=name):
        getattr(graphwright, name)
