"""`flask --app app rotate-keys`: stored secrets re-encrypted with the newest key, once every
running process holds it (README: Keys)."""

import click

SAFE_ORDER = (
    "The safe order: (1) add the new key second in TETHER_ENCRYPTION_KEYS (old,new) and restart "
    "every web and worker process; (2) make it first (new,old) and restart them all again; "
    "(3) run rotate-keys; (4) remove the old key and restart.")


def register(app) -> None:
    @app.cli.command("rotate-keys")
    @click.option("--yes", is_flag=True, help="Rotate although processes listed as lacking the "
                  "key reported running (you checked that none of them runs any more).")
    def rotate_keys(yes):
        """Re-encrypt every stored secret with the first key of TETHER_ENCRYPTION_KEYS."""
        from models import processes
        from models.crypto import rotate_all, vault

        first = vault().primary_id
        lacking = processes.lacking(first)
        if lacking and not yes:
            # Such a process could read no secret once it is re-encrypted: its mailboxes
            # would turn degraded and the operator be told a key is missing.
            raise click.ClickException(
                f"Not rotated: these processes run without the key {first}, so they could not "
                "read a secret re-encrypted with it:\n  "
                + "\n  ".join(row.describe() for row in lacking)
                + f"\nRestart them with {first} in TETHER_ENCRYPTION_KEYS first. (A process "
                "killed outright leaves its report behind: if none of these runs any more, add "
                f"--yes.)\n{SAFE_ORDER}\nNothing was changed.")
        click.echo(f"Re-encrypted {rotate_all()} secret(s).")
