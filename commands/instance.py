"""`flask --app app instance …`: this instance's identity, and whether this database may send
(models/instance.py: a copied or restored database waits for the operator's word)."""

import click


def register(app) -> None:
    @app.cli.group("instance")
    def instance_group():
        """This instance's identity, and whether this database may send."""

    @instance_group.command("status")
    def status():
        """Say whether sending and checks run here, or why they are paused."""
        from models import instance

        row = instance.state()
        if row.paused_since is None:
            click.echo(f"Instance {row.instance_id}, live in {instance.describe(row.home)}: "
                       "sending and mailbox checks run.")
        else:
            since = f"{row.paused_since:%Y-%m-%d %H:%M} UTC"
            click.echo(f"Instance {row.instance_id}, last live in {instance.describe(row.home)}: "
                       f"sending and mailbox checks are paused since {since}. {row.paused_why}\n"
                       "Once this is the only live copy, run `flask --app app instance confirm`.")

    @instance_group.command("confirm")
    def confirm():
        """This database is now the only live copy: sending and checks resume here."""
        from models import instance

        if instance.state().paused_since is None:
            click.echo("Sending and mailbox checks already run here: nothing to confirm.")
            return
        row = instance.confirm()
        from tasks.checks import sweep
        from tasks.sending import sweep_outbox_now

        sweep()  # the worker finds what waited now, not at its next minute
        sweep_outbox_now()
        click.echo(f"Confirmed: this database is live in {instance.describe(row.home)}. "
                   "Sending and mailbox checks resume as soon as the worker runs.")
