"""`flask --app app db …`: the schema's migrations, a copy before upgrading, and going back."""

import click
from flask.cli import AppGroup

group = AppGroup("db", help="Schema migrations.")


@group.command("upgrade")
@click.option("--backup", is_flag=True,
              help="Copy the database first when there is anything to apply (SQLite), "
                   "or print the pg_dump line (PostgreSQL). `make upgrade` passes it.")
def db_upgrade(backup):
    """Apply pending migrations, each in its own transaction."""
    from models.base import migrate, migration_status

    rows = migration_status()
    if all(m.applied for m in rows):
        click.echo("Database is up to date.")
        return
    if backup and any(m.applied for m in rows):
        _backup()
    elif backup:
        click.echo("A new database: nothing to copy.")
    try:
        applied = migrate()
    except Exception as e:
        raise click.ClickException(_failed("upgrade", e)) from e
    click.echo("Applied: " + ", ".join(applied))


@group.command("downgrade")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_downgrade(name, yes):
    """Undo every applied migration after NAME (e.g. 0015_mailbox_warmup), newest first.

    Stop the web app and the worker first; afterwards check out the version of Tether
    whose newest migration is NAME. What the undone migrations added (tables, columns,
    and the data in them) is dropped."""
    from models.base import MigrationError, downgrade, to_downgrade

    try:
        undo = to_downgrade(name)
    except MigrationError as e:
        raise click.ClickException(str(e)) from e
    if not undo:
        click.echo(f"Nothing to undo: no migration after {name} is applied.")
        return
    click.echo("To undo, newest first: " + ", ".join(undo))
    if not yes:
        click.confirm("Their tables and columns, and the data in them, will be dropped. "
                      "Go on?", abort=True)
    try:
        undone = downgrade(name)
    except Exception as e:
        raise click.ClickException(_failed("downgrade", e)) from e
    click.echo("Undone: " + ", ".join(undone))


@group.command("status")
def db_status():
    """List migrations and whether each is applied."""
    from models.base import migration_status

    for m in migration_status():
        unknown = "  (not in this version: applied by a newer Tether)" if m.path is None else ""
        click.echo(f"{'applied' if m.applied else 'pending'}  {m.name}{unknown}")


def register(app) -> None:
    app.cli.add_command(group)


def _backup() -> None:
    import config
    from models.backups import before_upgrade

    click.echo(before_upgrade(config.current()["DATABASE_URL"]).message)


def _failed(direction: str, error: Exception) -> str:
    """Which migration failed, and where that left the database: each migration runs in its
    own transaction, so the failed one changed nothing and the ones before it stay done."""
    from models.base import migration_status

    rows = migration_status()
    applied = [m.name for m in rows if m.applied]
    at = applied[-1] if applied else "no migration"
    return (f"the {direction} stopped: {type(error).__name__}: {error}. The migration that "
            f"failed was rolled back; the database is now at {at}. Fix the cause and run it "
            "again, or restore the copy made before the upgrade (README: Upgrading).")
