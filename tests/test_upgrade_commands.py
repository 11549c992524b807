"""The operator's side of upgrading: `make upgrade` (install, copy, migrate), `flask db
downgrade` refusing what it cannot do, and web and worker refusing a database that a newer
Tether migrated — with the words that say what to do."""

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from models import base
from models.backups import before_upgrade
from models.base import NewerDatabase
from tests.scratch_database import insert_as_of_now, scratch_database, url_is_sqlite
from tests.test_upgrade import OLD, SECRET, _assert_intact, _fill_as_an_older_version

ROOT = Path(__file__).resolve().parent.parent
FUTURE = "0999_from_the_future"
REFUSAL = (f"this database was migrated by a newer Tether ({FUTURE}); "
           "run that version or restore a backup")


@pytest.fixture
def newer_database(app):
    """The suite's database as a newer Tether would leave it: one migration it applied that
    this checkout has no file for."""
    base.db.execute_sql(f"INSERT INTO schema_migration (name, applied) VALUES ({base.db.param}, "
                        f"{base.db.param})", (FUTURE, "2030-01-01 00:00:00"))
    yield
    base.db.execute_sql(f"DELETE FROM schema_migration WHERE name = {base.db.param}", (FUTURE,))


def test_the_web_app_refuses_a_database_a_newer_tether_migrated(newer_database):
    from app import create_app

    with pytest.raises(NewerDatabase) as refused:
        create_app({"TESTING": True})
    assert str(refused.value) == REFUSAL


def test_the_worker_refuses_a_database_a_newer_tether_migrated(newer_database):
    consumer = Path(sys.executable).with_name("huey_consumer")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(consumer), "tasks.worker.huey", "-k", "thread", "-w", "1", "-n"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Tether's worker refuses to start: {REFUSAL}" in done.stderr


def test_a_downgrade_cannot_undo_what_a_newer_tether_applied(newer_database, app):
    result = app.test_cli_runner().invoke(args=["db", "downgrade", OLD, "--yes"])
    assert result.exit_code == 1 and REFUSAL in result.output
    assert all(m.applied for m in base.migration_status())


def test_a_downgrade_to_an_unknown_name_says_so_and_changes_nothing(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "downgrade", "0099_nothing", "--yes"])
    assert result.exit_code == 1
    assert "there is no migration called '0099_nothing'" in result.output
    answered_no = runner.invoke(args=["db", "downgrade", OLD], input="n\n")
    assert answered_no.exit_code == 1 and "0011_replies" in answered_no.output  # what it would undo
    assert all(m.applied for m in base.migration_status())
    assert "Database is up to date." in runner.invoke(args=["db", "upgrade"]).output


def test_postgresql_gets_the_pg_dump_line_without_its_password():
    made = before_upgrade("postgresql://tether:s3cret-pw@db.internal:5433/tether_prod")
    assert made.path is None
    assert "pg_dump --format=custom --file=tether-" in made.message
    assert "--host=db.internal --port=5433 --username=tether tether_prod" in made.message
    assert "s3cret-pw" not in made.message


def _env(tmp_path, database: Path, keys: str) -> dict:
    """A shell's environment for this checkout's commands, on the scratch database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MAKEFLAGS")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=f"sqlite:///{database}",
               TETHER_INSTANCE_DIR=str(tmp_path / "instance"), TETHER_ENCRYPTION_KEYS=keys)
    return env


@pytest.mark.skipif(not url_is_sqlite(), reason="the copy beside the file is SQLite's")
def test_make_upgrade_copies_the_database_then_migrates(app, tmp_path):
    """The target itself, with the install step taken as done (`make -o`): it must not
    reinstall the suite's virtualenv."""
    with scratch_database(tmp_path, "tether"):
        base.migrate(target=OLD)
        rows = _fill_as_an_older_version()
    database = tmp_path / "tether.db"
    done = subprocess.run(["make", "-o", ".venv/bin/.installed", "upgrade"], cwd=ROOT,
                          env=_env(tmp_path, database, app.config["TETHER_ENCRYPTION_KEYS"]),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    copies = sorted(tmp_path.glob("tether.db.*.bak"))
    assert len(copies) == 1 and f"Copied the database to {copies[0]}" in done.stdout
    assert "Applied: 0011_replies" in done.stdout
    assert stat.S_IMODE(copies[0].stat().st_mode) == 0o600
    with sqlite3.connect(copies[0]) as copy:  # the copy is the database as it was
        applied = [n for (n,) in copy.execute("SELECT name FROM schema_migration ORDER BY name")]
        assert applied[-1] == OLD
        assert copy.execute("SELECT count(*) FROM outbox_email").fetchone() == (2,)
    with scratch_database(tmp_path, "tether"):
        assert all(m.applied for m in base.migration_status())
        _assert_intact(rows)
    again = subprocess.run(["make", "-o", ".venv/bin/.installed", "upgrade"], cwd=ROOT,
                           env=_env(tmp_path, database, app.config["TETHER_ENCRYPTION_KEYS"]),
                           capture_output=True, text=True, timeout=120)
    assert "Database is up to date." in again.stdout
    assert len(list(tmp_path.glob("tether.db.*.bak"))) == 1  # nothing to apply, no copy


@pytest.mark.parametrize("stamp_is_older", [True, False])
def test_make_upgrade_installs_again_when_pyproject_changed(tmp_path, stamp_is_older):
    """What `git pull` brings in pyproject.toml (a new dependency) is installed by `make
    upgrade` before anything imports it: the venv's stamp is older than the pulled file."""
    stamp = tmp_path / "venv" / "bin" / ".installed"
    stamp.parent.mkdir(parents=True)
    stamp.touch()
    pulled = (ROOT / "pyproject.toml").stat().st_mtime
    when = pulled - 60 if stamp_is_older else pulled + 60
    os.utime(stamp, (when, when))
    # Under `make test` this is a make inside make: without the outer one's variables and
    # with --no-print-directory it prints only its own plan.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    plan = subprocess.run(["make", "--no-print-directory", "-n", "upgrade",
                           f"VENV={tmp_path / 'venv'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[-1].endswith("flask --app app db upgrade --backup")
    installs = any("pip install -q -e '.[test]'" in line for line in lines)
    assert installs == stamp_is_older


def test_a_mailbox_secret_written_before_the_upgrade_reads_after_it(app, tmp_path):
    """The encrypted columns are untouched by every migration: written at 0010 with the
    suite's key, the secret reads back after the upgrade (the older rows' own check)."""
    from models.mailboxes import Mailbox

    with scratch_database(tmp_path, "secret"):
        base.migrate(target=OLD)
        rows = _fill_as_an_older_version()
        second = insert_as_of_now(Mailbox, team=rows["team"], email="sam@acme.test",
                                  provider="microsoft-sandbox", access_token="at-" + SECRET)
        base.migrate()
        assert Mailbox.get_by_id(second).access_token.reveal() == "at-" + SECRET
