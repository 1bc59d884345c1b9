"""Redaction of secret values from error text: known values, and anything shaped like a key.

Error text from node code, crews and providers ends up in run events, run and
thread errors, checkpoints and logs. Before it goes there, graphwright passes it
through a :class:`Redactor`, which replaces

- every *known* value: the run's tenant secrets, the API keys of the LLMs in
  ``GW_LLMS`` and ``GW_SECRET_KEY`` itself (also as they appear quoted in a
  ``repr`` or JSON string), and
- anything *shaped* like a credential: ``Bearer``/``Basic`` tokens, ``sk-...``
  keys, AWS, GitHub, Slack and Google keys, JWTs, ``password=...``-style
  assignments, passwords in URLs, and long mixed-case alphanumeric tokens.

Pure: no I/O, no environment. The runtime decides which values are known.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MIN_KNOWN_LENGTH", "REDACTED", "Redactor", "redact"]

REDACTED = "[redacted]"
"""What a redacted value is replaced with."""

MIN_KNOWN_LENGTH = 4
"""Known values shorter than this are not replaced (they would mangle ordinary text)."""

_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # `Authorization: Basic dXNlcjpwYXNz` (any scheme): keep the header and scheme.
    (
        re.compile(
            r"""(?i)\b(authorization["']?\s*[:=]\s*["']?(?:(?:basic|bearer|digest|token)\s+)?)"""
            r"""[^\s"',;]{4,}"""
        ),
        rf"\1{REDACTED}",
    ),
    # `Bearer xyz` anywhere: keep the word, drop the token.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    # `api_key=...`, `"password": "..."`, `token: ...`: keep the name, drop the value.
    (
        re.compile(
            r"""(?ix)
            \b((?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|client[_-]?secret
               |password|passwd|pwd|token|access[_-]?token|refresh[_-]?token)
               ["']?\s*[:=]\s*["']?)
            (?!\[redacted\])[^\s"',;&]{4,}
            """
        ),
        rf"\1{REDACTED}",
    ),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(://[^:/@\s]*:)[^@/\s]+@"), rf"\1{REDACTED}@"),
    # OpenAI/Anthropic-style keys (sk-..., sk-proj-..., sk-ant-...).
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    # AWS access key ids, GitHub tokens, Slack tokens, Google API keys.
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),
    # JSON Web Tokens: three base64url parts, the first a JSON header.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
)

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,}")
_MIN_ENTROPY = 3.5
"""Bits per character above which a long mixed-case alphanumeric token counts as a key."""


def _looks_random(token: str) -> bool:
    """Whether a long token looks like a key: upper and lower case letters, digits, entropy.

    Hex digests and UUIDs (one letter case) and identifiers (no digits) are kept.
    """
    if not (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    ):
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= _MIN_ENTROPY


def _variants(value: str) -> set[str]:
    """A value as it appears raw, inside a ``repr`` and inside a JSON string."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    return {form for form in forms if len(form) >= MIN_KNOWN_LENGTH}


class Redactor:
    """Replaces known secret values and credential-shaped text with ``[redacted]``.

    A redactor is an immutable value; :meth:`with_known` returns a new one that
    also knows more values.

    Example:
        >>> Redactor(["hunter22"]).text("login failed for hunter22")
        'login failed for [redacted]'
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        """Know ``known`` (values shorter than :data:`MIN_KNOWN_LENGTH` are ignored)."""
        self._known = frozenset(v for v in known if isinstance(v, str) and v)
        forms = sorted({f for v in self._known for f in _variants(v)}, key=len, reverse=True)
        # Longest first, so a value containing another is replaced whole.
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    @property
    def knows_values(self) -> bool:
        """Whether any known value is long enough to be replaced."""
        return self._pattern is not None

    def with_known(self, values: Iterable[str]) -> Redactor:
        """A redactor that also knows ``values``."""
        return Redactor([*self._known, *values])

    def text(self, text: str) -> str:
        """``text`` with known values and credential-shaped parts replaced."""
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return _TOKEN.sub(lambda m: REDACTED if _looks_random(m.group()) else m.group(), text)

    def value(self, value: Any) -> Any:
        """``value`` with :meth:`text` applied to every string in it (dicts, lists, tuples)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def known_only(self, value: Any) -> Any:
        """``value`` with known values replaced in every string, credential shapes kept.

        For data rather than error text (events a node writes), where a long token
        may be legitimate but a secret never is.
        """
        pattern = self._pattern
        if pattern is None:
            return value
        if isinstance(value, str):
            return pattern.sub(REDACTED, value)
        if isinstance(value, Mapping):
            return {k: self.known_only(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.known_only(v) for v in value]
        return value

    def error(self, error: Mapping[str, Any]) -> dict[str, Any]:
        """A ``{"code", "message", "details"}`` error with message and details redacted.

        The code is kept as it is: it is an identifier, never data.
        """
        return {k: (v if k == "code" else self.value(v)) for k, v in error.items()}

    def find_known(self, value: Any) -> str | None:
        """The JSON pointer of the first string in ``value`` holding a known value, if any."""
        if self._pattern is None:
            return None
        return _find(self._pattern, value, "")


def _find(pattern: re.Pattern[str], value: Any, where: str) -> str | None:
    if isinstance(value, str):
        return where if pattern.search(value) else None
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        step = str(key).replace("~", "~0").replace("/", "~1")
        found = _find(pattern, item, f"{where}/{step}")
        if found is not None:
            return found
    return None


def redact(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with ``known`` values and credential-shaped parts replaced by ``[redacted]``."""
    return Redactor(known).text(text)
