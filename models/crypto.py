"""Secrets at rest: authenticated encryption (Fernet) with key ids, and key rotation.

TETHER_ENCRYPTION_KEYS is a comma-separated list of `id:fernet-key`; the first encrypts, all
decrypt. A stored secret reads `id:token`, so a rotation can tell which key wrote each one,
and start-up can tell (cheaply, from those prefixes) that a key the database needs is missing.
Every EncryptedField of every model is found by walking the models: no list to keep up to date.
"""

import importlib
import logging
import pkgutil

from cryptography.fernet import Fernet, InvalidToken
from peewee import OperationalError, SqliteDatabase, TextField, fn

from config import ConfigError

log = logging.getLogger(__name__)


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

        _vault = Vault.from_config(config.current()["TETHER_ENCRYPTION_KEYS"])
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


def encrypted_columns() -> list[tuple]:
    """(Model, field) for every EncryptedField of every model in the models package."""
    import models
    from models.base import BaseModel

    for module in pkgutil.iter_modules(models.__path__):
        if not module.ispkg:  # the migrations package holds no models
            importlib.import_module(f"models.{module.name}")
    found, todo, seen = [], list(BaseModel.__subclasses__()), set()
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model in seen:
            continue
        seen.add(model)
        found.extend((model, field) for field in model._meta.sorted_fields
                     if isinstance(field, EncryptedField))
    return sorted(found, key=lambda mf: (mf[0]._meta.table_name, mf[1].column_name))


def _existing_columns(database) -> list[tuple]:
    """(Model, field, "table.column") for the encrypted columns this database already has: a
    database not yet migrated (`flask db upgrade` starts the app too) has fewer, or none."""
    tables, columns, found = set(database.get_tables()), {}, []
    for model, field in encrypted_columns():
        table = model._meta.table_name
        if table not in tables:
            continue
        if table not in columns:
            columns[table] = {c.name for c in database.get_columns(table)}
        if field.column_name in columns[table]:
            found.append((model, field, f"{table}.{field.column_name}"))
    return found


def key_id(field, database):
    """The SQL for the key id a stored secret names (its `id:` prefix): read without
    decrypting anything, so start-up and /readyz can ask it of every row cheaply."""
    if isinstance(database, SqliteDatabase):
        return fn.substr(field, 1, fn.instr(field, ":") - 1)
    return fn.split_part(field, ":", 1)


def key_ids_in_use(database) -> dict[str, set[str]]:
    """{key id: {"table.column", …}} for the secrets stored in `database`: one DISTINCT
    query per encrypted column, over the `id:` prefixes only."""
    in_use: dict[str, set[str]] = {}
    for model, field, where in _existing_columns(database):
        query = model.select(key_id(field, database)).where(field.is_null(False)).distinct()
        for (found,) in database.execute(query).fetchall():
            in_use.setdefault(found, set()).add(where)
    return in_use


def open_vault(spec: str) -> Vault:
    """The vault for TETHER_ENCRYPTION_KEYS, made the process's own — or ConfigError when a
    key is malformed or a key the database still uses is missing. Called at start-up by the
    web app and the worker: a mailbox should not find out at its next check."""
    from models.base import db

    v = Vault.from_config(spec)
    try:
        with db.connection_context():
            in_use = key_ids_in_use(db.obj)
    except OperationalError as e:
        # A database that is down holds nothing to decrypt right now; refusing to start
        # would turn its restart into ours. Mailboxes meet a lost key at their next check.
        log.warning("Encryption keys not checked against the database (unreachable: %s)", e)
        in_use = {}
    missing = sorted(set(in_use) - set(v.keys))
    if missing:
        where = ", ".join(sorted(in_use[missing[0]]))
        raise ConfigError(
            f"encryption key {missing[0]} is in use in the database but missing from "
            f"TETHER_ENCRYPTION_KEYS (it encrypted {where}). Put it back after the new first "
            "key and run `flask --app app rotate-keys` before removing it."
            + (f" Also missing: {', '.join(missing[1:])}." if missing[1:] else ""))
    use_vault(v)
    return v


def rotate_all() -> int:
    """Re-encrypt every stored secret written with an older key. Returns the count."""
    from models.base import db

    v, count = vault(), 0
    for model, field, _ in _existing_columns(db.obj):
        for row in list(model.select(model.id, field)):  # not a cursor held open across writes
            stored = getattr(row, field.name)
            if stored and v.needs_rotation(stored):
                with db.atomic():
                    model.update({field: v.decrypt(stored)}).where(model.id == row.id).execute()
                count += 1
    return count
