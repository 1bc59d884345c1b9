"""Every route of the service has an access rule; unsafe exposure settings are refused."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from pydantic import SecretStr

from graphwright.api.access import PUBLIC, RULES, auth_mode, check_exposure
from graphwright.api.app import create_app
from graphwright.errors import ConfigurationError
from graphwright.settings import Settings

KEY = "bXlrZXlteWtleW15a2V5bXlrZXlteWtleW15a2V5bXk="  # 32 bytes, base64: a Fernet-shaped key


def routes() -> set[tuple[str, str]]:
    """(method, path) of every API route of the app (HEAD folded into GET)."""
    app = create_app(Settings())
    found = set()
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            pending.extend(included.routes)
        elif isinstance(route, APIRoute):
            for method in route.methods - {"HEAD"}:
                found.add((method, route.path))
    assert len(found) > 40  # the walk reached the routers' routes
    return found


def test_every_route_has_a_rule() -> None:
    """A new route without an entry in RULES would be refused to everyone: none is missing."""
    missing = routes() - set(RULES)
    assert not missing, sorted(missing)


def test_no_rule_names_a_route_that_does_not_exist() -> None:
    """RULES lists only real routes (a renamed route cannot leave a stale rule behind)."""
    assert not set(RULES) - routes()


def test_only_health_checks_and_server_info_are_public() -> None:
    """/healthz, /readyz (status only) and /info (as in LangGraph Server) need no credentials."""
    public = {path for (_, path), rule in RULES.items() if rule.role == PUBLIC}
    assert public == {"/healthz", "/readyz", "/info"}


@pytest.mark.parametrize(
    ("host", "auth", "mode"),
    [
        ("127.0.0.1", None, "none"),
        ("localhost", None, "none"),
        ("::1", None, "none"),
        ("0.0.0.0", None, "keys"),
        ("10.1.2.3", None, "keys"),
        ("0.0.0.0", "jwt", "jwt"),
    ],
)
def test_auth_mode_defaults_to_keys_off_loopback(host: str, auth: str | None, mode: str) -> None:
    """Unset GW_AUTH means none on a loopback bind and keys anywhere else."""
    assert auth_mode(Settings(host=host, auth=auth)) == mode


def test_public_bind_without_auth_is_refused() -> None:
    """GW_AUTH=none on 0.0.0.0 raises config.insecure unless GW_ALLOW_INSECURE is set."""
    with pytest.raises(ConfigurationError) as caught:
        check_exposure(Settings(host="0.0.0.0", auth="none", secret_key=SecretStr(KEY)))
    assert caught.value.code == "config.insecure"
    check_exposure(
        Settings(host="0.0.0.0", auth="none", allow_insecure=True, secret_key=SecretStr(KEY))
    )


def test_public_bind_needs_a_secret_key() -> None:
    """A public bind without GW_SECRET_KEY raises config.no_secret_key."""
    with pytest.raises(ConfigurationError) as caught:
        check_exposure(Settings(host="0.0.0.0"))
    assert caught.value.code == "config.no_secret_key"


def test_unknown_auth_mode_is_refused() -> None:
    """GW_AUTH=magic raises config.invalid_auth naming the choices."""
    with pytest.raises(ConfigurationError) as caught:
        check_exposure(Settings(auth="magic"))
    assert caught.value.code == "config.invalid_auth"
