"""The plumbing every feature relies on: one clock, migrations, a real worker."""

import os
from datetime import datetime, timedelta

import clock
from models.base import MIGRATIONS_DIR, db, migration_status


def _move_clock(days):
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(days=days).total_seconds())


def _close_to(iso, expected, slack=timedelta(seconds=30)):
    return abs(datetime.fromisoformat(iso) - expected) < slack


def test_the_clock_moves_for_a_web_request_and_a_worker_task_alike(client, worker):
    from tasks.system import worker_status

    _move_clock(3)
    expected = datetime.utcnow() + timedelta(days=3)
    assert _close_to(client.get("/healthz").json["now"], expected)
    seen_by_worker = worker_status().get(blocking=True, timeout=20)
    assert _close_to(seen_by_worker["now"], expected)


def test_a_task_runs_in_a_real_consumer_and_reads_the_database(accounts, worker):
    from tasks.system import worker_status

    accounts.sign_up()
    result = worker_status().get(blocking=True, timeout=20)
    assert result["teams"] == 1


def test_migrations_apply_in_order_and_roll_back_cleanly(app):
    from playhouse.migrations import Runner

    status = migration_status()
    assert status and all(m.applied for m in status)
    runner = Runner(db.obj, str(MIGRATIONS_DIR))
    with db.connection_context():
        reverted = []
        while any(m.applied for m in runner.status()):
            reverted += runner.down()
        assert "user" not in db.get_tables()
        applied = runner.up()
    assert applied == list(reversed(reverted))
    assert {"team", "user", "invite"} <= set(db.get_tables())


def test_db_upgrade_command_reports_an_up_to_date_database(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output


def test_production_refuses_to_start_without_secrets(monkeypatch):
    import pytest

    import config

    monkeypatch.setenv("TETHER_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load()
    monkeypatch.setenv("SECRET_KEY", "a-long-random-production-secret")
    monkeypatch.delenv("TETHER_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(config.ConfigError, match="TETHER_ENCRYPTION_KEYS"):
        config.load()
