"""Alerts out (issue #20): a team's chat (Apprise) and signed webhook destinations get each
event once per incident, from a real worker; retries, pausing, refused URLs and receivers that
misbehave. The receivers are real HTTP servers on loopback, let through by
TETHER_ALLOW_LOOPBACK_ALERT_HOSTS (off by default: loopback is "this machine")."""

import json
import os
import re
import time
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

import clock
from mail import webhook
from models import alert_delivery, events
from models.accounts import User
from models.alerts import FAILED, PENDING, SENT, SKIPPED, AlertDelivery, AlertDestination
from models.health import record_failure, transition
from models.mailboxes import CONNECTED, Mailbox
from models.notifications import Notification
from models.sender_lease import OutboxSender
from models.sequences import create_sequence
from tests import factories
from tests.integration.conftest import sandbox_mailbox, tether_sandbox  # noqa: F401
from tests.support import Accounts, post_form, wait_for
from tests.test_state_machine import OUTAGE, REVOKED

ALL_EVENTS = ["mailbox.reconnect_required", "mailbox.degraded", "mailbox.recovered",
              "mailbox.expiring_soon", "sequence.blocked", "sequence.unblocked",
              "outbox.outcome_unknown"]


def add_webhook(client, url, events=ALL_EVENTS):
    """Add a webhook on the Alerts page; its signing secret, read from the answer."""
    response = post_form(client, "/settings/alerts/webhooks", {"url": url, "events": events},
                         page="/settings/alerts")
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.search(r'value="(whsec_[^"]+)"', response.get_data(as_text=True)).group(1)


def add_chat(client, url, events=ALL_EVENTS):
    return post_form(client, "/settings/alerts/chat", {"url": url, "events": events},
                     page="/settings/alerts")


@pytest.mark.sandbox
def test_a_webhook_and_a_json_chat_get_one_signed_event_per_incident(
        loopback_allowed, receiver, accounts, client, tether_sandbox, worker):  # noqa: F811
    """The mailbox holds real tokens at the sandbox: the recovery wakes its sender, whose pass
    must sign in and find nothing to do. With made-up tokens that pass failed (degraded:
    provider not configured, or a new incident once an earlier test had configured the
    sandbox) and a third alert raced the count of two."""
    from tasks.notices import dispatch_events

    accounts.sign_up()
    hook, chat_hook = receiver(), receiver()
    secret = add_webhook(client, hook.url)
    assert add_chat(client, chat_hook.url.replace("http://", "json://")).status_code == 302
    stored = AlertDestination.get(AlertDestination.kind == "webhook")
    assert secret not in str(stored.secret) and hook.url not in str(stored.url)  # encrypted
    box = sandbox_mailbox(tether_sandbox)
    tokens = (box.access_token, box.refresh_token)

    record_failure(box.id, REVOKED)
    record_failure(box.id, REVOKED)  # the same incident, seen again
    dispatch_events()
    dispatch_events()  # a second dispatch tells no one twice
    wait_for(lambda: hook.received() and chat_hook.received(), "both destinations got the alert")
    time.sleep(0.5)  # anything doubled would have arrived by now
    assert len(hook.received()) == 1 and len(chat_hook.received()) == 1

    headers, body = hook.received()[0]
    payload = Webhook(secret).verify(body, headers)  # raises unless signed with the secret
    assert payload["type"] == "mailbox.reconnect_required"
    assert payload["data"]["mailbox"]["email"] == "alex@acme.test"
    assert payload["data"]["cause"] == "The connection token expired or was revoked."
    assert payload["data"]["reconnect_url"].startswith("http://127.0.0.1:5000/reconnect/")
    assert not any(token in body for token in tokens) and "whsec_" not in body
    assert headers["webhook-id"].startswith("msg_")

    chat_body = json.loads(chat_hook.received()[0][1])
    assert chat_body["title"] == "alex@acme.test needs reconnecting"
    assert "expired or was revoked" in chat_body["message"]

    # The recovery is an occasion of its own: one more each.
    recovered_at = clock.now()
    transition(box.id, "connected", cause="Reconnected by Owner.")
    dispatch_events()
    wait_for(lambda: len(hook.received()) == 2 and len(chat_hook.received()) == 2,
             "the recovery reached both")
    assert json.loads(hook.received()[1][1])["type"] == "mailbox.recovered"
    # The sending pass the recovery woke signed in and was not stopped: no other occasion.
    sender = wait_for(lambda: (row := OutboxSender.get_or_none(OutboxSender.mailbox == box.id))
                      and not row.lease_owner and row.lease_until >= recovered_at and row,
                      "the sending pass the recovery woke")
    assert sender.pause_until is None and Mailbox.get_by_id(box.id).status == CONNECTED
    wait_for(lambda: AlertDelivery.select().where(AlertDelivery.status == SENT).count() == 4,
             "the worker logged all four as delivered")
    assert len(hook.received()) == 2 and len(chat_hook.received()) == 2
    page = client.get("/settings/alerts").get_data(as_text=True)
    assert page.count("Delivered") == 4


