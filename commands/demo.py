"""`flask --app app seed-demo`: the demo team, its login and its sandbox mailboxes."""

import click


def register(app) -> None:
    @app.cli.command("seed-demo")
    def seed_demo():
        """Create the demo team and login, and queue the demo mailboxes (idempotent).
        Refused in production: the demo's login is public."""
        from models.demo import NotInProduction, seed
        from tasks.demo import seed_demo_mailboxes

        try:
            email, password = seed()
        except NotInProduction as refusal:
            raise click.ClickException(str(refusal)) from refusal
        seed_demo_mailboxes()  # the worker connects them once the sandbox answers
        click.echo(f"Demo login: {email} / {password}")
