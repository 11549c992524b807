"""`flask --app app mail test ADDRESS`: try the system mailer, as notices will use it."""

import sys

import click


def register(app) -> None:
    @app.cli.group("mail")
    def mail_group():
        """Tether's own mailer (TETHER_MAIL_SMTP_*)."""

    @mail_group.command("test")
    @click.argument("address")
    def mail_test(address):
        """Send a test email to ADDRESS through the configured system mailer."""
        from mail import system_mailer

        sent, words = system_mailer.send_test(address)
        click.echo(words, err=not sent)
        if not sent:
            sys.exit(1)