def test_an_apprise_url_with_a_typo_is_refused_and_nothing_is_saved(accounts, client):
    accounts.sign_up()
    response = add_chat(client, "slakc://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#alerts")
    assert response.status_code == 422
    assert "check the service name “slakc://”" in response.get_data(as_text=True)
    assert AlertDestination.select().count() == 0


def test_urls_that_reach_this_machine_or_metadata_are_refused_when_saved(accounts, client):
    accounts.sign_up()
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data",
                "ftp://example.com/hook", "http://user:pw@example.com/hook"):
        response = post_form(client, "/settings/alerts/webhooks",
                             {"url": url, "events": ALL_EVENTS}, page="/settings/alerts")
        assert response.status_code == 422, url
    assert "this machine&#39;s own address" in add_chat(
        client, "json://127.0.0.1:8080/hook").get_data(as_text=True)
    assert AlertDestination.select().count() == 0


def test_a_failing_receiver_is_retried_with_backoff_then_delivered(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    hook = receiver(answer=500)
    secret = add_webhook(client, hook.url, events=["mailbox.reconnect_required"])
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    assert alert_delivery.send_due() == 0
    row = AlertDelivery.get()
    assert (row.status, row.attempts, row.last_error) == (PENDING, 1, "The receiver answered HTTP 500.")
    assert alert_delivery.send_due() == 0 and len(hook.received()) == 1  # not due yet

    hook.answer = 204
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 31)  # the first retry waits 30 s
    assert alert_delivery.send_due() == 1
    row = AlertDelivery.get()
    assert (row.status, row.attempts, row.last_error) == (SENT, 2, "")
    first, second = hook.received()
    assert first[0]["webhook-id"] == second[0]["webhook-id"]  # one message, retried
    assert Webhook(secret).verify(second[1], second[0])["type"] == "mailbox.reconnect_required"


