"""A real SMTP relay for the system mailer's tests (aiosmtpd): it accepts mail, writes down
every message it takes, and — when given a password — refuses any other sign-in."""

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.sandbox_fixtures import free_ports


class _Recorder:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


# Sign-in without TLS: on loopback, in a test, on purpose (aiosmtpd warns at each connection).
QUIET = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Relay:
    """A running relay on 127.0.0.1: `messages` is [(recipients, message)], in arrival order."""

    def __init__(self, username: str = "", password: str = ""):
        self.port = free_ports(1)[0]
        self._recorder = _Recorder()
        extra = {}
        if username:
            def check(server, session, envelope, mechanism, auth_data):
                ok = (isinstance(auth_data, LoginPassword) and auth_data.login == username.encode()
                      and auth_data.password == password.encode())
                return AuthResult(success=ok, handled=False)

            extra = {"authenticator": check, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port, **extra)
        self.controller.start()

    @property
    def messages(self):
        return list(self._recorder.messages)

    def stop(self):
        self.controller.stop()


@pytest.fixture
def smtp_relay():
    """Start relays with `smtp_relay(username=…, password=…)`; all stop after the test."""
    started = []

    def start(**kwargs) -> Relay:
        started.append(Relay(**kwargs))
        return started[-1]

    yield start
    for relay in started:
        relay.stop()


def use_relay(app, monkeypatch, relay: Relay | None, **settings) -> None:
    """Point Tether's system mailer at `relay` (None: no mailer at all, not even the sandbox's)."""
    monkeypatch.setitem(app.config, "SANDBOX_CONFIG", "")
    monkeypatch.setitem(app.config, "MAIL_SMTP_HOST", "127.0.0.1" if relay else "")
    monkeypatch.setitem(app.config, "MAIL_SMTP_PORT", relay.port if relay else 587)
    monkeypatch.setitem(app.config, "MAIL_SMTP_SECURITY", "none")
    monkeypatch.setitem(app.config, "MAIL_FROM", "Tether <tether@acme.test>")
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
