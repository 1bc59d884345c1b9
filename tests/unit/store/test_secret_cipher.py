"""Encryption of secret values with GW_SECRET_KEY (Fernet keys, rotation, sealing)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from graphwright.errors import ConfigurationError
from graphwright.settings import Settings
from graphwright.store.secrets import SecretCipher, generate_key


def cipher(*keys: str) -> SecretCipher:
    """A cipher over ``keys`` (the first encrypts)."""
    made = SecretCipher.from_setting(SecretStr(",".join(keys)))
    assert made is not None
    return made


def test_a_value_round_trips_and_the_ciphertext_does_not_hold_it() -> None:
    """What is encrypted decrypts to the same value; the token does not contain it."""
    box = cipher(generate_key())
    token = box.encrypt("acme", "CRM_TOKEN", "horse battery staple")
    assert b"horse" not in token
    assert box.decrypt("acme", "CRM_TOKEN", token) == "horse battery staple"


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    """With NEW,OLD an old ciphertext still decrypts, and new ones need only the new key."""
    old, new = generate_key(), generate_key()
    old_token = cipher(old).encrypt("acme", "A", "one")
    rotated = cipher(new, old)
    assert rotated.decrypt("acme", "A", old_token) == "one"
    new_token = rotated.encrypt("acme", "A", "two")
    assert cipher(new).decrypt("acme", "A", new_token) == "two"
    assert cipher(new).decrypt("acme", "A", rotated.rotate("acme", "A", old_token)) == "one"


def test_wrong_key_is_a_coded_error_without_the_value() -> None:
    """A ciphertext no key decrypts raises secrets.wrong_key naming the secret, not its value."""
    token = cipher(generate_key()).encrypt("acme", "CRM_TOKEN", "horse battery staple")
    with pytest.raises(ConfigurationError) as caught:
        cipher(generate_key()).decrypt("acme", "CRM_TOKEN", token)
    assert caught.value.code == "secrets.wrong_key"
    assert "CRM_TOKEN" in caught.value.message
    assert "horse" not in str(caught.value.to_dict())


@pytest.mark.parametrize(
    ("tenant", "name"), [("other", "CRM_TOKEN"), ("acme", "OTHER")], ids=["tenant", "name"]
)
def test_a_ciphertext_moved_to_another_row_does_not_decrypt(tenant: str, name: str) -> None:
    """A value is sealed to its tenant and name: read under others it is secrets.corrupt."""
    box = cipher(generate_key())
    token = box.encrypt("acme", "CRM_TOKEN", "horse battery staple")
    with pytest.raises(ConfigurationError) as caught:
        box.decrypt(tenant, name, token)
    assert caught.value.code == "secrets.corrupt"


def test_no_key_gives_no_cipher() -> None:
    """An unset GW_SECRET_KEY means no cipher; an empty key list is secrets.no_key."""
    assert SecretCipher.from_setting(None) is None
    with pytest.raises(ConfigurationError) as caught:
        SecretCipher([])
    assert caught.value.code == "secrets.no_key"


def test_settings_accept_a_comma_separated_key_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_SECRET_KEY takes several keys (spaces and empty parts ignored) and hides them."""
    first, second = generate_key(), generate_key()
    monkeypatch.setenv("GW_SECRET_KEY", f" {first} , {second},")
    settings = Settings()
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == f"{first},{second}"
    assert first not in repr(settings)


def test_settings_treat_an_empty_key_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """GW_SECRET_KEY= (empty) is the same as no key."""
    monkeypatch.setenv("GW_SECRET_KEY", "")
    assert Settings().secret_key is None


@pytest.mark.parametrize(
    "value",
    ["not-a-key", "c2hvcnQ=", "ä" * 44],
    ids=["not-base64", "too-short", "not-ascii"],
)
def test_settings_refuse_a_bad_key_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A value that is not a Fernet key fails at start, and the error does not repeat it."""
    monkeypatch.setenv("GW_SECRET_KEY", f"{generate_key()},{value}")
    with pytest.raises(ValidationError) as caught:
        Settings()
    text = str(caught.value)
    assert "key 2 is not a Fernet key" in text
    assert value not in text