def test_retries_back_off_to_an_hour_and_give_up_after_a_day():
    waits = [alert_delivery.backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [30, 60, 120, 240] and max(waits) == 3600


def test_twenty_failures_in_a_row_pause_the_destination_and_tell_the_admins(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    hook = receiver(answer=500)
    add_webhook(client, hook.url)
    destination = AlertDestination.get()
    for n in range(alert_delivery.PAUSE_AFTER):
        alert_delivery.enqueue(destination, "mailbox.degraded", f"k{n}", "t", {})
    alert_delivery.send_due()
    destination = AlertDestination.get()
    assert destination.paused_at is not None and destination.failures_in_row == 20
    note = Notification.get()
    assert (note.kind, note.user.email) == ("alert_paused", "owner@acme.test")
    assert "Alerts to Webhook paused" in note.title

    # While paused nothing is posted; a new alert is logged as not sent.
    later = alert_delivery.enqueue(destination, "mailbox.degraded", "later", "t", {})
    assert later.status == SKIPPED and alert_delivery.due() == []
    page = client.get("/settings/alerts").get_data(as_text=True)
    assert "Paused after 20 failures in a row" in page

    hook.answer = 204
    assert post_form(client, f"/settings/alerts/{destination.id}/resume",
                     page="/settings/alerts").status_code == 302
    assert alert_delivery.send_due() == 20  # the ones still within their day go now
    assert AlertDestination.get().failures_in_row == 0


def test_a_redirect_is_not_followed_to_metadata_or_anywhere(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    elsewhere = receiver()
    for target in ("http://169.254.169.254/latest/meta-data/", elsewhere.url):
        hook = receiver(answer="redirect", location=target)
        AlertDestination.delete().execute()
        add_webhook(client, hook.url)
        post_form(client, f"/settings/alerts/{AlertDestination.get().id}/test",
                  page="/settings/alerts")
        alert_delivery.send_due()
        row = AlertDelivery.select().order_by(AlertDelivery.id.desc()).get()
        assert row.status == FAILED  # a test alert is tried once
        assert "Tether does not follow redirects" in row.last_error
        assert len(hook.received()) == 1
    # An Apprise json:// destination does not follow one either.
    hook = receiver(answer="redirect", location=elsewhere.url)
    assert add_chat(client, hook.url.replace("http://", "json://")).status_code == 302
    alert_delivery.send_test(AlertDestination.get(AlertDestination.kind == "chat"))
    alert_delivery.send_due()
    assert len(hook.received()) == 1
    assert elsewhere.received() == []


def test_a_hanging_receiver_times_out_and_frees_the_worker(
        loopback_allowed, receiver, accounts, client, monkeypatch):
    accounts.sign_up()
    hook = receiver(answer="hang")
    add_webhook(client, hook.url)
    monkeypatch.setattr(webhook, "TIMEOUT", 0.5)
    alert_delivery.send_test(AlertDestination.get())
    started = time.monotonic()
    alert_delivery.send_due()
    assert time.monotonic() - started < 5
    assert AlertDelivery.get().last_error == "The receiver did not answer within 0.5 seconds."


def test_send_test_reaches_the_destination_and_its_log(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    hook = receiver()
    secret = add_webhook(client, hook.url)
    response = post_form(client, f"/settings/alerts/{AlertDestination.get().id}/test",
                         page="/settings/alerts")
    assert response.status_code == 302
    alert_delivery.send_due()
    headers, body = hook.received()[0]
    assert Webhook(secret).verify(body, headers)["type"] == "test"
    assert "Delivered" in client.get("/settings/alerts").get_data(as_text=True)


def test_another_teams_destination_is_a_404_and_members_cannot_manage_alerts(
        loopback_allowed, receiver, accounts, client, app):
    from tests.test_team import _invite, _join

    accounts.sign_up()
    add_webhook(client, receiver().url)
    destination = AlertDestination.get()
    rival = app.test_client()
    Accounts(rival).sign_up(email="boss@rival.test", team_name="Rival")
    for action in ("test", "resume", "delete"):
        assert post_form(rival, f"/settings/alerts/{destination.id}/{action}",
                         page="/settings/alerts").status_code == 404
    _, link = _invite(client, email="mia@acme.test", role="member")
    member, _ = _join(app, link)
    assert member.get("/settings/alerts").status_code == 403
    assert AlertDestination.select().count() == 1


def test_a_sequence_blocked_by_its_mailbox_is_one_alert_per_sequence_and_unblocked_after(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    hook = receiver()
    add_webhook(client, hook.url, events=["sequence.blocked", "sequence.unblocked"])
    owner = User.get()
    box = factories.mailbox()
    for name in ("Q3 outreach", "Partners"):
        create_sequence(owner.team_id, owner, name=name, mailbox=box)
    record_failure(box.id, REVOKED)
    events.dispatch()
    events.dispatch()
    transition(box.id, "connected", cause="Reconnected by Owner.")
    events.dispatch()
    alert_delivery.send_due()
    got = sorted((json.loads(body)["type"], json.loads(body)["data"]["sequence"]["name"])
                 for _, body in hook.received())
    assert got == [("sequence.blocked", "Partners"), ("sequence.blocked", "Q3 outreach"),
                   ("sequence.unblocked", "Partners"), ("sequence.unblocked", "Q3 outreach")]


def test_an_expiring_connection_is_told_once_per_deadline(
        loopback_allowed, receiver, accounts, client):
    from tasks.alerts import find_expiring

    accounts.sign_up()
    hook = receiver()
    add_webhook(client, hook.url, events=["mailbox.expiring_soon"])
    factories.mailbox(provider="microsoft-sandbox", email="sam@acme.test",
                      refreshed_at=clock.now() - timedelta(days=85))
    assert find_expiring() == 1
    assert find_expiring() == 0
    alert_delivery.send_due()
    (_, body), = hook.received()
    data = json.loads(body)["data"]
    assert data["mailbox"]["email"] == "sam@acme.test" and "90 days" in data["cause"]
    assert data["reconnect_url"]


def test_an_email_whose_outcome_is_unknown_is_told_once(
        loopback_allowed, receiver, accounts, client):
    from models import outbox
    from tests.test_outbox import MONDAY_10, running, set_now

    accounts.sign_up()
    hook = receiver()
    add_webhook(client, hook.url, events=["outbox.outcome_unknown"])
    owner = User.get()
    set_now(MONDAY_10)
    box = factories.mailbox(daily_limit=50)
    running(owner, box)
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "dead", clock.now())
    outbox.begin_transmit(row, "dead", box.id, "Hi Ada", clock.now())  # …then the worker died
    set_now(clock.now() + outbox.LEASE + timedelta(seconds=1))
    (orphan,) = outbox.adopt_orphans(box.id, "me", clock.now())
    assert outbox.settle(orphan, "me", found=False, provider_files_sent=False,
                         now=clock.now()) == outbox.UNKNOWN
    alert_delivery.send_due()
    (_, body), = hook.received()
    payload = json.loads(body)
    assert payload["type"] == "outbox.outcome_unknown"
    assert payload["data"]["recipient"] == "ada@client.test"
    assert payload["data"]["sequence"]["name"] == "Outreach"
    assert "Send again" in payload["data"]["cause"]


def test_a_degraded_mailbox_is_an_alert_of_its_own_and_asks_no_one_to_reconnect(
        loopback_allowed, receiver, accounts, client):
    accounts.sign_up()
    hook = receiver()
    add_webhook(client, hook.url)
    record_failure(factories.mailbox().id, OUTAGE)
    events.dispatch()
    alert_delivery.send_due()
    (_, body), = hook.received()
    payload = json.loads(body)
    assert payload["type"] == "mailbox.degraded"
    assert payload["data"]["cause"] == "The provider is temporarily unavailable."
    assert "reconnect_url" not in payload["data"]


def test_an_apprise_urls_token_reaches_no_log_page_or_delivery_log(
        loopback_allowed, receiver, accounts, client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    accounts.sign_up()
    hook = receiver(answer=500)
    token = "SuperSecretToken0123456789"
    assert add_chat(client, f"json://alerts:{token}@127.0.0.1:{hook.port}/hooks").status_code == 302
    alert_delivery.send_test(AlertDestination.get())
    alert_delivery.send_due()
    row = AlertDelivery.get()
    assert row.status == FAILED and row.last_error.startswith("JSON did not accept the message")
    assert hook.received()  # it was tried, with the token (Basic auth) on the wire
    page = client.get("/settings/alerts").get_data(as_text=True)
    assert token not in caplog.text and token not in page and token not in row.last_error
