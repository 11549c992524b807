"""/healthz says the process is alive; /readyz says whether Tether can do its job, and when
not, which part is missing, in words an operator can act on."""

import os

import pytest

import clock
from models import readiness
from models.base import db


@pytest.fixture
def mailer(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "smtp.example.com")


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["ok"] is True


def test_ready_once_migrated_with_a_worker_and_a_mailer(client, mailer):
    readiness.beat("sweep")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert set(response.json["checks"]) == {"database", "migrations", "queue", "worker", "mailer"}


def test_no_worker_yet_and_no_mailer_are_named(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "")
    monkeypatch.setitem(app.config, "SANDBOX_CONFIG", "")
    response = client.get("/readyz")
    checks = response.json["checks"]
    assert response.status_code == 503
    assert "no worker has run its periodic sweep" in checks["worker"]["reason"]
    assert "no system mailer is configured" in checks["mailer"]["reason"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"] and checks["queue"]["ok"]


def test_a_worker_whose_sweep_stopped_is_named_and_ready_again_when_it_runs(client, mailer):
    readiness.beat("sweep")
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 4 * 60)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "sweep last ran at" in response.json["checks"]["worker"]["reason"]
    readiness.beat("sweep")
    assert client.get("/readyz").status_code == 200


def test_a_migration_not_applied_is_named_with_the_command_that_applies_it(client, mailer):
    readiness.beat("sweep")
    newest = db.execute_sql("SELECT name FROM schema_migration ORDER BY name DESC LIMIT 1").fetchone()[0]
    db.execute_sql(f"DELETE FROM schema_migration WHERE name = '{newest}'")
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        reason = response.json["checks"]["migrations"]["reason"]
        assert newest in reason and "flask --app app db upgrade" in reason
    finally:
        db.execute_sql("INSERT INTO schema_migration (name, applied) VALUES "
                       f"('{newest}', CURRENT_TIMESTAMP)")
