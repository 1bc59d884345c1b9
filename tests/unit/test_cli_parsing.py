"""What the threads/approvals/db commands parse and print, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer

from graphwright.cli_approvals import parse_age, parse_edits
from graphwright.cli_common import age, parse_pairs, span, table
from graphwright.runtime.embedded import Postmaster


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("90", 90.0, id="bare-seconds"),
        pytest.param("90s", 90.0, id="seconds"),
        pytest.param("15m", 900.0, id="minutes"),
        pytest.param(" 2h ", 7200.0, id="hours-spaces"),
        pytest.param("1.5d", 129600.0, id="fractional-days"),
    ],
)
def test_parse_age_units(text: str, seconds: float) -> None:
    """Ages are a number with an optional s/m/h/d unit."""
    assert parse_age(text, "--older-than") == seconds


@pytest.mark.parametrize("text", ["soon", "2w", "-5m", "1h30m", ""], ids=str)
def test_parse_age_refuses_other_text(text: str) -> None:
    """Anything else is a usage error naming the accepted forms."""
    with pytest.raises(typer.BadParameter, match="90s, 15m, 2h, 1d"):
        parse_age(text, "--older-than")


def test_parse_edits_reads_json_and_falls_back_to_text() -> None:
    """VALUE is JSON when it parses (numbers, objects, quoted text), else the text itself."""
    edits = parse_edits(
        ["draft=A better draft", "count=5", 'tags=["a", "b"]', 'quoted="x=y"', "flag=true"]
    )
    assert edits == {
        "draft": "A better draft",
        "count": 5,
        "tags": ["a", "b"],
        "quoted": "x=y",
        "flag": True,
    }
    assert parse_edits(None) is None


def test_parse_pairs_keeps_equals_in_values_and_refuses_bare_keys() -> None:
    """KEY=VALUE splits at the first '='; a pair without one is a usage error."""
    assert parse_pairs(["url=a=b", " k =v"], "--metadata") == {"url": "a=b", "k": "v"}
    with pytest.raises(typer.BadParameter, match="KEY=VALUE"):
        parse_pairs(["client_id"], "--metadata")
    with pytest.raises(typer.BadParameter):
        parse_pairs(["=v"], "--metadata")


def test_age_and_span_use_the_largest_whole_unit() -> None:
    """45s, 12m, 3h, 2d; the future reads as 0s; a missing time as '-'."""
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=45), now=now) == "45s"
    assert age((now - timedelta(minutes=12, seconds=59)).isoformat(), now=now) == "12m"
    assert age(now - timedelta(hours=3), now=now) == "3h"
    assert age(now - timedelta(days=2, hours=23), now=now) == "2d"
    assert age(now + timedelta(minutes=5), now=now) == "0s"
    assert age(None) == "-"
    assert span(59.9) == "59s"


def test_table_aligns_columns(capsys: pytest.CaptureFixture[str]) -> None:
    """Columns are padded to the widest cell; the last is not padded."""
    table([["a", "long value", "x"], ["bbb", "v", "last"]], ["ID", "VALUE", "NOTE"])
    assert capsys.readouterr().out.splitlines() == [
        "ID   VALUE       NOTE",
        "a    long value  x",
        "bbb  v           last",
    ]


def test_postmaster_url_names_socket_and_port() -> None:
    """The URL connects over the unix socket; a port other than 5432 is named."""
    started = datetime(2026, 1, 1, tzinfo=UTC)
    default = Postmaster(pid=1, started_at=started, port=5432, socket_dir="/d", status="ready")
    other = Postmaster(pid=1, started_at=started, port=5433, socket_dir="/d", status="ready")
    assert default.url == "postgresql://postgres:@/postgres?host=/d"
    assert other.url == "postgresql://postgres:@/postgres?host=/d&port=5433"
