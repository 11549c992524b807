"""`flask --app app rotate-keys`: stored secrets re-encrypted with the newest key."""

import click


def register(app) -> None:
    @app.cli.command("rotate-keys")
    def rotate_keys():
        """Re-encrypt every stored secret with the first key of TETHER_ENCRYPTION_KEYS."""
        from models.crypto import rotate_all

        click.echo(f"Re-encrypted {rotate_all()} secret(s).")
