"""`flask --app app db …`: the schema's migrations."""

import click


def register(app) -> None:
    @app.cli.group("db")
    def db_group():
        """Schema migrations."""

    @db_group.command("upgrade")
    def db_upgrade():
        """Apply pending migrations."""
        from models.base import migrate

        applied = migrate()
        click.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")

    @db_group.command("status")
    def db_status():
        """List migrations and whether each is applied."""
        from models.base import migration_status

        for m in migration_status():
            click.echo(f"{'applied' if m.applied else 'pending'}  {m.name}")
