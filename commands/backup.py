"""`flask --app app backup PATH` and `flask --app app restore PATH`: the database, and the
encryption key ids it needs (README: Backup and restore). The work is in models/backups.py."""

from pathlib import Path

import click

import clock
import config

NOT_CHANGED = "Nothing was changed."


def register(app) -> None:
    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    def backup(path):
        """Back up the database to PATH while Tether runs (SQLite), with PATH.keys.json beside
        it naming the encryption keys it needs. PostgreSQL: explains pg_dump, writes the same
        manifest."""
        from models import backups, instance
        from models.base import db

        try:
            if _is_sqlite():
                taken = backups.take(path)
                click.echo(f"Backed up the database to {taken.path} (readable by this account "
                           f"only), taken at {taken.taken_at:%Y-%m-%d %H:%M:%S} UTC.")
                key_ids = taken.key_ids
            else:
                instance.state()  # a database that never named itself does so now
                key_ids = backups.write_manifest(path, db.obj, clock.now(), "postgresql")
                click.echo("PostgreSQL is backed up by its own tool, consistently while Tether "
                           "runs:\n\n  " + backups.pg_dump_line(config.current()["DATABASE_URL"],
                                                                str(path))
                           + "\n\n(the password from PGPASSWORD or ~/.pgpass).")
        except backups.Refused as e:
            raise click.ClickException(f"No backup was made: {e}") from None
        click.echo(_keys_line(backups.manifest_path(path), key_ids))

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Restore although processes reported running "
                  "against this database (you checked that none of them runs any more).")
    def restore(path, force):
        """Replace the configured SQLite database with the backup PATH. Tether must be
        stopped; the restored copy sends nothing until `flask --app app instance confirm`."""
        if not _is_sqlite():
            raise click.ClickException(POSTGRES_RESTORE)
        from models import backups
        from models.base import db
        from models.crypto import vault

        problems = backups.check_backup(path, vault())
        if problems:
            keys = ("Set TETHER_ENCRYPTION_KEYS (in development, without it: copy the original's "
                    "instance/encryption_keys) and run restore again. "
                    if "encryption key" in problems[0] else "")
            raise click.ClickException(f"Not restored: {' '.join(problems)} {keys}{NOT_CHANGED}")
        running = _running()
        if running and not force:
            raise click.ClickException(
                "Not restored: Tether seems to be running against this database:\n  "
                + "\n  ".join(running) + "\nStop the web app and the worker first. (A process "
                "killed outright leaves its report behind: if none of these runs any more, add "
                f"--force.) {NOT_CHANGED}")
        try:
            done = backups.restore(path, Path(db.obj.database))
        except backups.Refused as e:
            raise click.ClickException(f"Not restored: {e}") from None
        click.echo(_restored_words(path, done))


def _is_sqlite() -> bool:
    return config.current()["DATABASE_URL"].startswith("sqlite")


def _keys_line(manifest: Path, key_ids: dict) -> str:
    if not key_ids:
        return f"Wrote {manifest}: this backup holds no encrypted secret, so it needs no key."
    return (f"Wrote {manifest}: restoring this backup needs the encryption key(s) "
            f"{', '.join(key_ids)} of TETHER_ENCRYPTION_KEYS. The keys are not in the backup: "
            "keep a copy of them somewhere else than the backup (a password manager, say).")


def _running() -> list[str]:
    from peewee import DatabaseError

    from models import processes

    try:
        return [row.describe() for row in processes.others()]
    except DatabaseError:  # a database not made yet: nothing runs against it
        return []


def _restored_words(path: Path, done) -> str:
    lines = [f"Restored {path} into {done.target}."]
    if done.kept:
        lines.append(f"The database it replaced is kept at {done.kept}.")
    if done.migrated:
        lines.append(f"The backup lacked {len(done.migrated)} migration(s) of this version: "
                     "applied to the restored database.")
    lines.append(
        "Sending and mailbox checks are paused in the restored database: start Tether, look "
        "it over, and once it is the only live copy (the original stopped for good) run "
        "`flask --app app instance confirm`. Emails the original sent after the backup was "
        "taken are queued again here and would go out once more: look at the sequences first.")
    return "\n".join(lines)


POSTGRES_RESTORE = (
    "restore is for SQLite. PostgreSQL restores with its own tool, into a new, empty "
    "database:\n\n  createdb tether_restored\n  pg_restore --no-owner "
    "--dbname=tether_restored BACKUP\n\nthen point DATABASE_URL at it, set "
    "TETHER_ENCRYPTION_KEYS with the key ids BACKUP.keys.json names, start Tether (it starts "
    "with sending paused: a new database is another place) and, once it is the only live "
    "copy, run `flask --app app instance confirm`.")
