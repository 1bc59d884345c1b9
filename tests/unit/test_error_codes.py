"""Every error and problem code written in src/graphwright is documented in docs/errors.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "graphwright"
DOCS = ROOT / "docs" / "errors.md"

# The forms a code is written in: code="...", Problem("...", default_code = "...",
# the validator's self.add("...") and "code": "..." mappings.
CODE_FORMS = [
    re.compile(r'\bcode\s*=\s*"([^"]+)"'),
    re.compile(r'\bProblem\(\s*"([^"]+)"'),
    re.compile(r'\bdefault_code(?:\s*:\s*ClassVar\[str\])?\s*=\s*"([^"]+)"'),
    re.compile(r'\bself\.add\(\s*"([^"]+)"'),
    re.compile(r'"code"\s*:\s*"([^"]+)"'),
]
DOCUMENTED = re.compile(r"^\|\s*`([^`]+)`\s*\|", re.MULTILINE)


def codes_in_source() -> dict[str, list[str]]:
    """Map each code written in src/graphwright to the files that write it."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for form in CODE_FORMS:
            for match in form.finditer(text):
                found.setdefault(match.group(1), []).append(str(path.relative_to(SOURCE)))
    return found


def documented_codes() -> set[str]:
    """Codes in the first column of the tables in docs/errors.md."""
    return set(DOCUMENTED.findall(DOCS.read_text(encoding="utf-8")))


def test_scanner_finds_codes() -> None:
    """The scanner sees codes in every form (so the check below cannot pass vacuously)."""
    found = codes_in_source()
    for code in (
        "node.timeout",  # code="..."
        "dsl.invalid_json",  # Problem("...")
        "workflow.invalid",  # default_code = "..."
        "graphwright.error",  # default_code: ClassVar[str] = "..."
        "state.reserved_name",  # self.add("...")
        "edge.unknown_node",  # Problem(\n "..."
    ):
        assert code in found, code


def test_every_code_is_documented() -> None:
    """Each code written in src/graphwright has a row in docs/errors.md."""
    missing = {
        code: files for code, files in codes_in_source().items() if code not in documented_codes()
    }
    assert not missing, f"undocumented codes (add them to docs/errors.md): {missing}"


def test_documented_codes_are_well_formed() -> None:
    """Documented codes are lower-case 'area.kind' (or a bare base code like 'not_found')."""
    codes = documented_codes()
    assert len(codes) > 50
    assert [c for c in codes if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)?", c)] == []
