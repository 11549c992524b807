"""`flask --app app signals register PROVIDER`: point the provider's push revocation signals
(Google RISC / OpenID Shared Signals) at this Tether; `signals status` shows each stream."""

import sys

import click


def register(app) -> None:
    @app.cli.group("signals")
    def signals_group():
        """Push revocation signals from the providers (README: "Push detection")."""

    @signals_group.command("register")
    @click.argument("provider")
    @click.option("--endpoint", default="",
                  help="the push URL the provider calls (default: BASE_URL + /signals/push)")
    def register_stream(provider, endpoint):
        """Create or update PROVIDER's stream (a provider key: google, google-sandbox…)."""
        import config
        from mail import providers
        from models.signal_streams import RegistrationError, register
        from models.signals import PUSH_PATH

        settings = config.current()
        found = providers.current().get(provider)
        if found is None:
            keys = ", ".join(providers.current().all()) or "none"
            click.echo(f"No provider {provider!r} is configured (configured: {keys}).", err=True)
            sys.exit(1)
        url = endpoint or settings["BASE_URL"].rstrip("/") + PUSH_PATH
        try:
            register(found, url, settings)
        except RegistrationError as e:
            click.echo(f"{found.label}: {e}", err=True)
            sys.exit(1)
        click.echo(f"{found.label} pushes revocation signals to {url} (a verification event "
                   "is on its way).")

    @signals_group.command("status")
    def status():
        """Each provider's stream: where it pushes, verified, the last signal."""
        from models.signals import stream_status

        streams = stream_status()
        if not streams:
            click.echo("No provider pushes signals yet: run `signals register PROVIDER`.")
        for key, s in sorted(streams.items()):
            click.echo(f"{key}: {s.endpoint_url or '-'} registered {s.registered_at or '-'} "
                       f"verified {s.verified_at or '-'} last signal {s.last_signal_at or '-'} "
                       f"{s.last_event}")
