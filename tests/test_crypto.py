"""Secrets at rest: encrypted with key ids; a wrong key fails closed; rotation re-encrypts."""

import pytest
from cryptography.fernet import Fernet

from config import ConfigError
from models.crypto import SecretUnreadable, Vault


def _key():
    return Fernet.generate_key().decode()


def test_a_secret_round_trips_and_names_its_key():
    vault = Vault.from_config(f"k1:{_key()}")
    stored = vault.encrypt("ya29.refresh-token")
    assert stored.startswith("k1:") and "ya29" not in stored
    assert vault.decrypt(stored) == "ya29.refresh-token"


def test_a_new_first_key_still_reads_old_secrets_and_asks_for_rotation():
    old, new = _key(), _key()
    stored = Vault.from_config(f"k1:{old}").encrypt("s3cret")
    rotated = Vault.from_config(f"k2:{new},k1:{old}")
    assert rotated.decrypt(stored) == "s3cret" and rotated.needs_rotation(stored)
    assert rotated.encrypt("s3cret").startswith("k2:")


def test_a_wrong_or_missing_key_fails_closed():
    stored = Vault.from_config(f"k1:{_key()}").encrypt("s3cret")
    with pytest.raises(SecretUnreadable):
        Vault.from_config(f"k1:{_key()}").decrypt(stored)
    with pytest.raises(SecretUnreadable):
        Vault.from_config(f"k9:{_key()}").decrypt(stored)
    for bad in ("", "k1:not-a-key", "nokeyid"):
        with pytest.raises(ConfigError):
            Vault.from_config(bad)
