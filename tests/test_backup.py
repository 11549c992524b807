"""`flask --app app backup` and `restore`: a private copy that names the keys it needs and
starts paused; a restore refused in words — wrong keys, Tether still running — changes
nothing. (The copy taken while checks run, restored and sending: tests/integration.)"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from peewee import SqliteDatabase

from models import instance
from models.instance import Instance
from models.processes import ProcessReport, _start_time
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
sqlite_only = pytest.mark.skipif(not os.environ["DATABASE_URL"].startswith("sqlite"),
                                 reason="the database file itself: SQLite")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _a_backup(app, accounts, path):
    accounts.sign_up()
    factories.mailbox(access_token="ya29.secret-token", refresh_token="1//secret-refresh")
    result = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    return result


def _restore(folder: Path, backup: Path, *extra, keys: str | None = None):
    """`flask --app app restore` on a server whose instance folder is `folder`."""
    env = {**os.environ, "TETHER_INSTANCE_DIR": str(folder), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{folder / 'tether.db'}",
           "HUEY_SQLITE_PATH": str(folder / "huey.db")}
    env.pop("TETHER_ENCRYPTION_KEYS", None)
    if keys is not None:
        env["TETHER_ENCRYPTION_KEYS"] = keys
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run([str(flask), "--app", "app", "restore", str(backup), *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def _dump(path: Path) -> list[str]:
    """The database's content as SQL (opening it may switch its journal mode: not content)."""
    import sqlite3

    connection = sqlite3.connect(str(path))
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def _tables(path: Path) -> list[str]:
    database = SqliteDatabase(str(path))
    try:
        return database.get_tables()
    finally:
        database.close()


@sqlite_only
def test_a_backup_is_private_names_its_keys_and_starts_paused(app, accounts, tmp_path):
    path = tmp_path / "tether-backup.db"
    result = _a_backup(app, accounts, path)

    assert "needs the encryption key(s) k1" in result.output
    assert _mode(path) == 0o600 and _mode(f"{path}.keys.json") == 0o600
    manifest = json.loads(Path(f"{path}.keys.json").read_text())
    assert manifest["key_ids"] == {"k1": ["mailbox.access_token", "mailbox.refresh_token"]}
    assert manifest["instance_id"] == Instance.get().instance_id
    key = app.config["TETHER_ENCRYPTION_KEYS"].split(":", 1)[1]
    assert key not in Path(f"{path}.keys.json").read_text() and key.encode() not in path.read_bytes()
    assert not Path(f"{path}-wal").exists()  # one self-contained file
    copy = SqliteDatabase(str(path))
    paused, why = copy.execute_sql("SELECT paused_since, paused_why FROM instance").fetchone()
    assert paused and why.startswith("It was restored from a backup taken at")
    assert copy.execute_sql("SELECT count(*) FROM process_report").fetchone()[0] == 0
    assert copy.execute_sql("SELECT count(*) FROM mailbox").fetchone()[0] == 1
    copy.close()
    assert instance.live()  # the original carries on

    again = app.test_cli_runner().invoke(args=["backup", str(path)])
    assert again.exit_code == 1 and "exists already" in again.output


@sqlite_only
def test_a_restore_with_the_wrong_keys_is_refused_and_changes_nothing(app, accounts, tmp_path):
    path = tmp_path / "tether-backup.db"
    _a_backup(app, accounts, path)
    server = tmp_path / "new-server"

    # A fresh server makes its own k1: another key under the same id.
    other_k1 = _restore(server, path)
    assert other_k1.returncode == 1
    assert ("encryption key k1 is not the one the secrets were written with (the k1 configured "
            "here is another key): copy k1 from the original server's TETHER_ENCRYPTION_KEYS"
            in other_k1.stderr)
    assert "Nothing was changed." in other_k1.stderr and _tables(server / "tether.db") == []

    no_k1 = _restore(server, path, keys=f"k2:{Fernet.generate_key().decode()}")
    assert no_k1.returncode == 1
    assert ("encryption key k1 is missing: copy the key from the original server's "
            "TETHER_ENCRYPTION_KEYS" in no_k1.stderr)
    assert _tables(server / "tether.db") == []

    not_a_backup = _restore(server, Path(f"{path}.keys.json"), keys=app.config["TETHER_ENCRYPTION_KEYS"])
    assert not_a_backup.returncode == 1 and "cannot be read as a database" in not_a_backup.stderr


