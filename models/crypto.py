"""Secrets at rest: authenticated encryption (Fernet) with key ids, and key rotation.

TETHER_ENCRYPTION_KEYS is a comma-separated list of `id:fernet-key`; the first encrypts, all
decrypt. A stored secret reads `id:token`, so a rotation can tell which key wrote each one.
"""

from cryptography.fernet import Fernet, InvalidToken
from peewee import TextField

from config import ConfigError


class SecretUnreadable(Exception):
    """Stored ciphertext that no configured key opens (wrong key, tampering)."""


class Vault:
    def __init__(self, keys: list[tuple[str, Fernet]]):
        self.keys = dict(keys)
        self.primary_id = keys[0][0]

    @classmethod
    def from_config(cls, spec: str) -> "Vault":
        keys = []
        for part in (p.strip() for p in (spec or "").split(",")):
            if not part:
                continue
            key_id, sep, key = part.partition(":")
            if not sep or not key_id.isalnum():
                raise ConfigError("TETHER_ENCRYPTION_KEYS entries look like id:key "
                                  "(id letters/digits, key from Fernet.generate_key()).")
            try:
                keys.append((key_id, Fernet(key.encode())))
            except ValueError as e:
                raise ConfigError(f"Encryption key '{key_id}' is not a valid Fernet key.") from e
        if not keys:
            raise ConfigError("TETHER_ENCRYPTION_KEYS is empty.")
        return cls(keys)

    def encrypt(self, plaintext: str) -> str:
        token = self.keys[self.primary_id].encrypt(plaintext.encode())
        return f"{self.primary_id}:{token.decode()}"

    def decrypt(self, stored: str) -> str:
        key_id, _, token = stored.partition(":")
        key = self.keys.get(key_id)
        if key is None:
            raise SecretUnreadable(f"no configured key has id '{key_id}'")
        try:
            return key.decrypt(token.encode()).decode()
        except InvalidToken as e:
            raise SecretUnreadable(f"key '{key_id}' does not open this secret") from e

    def needs_rotation(self, stored: str) -> bool:
        return not stored.startswith(self.primary_id + ":")


_vault: Vault | None = None


def vault() -> Vault:
    """The process's vault, built from configuration on first use."""
    global _vault
    if _vault is None:
        import config

        _vault = Vault.from_config(config.load()["TETHER_ENCRYPTION_KEYS"])
    return _vault


def use_vault(v: Vault | None) -> None:
    global _vault
    _vault = v


class EncryptedField(TextField):
    """A text column whose value is encrypted before it reaches the database."""

    def db_value(self, value):
        if value is None or isinstance(value, _Sealed):  # already ciphertext: store as read
            return None if value is None else str(value)
        return vault().encrypt(value)

    def python_value(self, value):
        return None if value is None else _Sealed(value)


class _Sealed(str):
    """Ciphertext as read from the database; `.reveal()` decrypts only when needed."""

    def reveal(self) -> str:
        return vault().decrypt(self)


ENCRYPTED_COLUMNS: list[tuple] = []  # (Model, field) pairs; models register theirs


def rotate_all() -> int:
    """Re-encrypt every registered secret written with an older key. Returns the count."""
    from models.base import db

    v, count = vault(), 0
    for model, field in ENCRYPTED_COLUMNS:
        for row in list(model.select(model.id, field)):  # not a cursor held open across writes
            stored = getattr(row, field.name)
            if stored and v.needs_rotation(stored):
                with db.atomic():
                    model.update({field: v.decrypt(stored)}).where(model.id == row.id).execute()
                count += 1
    return count
