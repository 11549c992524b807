"""Backups and restores of a SQLite database, and the manifest that says which encryption keys
a backup needs (the keys themselves are never in it: a stolen backup must stay unreadable).

A backup is taken online, while the web app and the worker run: SQLite's backup API copies one
consistent snapshot, committed WAL frames included, and writers carry on meanwhile (WAL). The
copy is made paused (models/instance.py) and forgets the processes that were running: whatever
it is restored into sends nothing until an operator confirms it is the only live copy.
"""

import json
import os
import secrets
import shlex
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from peewee import DatabaseError, SqliteDatabase
from playhouse.db_url import parse
from playhouse.migrations import Runner

import clock
from models import crypto, instance, processes
from models.base import MIGRATIONS_DIR, db


class Refused(Exception):
    """A backup or restore that was not made, with the reason in words; nothing changed."""


@dataclass
class Taken:
    path: Path
    manifest: Path
    key_ids: dict[str, list[str]]
    taken_at: datetime
    notes: list[str] = field(default_factory=list)


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".keys.json")


def _private_new(path: Path):
    """A new file only this account can read, created so (never chmod-ed after the fact);
    Refused when something is there already: a backup never overwrites."""
    try:
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w")
    except FileExistsError:
        raise Refused(f"{path} exists already: choose another name (a backup never "
                      "overwrites a file).") from None
    except OSError as e:
        raise Refused(f"{path} cannot be written: {e.strerror}.") from None


def write_manifest(path: Path, database, taken_at: datetime, kind: str) -> dict[str, list[str]]:
    """Beside the backup: which key ids its secrets need, and where they are used."""
    key_ids = {k: sorted(v) for k, v in sorted(crypto.key_ids_in_use(database).items())}
    row = database.execute(instance.Instance.select(instance.Instance.instance_id)).fetchone()
    body = {"tether_backup": 1, "database": kind, "taken_at": taken_at.isoformat() + "Z",
            "instance_id": row[0] if row else None, "key_ids": key_ids,
            "keys": "not included: restoring needs TETHER_ENCRYPTION_KEYS with these key ids, "
                    "copied from the original server's configuration"}
    with _private_new(manifest_path(path)) as fh:
        json.dump(body, fh, indent=2)
        fh.write("\n")
    return key_ids


def _copy(source: str, target: Path) -> None:
    """SQLite's backup API, `source` into the new, 0600 file `target`, made one self-contained
    file (no -wal beside it) and checked."""
    _private_new(target).close()
    src, dst = sqlite3.connect(source, timeout=30), sqlite3.connect(str(target))
    try:
        src.backup(dst)  # one step: one read snapshot of the source, WAL content included
        dst.execute("PRAGMA journal_mode=DELETE")
        problem = dst.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise Refused(f"the copy does not pass SQLite's check: {problem}")
    finally:
        src.close()
        dst.close()


def _as_a_copy(path: Path, why: str) -> None:
    """A copy is paused and runs no process yet."""
    copy = SqliteDatabase(str(path))
    try:
        with copy.atomic():
            instance.pause(why, database=copy)
            copy.execute(processes.ProcessReport.delete())
    finally:
        copy.close()


def take(path: Path) -> Taken:
    """Back up the bound SQLite database to `path` (0600) and its manifest beside it."""
    if path.exists() or manifest_path(path).exists():
        raise Refused(f"{path if path.exists() else manifest_path(path)} exists already: "
                      "choose another name (a backup never overwrites a file).")
    instance.state()  # a database that never named itself does so now, so its copy carries it
    taken_at = clock.now()
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        _copy(db.obj.database, partial)
        _as_a_copy(partial, f"It was restored from a backup taken at {taken_at:%Y-%m-%d %H:%M} UTC.")
        os.link(partial, path)  # appears whole, and never over a file that appeared meanwhile
    except FileExistsError:
        raise Refused(f"{path} appeared while the backup was taken: choose another name.") from None
    finally:
        partial.unlink(missing_ok=True)
    copy = SqliteDatabase(str(path))
    try:
        key_ids = write_manifest(path, copy, taken_at, "sqlite")
    finally:
        copy.close()
    return Taken(path, manifest_path(path), key_ids, taken_at)


# ---- restore ----------------------------------------------------------------------------------

