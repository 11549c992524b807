"""Encryption keys: Tether refuses to start without a key the database still needs, and
rotation re-encrypts every encrypted column it can find, without a list kept by hand."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from peewee import SqliteDatabase

from config import ConfigError
from models import crypto
from models.base import db
from models.oauth_attempts import OAuthAttempt
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
MISSING = "encryption key k1 is in use in the database but missing from TETHER_ENCRYPTION_KEYS"


def _new_key(key_id="k2"):
    return f"{key_id}:{Fernet.generate_key().decode()}"


@pytest.fixture
def keep_vault():
    """Tests here swap the process's keys; the next test gets the suite's keys back."""
    previous = crypto.vault()
    yield
    crypto.use_vault(previous)


def _an_oauth_attempt(user):
    return OAuthAttempt.create(state_digest="s" * 64, session_digest="b" * 64, user=user.id,
                               team=user.team_id, provider="google-sandbox",
                               code_verifier="verifier-" + "v" * 40, nonce="n")


def test_the_web_app_refuses_to_start_when_a_key_in_use_is_missing(accounts, app, keep_vault):
    from app import create_app

    accounts.sign_up()
    factories.mailbox(password="hunter2-password")  # written with the suite's key, k1
    with pytest.raises(ConfigError, match=MISSING) as refused:
        create_app({"TETHER_ENCRYPTION_KEYS": _new_key()})
    assert "mailbox.access_token" in str(refused.value) and "rotate-keys" in str(refused.value)
    # With the old key kept behind a new first key it starts, and reads what is stored.
    create_app({"TETHER_ENCRYPTION_KEYS": _new_key() + "," + app.config["TETHER_ENCRYPTION_KEYS"]})


def test_the_worker_refuses_to_start_when_a_key_in_use_is_missing(accounts, app):
    accounts.sign_up()
    factories.mailbox()
    consumer = Path(sys.executable).with_name("huey_consumer")
    # PYTHONPATH: this checkout's tasks package, whatever the virtualenv was installed from.
    env = {**os.environ, "TETHER_ENCRYPTION_KEYS": _new_key(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([str(consumer), "tasks.worker.huey", "-k", "thread", "-w", "1", "-n"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output, _ = proc.communicate(timeout=30)  # it exits by itself, at once
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the worker started with a key missing")
    assert proc.returncode != 0
    assert MISSING in output.decode()


def test_a_database_not_yet_migrated_holds_no_key_to_miss(tmp_path):
    fresh = SqliteDatabase(str(tmp_path / "fresh.db"))
    assert crypto.key_ids_in_use(fresh) == {}
    fresh.execute_sql("CREATE TABLE mailbox (id INTEGER PRIMARY KEY, email TEXT)")  # half-built
    assert crypto.key_ids_in_use(fresh) == {}


def test_every_encrypted_column_is_found_without_a_list(app):
    found = {(model._meta.table_name, field.column_name) for model, field in crypto.encrypted_columns()}
    assert found >= {("mailbox", "access_token"), ("mailbox", "refresh_token"),
                     ("mailbox", "password"), ("oauth_attempt", "code_verifier")}


def test_rotation_re_encrypts_oauth_attempts_too(accounts, app, keep_vault):
    from models.accounts import User

    accounts.sign_up()
    factories.mailbox(password="hunter2-password")
    attempt = _an_oauth_attempt(User.get())
    keys = _new_key() + "," + app.config["TETHER_ENCRYPTION_KEYS"]
    crypto.use_vault(crypto.Vault.from_config(keys))
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0 and "Re-encrypted 4 secret(s)" in result.output
    raw = db.execute_sql("SELECT code_verifier FROM oauth_attempt WHERE id = "
                         f"{int(attempt.id)}").fetchone()[0]
    assert raw.startswith("k2:")
    assert crypto.key_ids_in_use(db.obj) == {"k2": {"mailbox.access_token", "mailbox.refresh_token",
                                                    "mailbox.password", "oauth_attempt.code_verifier"}}


def test_a_database_that_is_down_at_start_does_not_keep_tether_down(app, keep_vault):
    """Its restart should not become ours: with nothing readable now, nothing to check."""
    from peewee import PostgresqlDatabase

    previous = db.obj
    db.initialize(PostgresqlDatabase("tether", host="127.0.0.1", port=1, connect_timeout=2))
    try:
        assert crypto.open_vault(_new_key("k7")).primary_id == "k7"
    finally:
        db.initialize(previous)
