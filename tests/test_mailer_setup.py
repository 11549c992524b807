"""An instance without a system mailer says so: a warning when a process starts, a banner for
its operators with what to set and how many notices wait, and `flask mail test ADDRESS` to try
one once it is set — success, or what went wrong in words."""

import os
import subprocess
import sys
from pathlib import Path

from models import events
from models.health import record_failure
from tests import factories
from tests.sandbox_fixtures import free_ports
from tests.smtp_relay import QUIET, use_relay
from tests.test_state_machine import REVOKED

ROOT = Path(__file__).resolve().parent.parent
WARNING = "No system mailer is configured"


# --- the banner ----------------------------------------------------------------------------------

def _banner(client) -> str:
    page = client.get("/sequences").get_data(as_text=True)
    start = page.find('id="mailer-banner"')
    return "" if start < 0 else page[start:page.find("</div>", start)]


def test_the_operator_sees_the_banner_with_what_to_set_and_what_waits(accounts, client, app,
                                                                      monkeypatch):
    use_relay(app, monkeypatch, None)
    accounts.sign_up()  # the instance's first owner: its operator while none is named
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    banner = _banner(client)
    assert "No system mailer is configured" in banner and "TETHER_MAIL_SMTP_HOST" in banner
    assert "1 notice email is waiting" in banner
    assert "flask --app app mail test" in banner


def test_a_member_sees_no_banner(accounts, client, app, monkeypatch):
    from tests.test_team import _invite, _join

    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    _, link = _invite(client, email="mia@acme.test", role="member")
    mia, _ = _join(app, link)
    assert _banner(client) and _banner(mia) == ""


def test_named_operators_see_it_and_the_first_owner_then_does_not(accounts, client, app,
                                                                  monkeypatch):
    from tests.test_team import _invite, _join

    use_relay(app, monkeypatch, None, OPERATOR_EMAILS="mia@acme.test")
    accounts.sign_up()
    _, link = _invite(client, email="mia@acme.test", role="member")
    mia, _ = _join(app, link)
    assert _banner(mia) and _banner(client) == ""


def test_no_banner_once_a_mailer_is_configured(accounts, client, app, monkeypatch, smtp_relay):
    use_relay(app, monkeypatch, smtp_relay())
    accounts.sign_up()
    assert _banner(client) == ""


# --- the warning at start ------------------------------------------------------------------------

def _start(code: str, **env) -> str:
    """Run `code` in a new process of this checkout, with the suite's database; its log."""
    clean = {k: v for k, v in os.environ.items() if k != "TETHER_MAIL_SMTP_HOST"}
    clean.update({"PYTHONPATH": str(ROOT), "TETHER_SANDBOX_CONFIG": "", **env})
    done = subprocess.run([sys.executable, "-c", "import logging, sys\n"
                           "logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n" + code],
                          cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_web_and_the_worker_warn_once_each_at_start(app):
    web = _start("from app import create_app\ncreate_app()\ncreate_app()\n"
                 "import tasks\ntasks.start()")
    assert web.count(WARNING) == 1
    assert web.splitlines()[0].startswith("WARNING:mail.system_mailer:")
    assert "TETHER_MAIL_SMTP_HOST" in web and "flask --app app mail test" in web
    worker = _start("import tasks.worker")
    assert worker.count(WARNING) == 1


def test_no_warning_with_a_mailer_or_in_the_demo(app, tmp_path):
    configured = _start("from app import create_app\ncreate_app()",
                        TETHER_MAIL_SMTP_HOST="smtp.example.com")
    # The demo: the sandbox, started beside Tether by `make run`, writes its file moments later.
    demo = _start("import tasks.worker", TETHER_SANDBOX_CONFIG=str(tmp_path / "sandbox.json"))
    assert WARNING not in configured and WARNING not in demo


# --- flask mail test -----------------------------------------------------------------------------

def _mail_test(app, address="kim@acme.test"):
    result = app.test_cli_runner().invoke(args=["mail", "test", address])
    return result.exit_code, result.output.strip()


def test_mail_test_sends_through_the_mailer_and_says_so(app, monkeypatch, smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    code, said = _mail_test(app)
    assert (code, said) == (0, f"Sent a test email to kim@acme.test through 127.0.0.1:{relay.port} (none).")
    ((recipients, message),) = relay.messages
    assert recipients == ["kim@acme.test"] and message["Subject"] == "Tether test email"
    assert message["From"] == "Tether <tether@acme.test>"


def test_mail_test_without_a_mailer_says_what_to_set(app, monkeypatch):
    use_relay(app, monkeypatch, None)
    code, said = _mail_test(app)
    assert code == 1 and said.startswith("No system mailer is configured: set TETHER_MAIL_SMTP_HOST")


def test_mail_test_names_a_refused_connection(app, monkeypatch):
    use_relay(app, monkeypatch, None, MAIL_SMTP_HOST="127.0.0.1", MAIL_SMTP_PORT=free_ports(1)[0])
    code, said = _mail_test(app)
    assert code == 1 and said.startswith("Not sent. Refused:") and "refused the connection" in said


def test_mail_test_names_an_unknown_host(app, monkeypatch):
    use_relay(app, monkeypatch, None, MAIL_SMTP_HOST="mail.invalid")
    code, said = _mail_test(app)
    assert code == 1 and said.startswith("Not sent. Unreachable:") and "(DNS)" in said


@QUIET
def test_mail_test_names_a_refused_sign_in(app, monkeypatch, smtp_relay):
    relay = smtp_relay(username="tether", password="right-password")
    use_relay(app, monkeypatch, relay, MAIL_SMTP_USERNAME="tether", MAIL_SMTP_PASSWORD="wrong-one")
    code, said = _mail_test(app)
    assert code == 1 and said.startswith("Not sent. Sign-in refused by 127.0.0.1")
    assert "SMTP 535" in said and "TETHER_MAIL_SMTP_PASSWORD" in said
    assert "wrong-one" not in said and relay.messages == []


def test_mail_test_names_a_relay_without_starttls(app, monkeypatch, smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay, MAIL_SMTP_SECURITY="starttls")
    code, said = _mail_test(app)
    assert code == 1 and said.startswith("Not sent. TLS:") and "STARTTLS" in said
    assert relay.messages == []


def test_mail_test_refuses_an_address_with_a_line_break(app, monkeypatch, smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    code, said = _mail_test(app, "kim@acme.test\nBcc: all@acme.test")
    assert code == 1 and "line breaks are not allowed" in said and relay.messages == []


def test_mail_test_names_a_relay_that_hangs_up(app, monkeypatch):
    """What an implicit-TLS port often does to a plain greeting: close the connection."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def hang_up():
        conn, _ = listener.accept()
        conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    use_relay(app, monkeypatch, None, MAIL_SMTP_HOST="127.0.0.1",
              MAIL_SMTP_PORT=listener.getsockname()[1])
    code, said = _mail_test(app)
    listener.close()
    assert code == 1 and said.startswith("Not sent. Unreachable:") and "SECURITY=ssl" in said
