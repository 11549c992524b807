"""/healthz says the process is alive; /readyz says whether Tether can do its job, and when
not, which part is missing, in words an operator can act on — and 200 again once it is back."""

import os
import socket

import pytest
from cryptography.fernet import Fernet
from huey import RedisHuey
from peewee import PostgresqlDatabase, SqliteDatabase

import clock
import tasks
from models import crypto, readiness
from models.base import db
from tests import factories


@pytest.fixture
def mailer(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")


@pytest.fixture
def ready(client, mailer):
    """An instance that is ready: a worker swept just now, a mailer configured."""
    readiness.beat("sweep")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    return client


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _failing(response, check: str) -> str:
    """The reason /readyz gives for `check`, having answered 503 with only it failing."""
    assert response.status_code == 503, response.json
    checks = response.json["checks"]
    assert [name for name, c in checks.items() if not c["ok"]] == [check], checks
    return checks[check]["reason"]


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["ok"] is True


def test_ready_once_migrated_with_a_worker_and_a_mailer(ready):
    checks = ready.get("/readyz").json["checks"]
    assert set(checks) == {"database", "migrations", "queue", "worker", "mailer", "secrets"}


def test_no_worker_yet_and_no_mailer_are_named(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "")
    monkeypatch.setitem(app.config, "SANDBOX_CONFIG", "")
    response = client.get("/readyz")
    checks = response.json["checks"]
    assert response.status_code == 503
    assert "no worker has run its periodic sweep" in checks["worker"]["reason"]
    assert "no system mailer is configured" in checks["mailer"]["reason"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"] and checks["queue"]["ok"]


def test_a_mailer_not_configured_is_named_and_ready_again_once_it_is(ready, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "")
    monkeypatch.setitem(app.config, "SANDBOX_CONFIG", "")
    assert "TETHER_MAIL_SMTP_HOST" in _failing(ready.get("/readyz"), "mailer")
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")
    assert ready.get("/readyz").status_code == 200


def test_a_worker_whose_sweep_stopped_is_named_and_ready_again_when_it_runs(ready):
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 4 * 60)
    assert "sweep last ran at" in _failing(ready.get("/readyz"), "worker")
    readiness.beat("sweep")
    assert ready.get("/readyz").status_code == 200


def test_a_migration_not_applied_is_named_with_the_command_that_applies_it(ready):
    newest = db.execute_sql("SELECT name FROM schema_migration ORDER BY name DESC LIMIT 1").fetchone()[0]
    db.execute_sql(f"DELETE FROM schema_migration WHERE name = '{newest}'")
    try:
        reason = _failing(ready.get("/readyz"), "migrations")
        assert newest in reason and "flask --app app db upgrade" in reason
    finally:
        db.execute_sql("INSERT INTO schema_migration (name, applied) VALUES "
                       f"('{newest}', CURRENT_TIMESTAMP)")
    assert ready.get("/readyz").status_code == 200


def _unreachable(database):
    """A database of the same kind that cannot be opened: PostgreSQL on a port where nothing
    listens, a SQLite file in a folder that does not exist."""
    if isinstance(database, PostgresqlDatabase):
        return PostgresqlDatabase(database.database, host="127.0.0.1", port=_closed_port(),
                                  user="postgres", connect_timeout=3)
    assert isinstance(database, SqliteDatabase)
    return SqliteDatabase("/nonexistent-tether-folder/tether.db")


def test_a_database_that_cannot_be_reached_is_named_and_ready_again_when_it_answers(ready):
    working = db.obj
    db.initialize(_unreachable(working))
    try:
        response = ready.get("/readyz")
    finally:
        db.initialize(working)
    checks = response.json["checks"]
    assert response.status_code == 503
    assert "the database cannot be reached" in checks["database"]["reason"]
    assert checks["worker"]["reason"] == checks["secrets"]["reason"] == readiness.NOT_CHECKED
    assert checks["queue"]["ok"] and checks["mailer"]["ok"]  # what does not need it still answers
    assert ready.get("/readyz").status_code == 200


def test_a_queue_that_cannot_be_reached_is_named_and_ready_again_when_it_answers(ready, monkeypatch):
    port = _closed_port()
    with monkeypatch.context() as redis_down:
        redis_down.setattr(tasks, "huey", RedisHuey("tether", url=f"redis://127.0.0.1:{port}/0"))
        reason = _failing(ready.get("/readyz"), "queue")
    assert "the task queue cannot be reached" in reason and str(port) in reason
    assert ready.get("/readyz").status_code == 200


def test_secrets_written_with_a_key_this_process_lacks_are_named_for_the_operator(ready, accounts, app):
    """A mailbox secret encrypted with k1, and a configuration that has only k2 (k1 removed
    before `rotate-keys` ran): the operator is told which key, before any check meets it."""
    accounts.sign_up()
    k1, k2 = (f"{name}:{Fernet.generate_key().decode()}" for name in ("k1", "k2"))
    previous = crypto.vault()
    try:
        crypto.use_vault(crypto.Vault.from_config(k1))
        factories.mailbox(email="a@acme.test")  # an access and a refresh token: one mailbox
        factories.mailbox(email="b@acme.test", provider="other", access_token=None,
                          refresh_token=None, password="pw-1")
        crypto.use_vault(crypto.Vault.from_config(k2))
        reason = _failing(ready.get("/readyz"), "secrets")
        assert reason.startswith("2 mailbox secret(s) cannot be decrypted: encryption key k1 "
                                 "is missing")
        crypto.use_vault(crypto.Vault.from_config(f"{k2},{k1}"))  # the key put back
        assert ready.get("/readyz").status_code == 200
    finally:
        crypto.use_vault(previous)