@sqlite_only
def test_a_restore_is_refused_while_tether_runs_against_the_database(app, accounts, tmp_path):
    path = tmp_path / "tether-backup.db"
    _a_backup(app, accounts, path)
    server, keys = tmp_path / "new-server", app.config["TETHER_ENCRYPTION_KEYS"]
    first = _restore(server, path, keys=keys)
    assert first.returncode == 0, first.stderr
    assert "paused" in first.stdout and "flask --app app instance confirm" in first.stdout
    # A process of this machine that runs against the restored database (this one will do).
    restored = SqliteDatabase(str(server / "tether.db"))
    restored.execute(ProcessReport.insert(process="here", host=os.uname().nodename, pid=os.getpid(),
                                          started=_start_time(os.getpid()), program="gunicorn",
                                          key_ids="k1"))
    restored.close()
    before = _dump(server / "tether.db")

    refused = _restore(server, path, keys=keys)
    assert refused.returncode == 1
    assert "Tether seems to be running against this database" in refused.stderr
    assert f"gunicorn (pid {os.getpid()} on" in refused.stderr and "--force" in refused.stderr
    assert _dump(server / "tether.db") == before

    forced = _restore(server, path, "--force", keys=keys)
    assert forced.returncode == 0, forced.stderr
    kept = list(server.glob("tether.db.before-restore-*"))
    assert len(kept) == 1 and _mode(kept[0]) == 0o600 and _mode(server / "tether.db") == 0o600


@pytest.mark.skipif(os.environ["DATABASE_URL"].startswith("sqlite"), reason="PostgreSQL's pg_dump")
def test_on_postgresql_backup_explains_pg_dump_and_still_writes_the_manifest(app, accounts, tmp_path):
    path = tmp_path / "tether.dump"
    result = _a_backup(app, accounts, path)
    assert "pg_dump --format=custom --file=" in result.output and str(path) in result.output
    manifest = json.loads(Path(f"{path}.keys.json").read_text())
    assert manifest["database"] == "postgresql" and list(manifest["key_ids"]) == ["k1"]
    refused = app.test_cli_runner().invoke(args=["restore", str(path)])
    assert refused.exit_code == 1 and "pg_restore" in refused.output


def test_the_pg_dump_line_never_shows_the_database_password():
    from models.backups import pg_dump_line

    line = pg_dump_line("postgresql://tether:s3cret@db.internal:5432/tether", "/b/t.dump")
    assert "s3cret" not in line
    assert line.endswith("--host=db.internal --port=5432 --username=tether tether")
    assert pg_dump_line("postgresql://tether@db.internal/tether", "/b/t.dump") == \
        "pg_dump --format=custom --file=/b/t.dump --host=db.internal --username=tether tether"


@sqlite_only
def test_a_backup_older_than_the_instance_table_is_migrated_and_restored_paused(app, accounts, tmp_path):
    path = tmp_path / "made-by-sqlite3-dot-backup.db"
    _a_backup(app, accounts, path)
    older = SqliteDatabase(str(path))  # as a backup made before 0017, with sqlite3's .backup
    older.execute_sql("DROP TABLE instance")
    older.execute_sql("DROP TABLE process_report")
    older.execute_sql("DELETE FROM schema_migration WHERE name = '0017_instance'")
    older.close()
    server = tmp_path / "new-server"

    done = _restore(server, path, keys=app.config["TETHER_ENCRYPTION_KEYS"])

    assert done.returncode == 0, done.stderr
    assert "lacked 1 migration(s)" in done.stdout
    restored = SqliteDatabase(str(server / "tether.db"))
    paused, why = restored.execute_sql("SELECT paused_since, paused_why FROM instance").fetchone()
    restored.close()
    assert paused and why.startswith(f"It was restored from the backup {path.name}")
