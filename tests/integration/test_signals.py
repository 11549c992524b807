"""Push revocation signals end to end: the sandbox transmits, Tether (served on a free port)
receives, a real worker with a 1-hour check interval checks at once — and a bad SET changes
nothing. Issue #20."""

import threading
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

import clock
from models import signal_streams
from models.accounts import User
from models.check_history import CheckHour
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from models.sequences import BLOCKED, Sequence, create_sequence
from models.signals import SignalStream
from tests.integration.conftest import connect
from tests.integration.test_signup_emails import INBOX_PW, inbox
from tests.sandbox_fixtures import free_ports
from tests.signal_support import (  # noqa: F401
    after_the_connects_sending_pass,
    hourly_worker,
    register_stream,
    subject_mailbox,
)
from tests.support import wait_for
from views.signals import PATH

pytestmark = pytest.mark.sandbox

TOKENS_REVOKED = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked"


@pytest.fixture(scope="module")
def live_tether(app):
    """Tether's web app on a free port: the sandbox pushes to it as a provider would."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _register(app, tether_sandbox, live_tether, key):
    return register_stream(app, live_tether, key)


def _owner_inbox(accounts, tether_sandbox):
    accounts.sign_up()  # owner@acme.test, whose inbox is at the sandbox
    tether_sandbox.control.create_user("owner@acme.test", INBOX_PW, kind="other")


@pytest.mark.usefixtures("hourly_worker")
@pytest.mark.parametrize("kind,action", [("google", "remove_access"),
                                         ("google", "change_password"),
                                         ("microsoft", "disable_user")])
def test_a_revocation_at_the_provider_shows_within_seconds_with_one_email(
        app, accounts, client, tether_sandbox, live_tether, kind, action):
    _owner_inbox(accounts, tether_sandbox)
    _register(app, tether_sandbox, live_tether, f"{kind}-sandbox")
    tether_sandbox.control.create_user("alex@acme.test", "mailbox-pw-1", kind=kind)
    connected_at = clock.now()
    connect(client, f"{kind}-sandbox", "alex@acme.test")
    box = Mailbox.get(Mailbox.email == "alex@acme.test")
    assert box.status == CONNECTED
    assert box.openid_sub == tether_sandbox.control.user("alex@acme.test")["sub"]
    Mailbox.update(next_check_at=clock.now() + timedelta(hours=1)).where(
        Mailbox.id == box.id).execute()  # the scheduled check is an hour away
    owner = User.get(User.email == "owner@acme.test")
    sequence = create_sequence(owner.team_id, owner, name="Q4 outreach", mailbox=box)
    Sequence.update(paused=False).where(Sequence.id == sequence.id).execute()  # started: green
    after_the_connects_sending_pass(box.id, connected_at)

    control = tether_sandbox.control
    if action == "change_password":
        control.change_password("alex@acme.test", "a-new-password-2")
    else:
        getattr(control, action)("alex@acme.test")

    row = wait_for(lambda: (r := Mailbox.get_by_id(box.id)).status == RECONNECT_REQUIRED and r,
                   "the mailbox to need reconnecting", 15)
    assert row.next_check_at is None  # a dead token waits for the person, not for checks
    assert row.signal_checked_from is not None  # the signal's check found it
    assert Sequence.get_by_id(sequence.id).state == BLOCKED
    assert "Blocked: mailbox" in client.get("/sequences").get_data(as_text=True)  # orange
    mails = wait_for(lambda: inbox(tether_sandbox, "owner@acme.test", "alex@acme.test"),
                     "the notification email", 15)
    assert len(mails) == 1
    deliveries = control.signal_deliveries()
    assert [d["status"] for d in deliveries if d["user"]] == ["delivered"]
    # A retry of the same incident's signal, or a stale one, asks again and changes nothing.
    control.emit_signal("alex@acme.test", TOKENS_REVOKED, count=3)
    wait_for(lambda: sum(d["status"] == "delivered" for d in control.signal_deliveries()) >= 4,
             "the repeated signals", 10)
    assert len(inbox(tether_sandbox, "owner@acme.test", "alex@acme.test")) == 1
    assert SignalStream.get_by_id(f"{kind}-sandbox").last_signal_at is not None


@pytest.mark.usefixtures("hourly_worker")
def test_a_burst_of_500_signals_checks_each_mailbox_once(
        app, accounts, tether_sandbox, live_tether):
    accounts.sign_up()
    _register(app, tether_sandbox, live_tether, "google-sandbox")
    control = tether_sandbox.control
    boxes = [subject_mailbox(tether_sandbox, f"user{n}@burst.test") for n in range(50)]
    # The backlog of a transmitter that could not reach Tether for a moment: 10 signals about
    # each of 50 people, all issued before any arrives.
    control.signal_fault("delay", count=500, seconds=2)
    for box in boxes:
        control.emit_signal(box.email, TOKENS_REVOKED, count=10)

    def checks_per_mailbox():
        counts = {b.id: 0 for b in boxes}
        for hour in CheckHour.select():
            counts[hour.mailbox_id] += hour.passed + hour.transient + hour.refused
        return counts

    wait_for(lambda: sum(d["status"] == "delivered" for d in control.signal_deliveries()) >= 501,
             "every signal acknowledged", 60)
    wait_for(lambda: all(checks_per_mailbox().values()), "a check of every mailbox", 60)
    wait_for(lambda: not Mailbox.select().where(Mailbox.signal_pending_since.is_null(False)).exists(),
             "no signal check left queued", 30)
    assert set(checks_per_mailbox().values()) == {1}  # one forced check each, none lost
    # Nothing was revoked: a signal never flips a mailbox by itself.
    assert {m.status for m in Mailbox.select()} == {CONNECTED}


@pytest.mark.usefixtures("hourly_worker")
def test_the_receiver_down_while_the_transmitter_retries(app, accounts, tether_sandbox,
                                                        live_tether):
    """Tether is down when the signal is pushed; the transmitter retries with backoff and
    the signal gets through once Tether is back on its address."""
    accounts.sign_up()
    provider = _register(app, tether_sandbox, live_tether, "google-sandbox")
    control = tether_sandbox.control
    box = subject_mailbox(tether_sandbox)
    port = free_ports(1)[0]
    signal_streams.register(provider, f"http://127.0.0.1:{port}{PATH}", app.config)
    control.remove_access("alex@acme.test")
    wait_for(lambda: any(d["status"] == "retrying" for d in control.signal_deliveries()
                         if d["user"]), "a failed push being retried", 10)
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    server = make_server("127.0.0.1", port, app, threaded=True)  # Tether is back
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        wait_for(lambda: Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED,
                 "the mailbox to need reconnecting after the retry", 30)
    finally:
        server.shutdown()