def check_backup(path: Path, vault) -> list[str]:
    """Why `path` cannot be restored here, in words ([] when it can): not a Tether backup, a
    newer schema than this code knows, or secrets the configured keys do not open."""
    if not path.is_file():
        return [f"{path} is not a file."]
    backup = SqliteDatabase(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        tables = set(backup.get_tables())
        if not {"schema_migration", "mailbox"} <= tables:
            return [f"{path} is not a Tether backup (made by `flask --app app backup`)."]
        unknown = [m.name for m in Runner(backup, str(MIGRATIONS_DIR)).status() if m.path is None]
        if unknown:
            return [f"{path} comes from a newer Tether (migration {unknown[0]} is unknown "
                    "here): upgrade this checkout first."]
        return list(crypto.unreadable_keys(backup, vault).values())
    except (sqlite3.DatabaseError, DatabaseError) as e:
        return [f"{path} cannot be read as a database: {e}."]
    finally:
        backup.close()


@dataclass
class Restored:
    target: Path
    kept: Path | None    # the database it replaced, kept aside
    migrated: list[str]  # migrations the backup lacked, applied to the restored copy


def restore(path: Path, target: Path) -> Restored:
    """Put the backup `path` in place of the database file `target` (checked beforehand with
    check_backup, nothing running), its schema brought up to this code's. The database it
    replaces is kept aside, whole."""
    db.close()  # this process lets go of the file it is about to replace
    partial = target.with_name(f".{target.name}.{os.getpid()}.restoring")
    try:
        _copy(str(path), partial)
        # Migrated here rather than left to `db upgrade`: a backup older than the instance
        # table could not otherwise be made paused, and would claim to be the live copy.
        migrated = _migrate(partial)
        # A backup made by `backup` is paused already, and keeps the reason it was given.
        _as_a_copy(partial, f"It was restored from the backup {path.name} at "
                            f"{clock.now():%Y-%m-%d %H:%M} UTC.")
        kept = _set_aside(target)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Restored(target, kept, migrated)


def _migrate(path: Path) -> list[str]:
    copy = SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
    try:
        applied = Runner(copy, str(MIGRATIONS_DIR)).up()
        if copy.execute(instance.Instance.select()).fetchone() is None:  # older than the table
            copy.execute(instance.Instance.insert(key=instance.ONE, home="backup:",
                                                  instance_id=secrets.token_hex(8)))
        return applied
    finally:
        copy.close()


def _set_aside(target: Path) -> Path | None:
    """Move the current database out of the way, its WAL folded in first (so the file set
    aside is whole on its own): `tether.db.before-restore-YYYYmmdd-HHMMSS`. An empty one (the
    file this very command made on a fresh server) is simply removed."""
    if not target.exists():
        return None
    current = sqlite3.connect(str(target), timeout=30)
    try:
        empty = current.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None
        busy = current.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            raise Refused(f"{target} is in use (its log could not be folded in): stop the web "
                          "app and the worker first. Nothing was changed.")
        current.execute("PRAGMA journal_mode=DELETE")  # and its -wal and -shm files removed
    finally:
        current.close()
    kept = None
    if empty:
        target.unlink()
    else:
        kept = target.with_name(f"{target.name}.before-restore-{clock.now():%Y%m%d-%H%M%S}")
        os.rename(target, kept)
    for leftover in ("-wal", "-shm", "-journal"):
        Path(str(target) + leftover).unlink(missing_ok=True)
    return kept


# ---- before an upgrade ------------------------------------------------------------------------

@dataclass(frozen=True)
class UpgradeCopy:
    path: Path | None  # the copy made, or None when none was (PostgreSQL)
    message: str


def before_upgrade(url: str) -> UpgradeCopy:
    """`make upgrade`'s safety net for the database `url` names: SQLite, a copy beside the
    file (`tether.db.<stamp>.bak`) by the same online backup as take() — but only the copy:
    the database is still at its older schema, which may predate the tables take() records
    in; `restore` migrates such a copy and starts it paused. PostgreSQL, the pg_dump line to
    run, since that dump belongs to the operator's own routine."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    if not url.startswith("sqlite"):
        return UpgradeCopy(None, "PostgreSQL: no copy made here. Back it up first, e.g.:\n  "
                           + pg_dump_line(url, f"tether-{stamp}.dump"))
    source = Path(parse(url).get("database") or "")
    if source.name in ("", ":memory:") or not source.is_file():
        return UpgradeCopy(None, f"No SQLite database file at {source}: nothing to copy.")
    copy, n = source.with_name(f"{source.name}.{stamp}.bak"), 1
    while copy.exists():  # two upgrades in one second: never overwrite an earlier copy
        n += 1
        copy = source.with_name(f"{source.name}.{stamp}-{n}.bak")
    _copy(str(source), copy)
    return UpgradeCopy(copy, f"Copied the database to {copy} (`flask --app app restore {copy}` "
                             "undoes this upgrade).")


def pg_dump_line(url: str, file: str) -> str:
    """The pg_dump command for `url`, without its password (pg_dump asks for it, or reads
    PGPASSWORD / ~/.pgpass): the line is printed, and printed lines end up in logs."""
    parts = parse(url)
    words = ["pg_dump", "--format=custom", f"--file={file}"]
    for option in ("host", "port", "user"):
        if parts.get(option):
            words.append(f"--{'username' if option == 'user' else option}={parts[option]}")
    words.append(parts.get("database") or "tether")
    return " ".join(shlex.quote(str(w)) for w in words)
