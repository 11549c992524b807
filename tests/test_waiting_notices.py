"""No system mailer yet: notice emails wait, and go out once each when a mailer is configured —
unless they became moot meanwhile. A real SMTP relay (aiosmtpd) stands at the other end."""

import os
import threading
from datetime import timedelta

import clock
from models import events, notices
from models.health import record_failure, transition
from models.mailboxes import CONNECTED
from models.notice_emails import EmailSent, WaitingEmail
from models.notifications import Notification
from tasks.notices import dispatch_and_remind, send_reminders
from tests import factories
from tests.smtp_relay import QUIET, use_relay
from tests.test_state_machine import BAD_SECRET, REVOKED


def _subjects(relay):
    return [(rcpt, message["Subject"]) for rcpt, message in relay.messages]


def test_a_notice_waits_for_a_mailer_then_goes_out_once(accounts, app, monkeypatch, smtp_relay):
    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    box = factories.mailbox()
    record_failure(box.id, REVOKED)
    events.dispatch()
    assert [n.kind for n in Notification.select()] == ["reconnect_required"]  # the bell rang
    assert [w.to_address for w in WaitingEmail.select()] == ["owner@acme.test"]
    assert notices.send_waiting().sent == 0 and WaitingEmail.select().count() == 1

    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)  # the operator set TETHER_MAIL_SMTP_HOST and restarted
    dispatch_and_remind.call_local()  # the once-a-minute pass
    dispatch_and_remind.call_local()
    assert _subjects(relay) == [(["owner@acme.test"], "Action needed: reconnect alex@acme.test to Tether")]
    body = relay.messages[0][1].get_body(("plain",)).get_content()
    assert body.startswith("Hi Owner,") and "Reconnect now: http" in body
    assert WaitingEmail.select().count() == 0
    assert EmailSent.select().count() == 1


def test_two_workers_sending_what_waited_send_each_email_once(accounts, app, monkeypatch,
                                                              smtp_relay):
    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    for n in range(4):
        record_failure(factories.mailbox(email=f"m{n}@acme.test").id, REVOKED)
    events.dispatch()
    assert WaitingEmail.select().count() == 4
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        notices.send_waiting()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    notices.send_waiting()
    assert sorted(m["Subject"] for _, m in relay.messages) == [
        f"Action needed: reconnect m{n}@acme.test to Tether" for n in range(4)]


def test_a_notice_that_became_moot_is_dropped_not_sent_late(accounts, app, monkeypatch,
                                                            smtp_relay):
    """Reconnected before any mailer existed: no "reconnect" email arrives days later, and no
    "reconnected" one either (its reader never heard it was broken). The bell kept both."""
    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    box = factories.mailbox()
    record_failure(box.id, REVOKED)
    events.dispatch()
    transition(box.id, CONNECTED, cause="Reconnected by Owner.")
    events.dispatch()
    assert [w.kind for w in WaitingEmail.select()] == ["reconnect_required"]
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    dropped = notices.send_waiting()
    assert (dropped.sent, dropped.dropped) == (0, 1)
    assert relay.messages == [] and WaitingEmail.select().count() == 0
    assert sorted(n.kind for n in Notification.select()) == ["reconnect_required", "recovered"]


def test_a_reminder_does_not_wait_beside_the_first_email_it_repeats(accounts, app, monkeypatch,
                                                                    smtp_relay):
    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(hours=25).total_seconds())
    assert send_reminders(timedelta(hours=24)) == 1  # the bell's reminder
    assert [w.kind for w in WaitingEmail.select()] == ["reconnect_required"]
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    notices.send_waiting()
    assert [m["Subject"] for _, m in relay.messages] == [
        "Action needed: reconnect alex@acme.test to Tether"]


def test_an_operator_alert_waits_and_is_dropped_once_the_problem_is_gone(accounts, app,
                                                                         monkeypatch, smtp_relay):
    use_relay(app, monkeypatch, None, OPERATOR_EMAILS="ops@host.test")
    accounts.sign_up()
    box = factories.mailbox()
    record_failure(box.id, BAD_SECRET)
    events.dispatch()
    assert [(w.kind, w.to_address) for w in WaitingEmail.select()] == [("operator", "ops@host.test")]
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    transition(box.id, CONNECTED, cause="The check passed.")  # the secret was put right
    notices.send_waiting()
    assert relay.messages == [] and WaitingEmail.select().count() == 0


def test_an_operator_alert_still_true_goes_out(accounts, app, monkeypatch, smtp_relay):
    use_relay(app, monkeypatch, None, OPERATOR_EMAILS="ops@host.test")
    accounts.sign_up()
    record_failure(factories.mailbox().id, BAD_SECRET)
    events.dispatch()
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    notices.send_waiting()
    assert [(rcpt, m["Subject"].startswith("[Tether operator]")) for rcpt, m in relay.messages] == [
        (["ops@host.test"], True)]


@QUIET
def test_a_mailer_that_refuses_keeps_them_waiting_for_the_next_pass(accounts, app, monkeypatch,
                                                                    smtp_relay):
    use_relay(app, monkeypatch, None)
    accounts.sign_up()
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    relay = smtp_relay(username="tether", password="right-password")
    use_relay(app, monkeypatch, relay, MAIL_SMTP_USERNAME="tether", MAIL_SMTP_PASSWORD="wrong")
    assert notices.send_waiting().failed is True
    assert relay.messages == [] and WaitingEmail.select().count() == 1
    monkeypatch.setitem(app.config, "MAIL_SMTP_PASSWORD", "right-password")
    assert notices.send_waiting().sent == 1 and len(relay.messages) == 1


def test_with_a_mailer_notices_go_at_once_and_nothing_waits(accounts, app, monkeypatch,
                                                            smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    accounts.sign_up()
    box = factories.mailbox()
    record_failure(box.id, REVOKED)
    events.dispatch()
    transition(box.id, CONNECTED, cause="Reconnected by Owner.")
    events.dispatch()
    assert [m["Subject"] for _, m in relay.messages] == [
        "Action needed: reconnect alex@acme.test to Tether", "alex@acme.test is reconnected to Tether"]
    assert WaitingEmail.select().count() == 0
