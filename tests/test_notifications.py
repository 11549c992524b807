"""The bell and the reconnect link, without a mail server (the sandbox tests cover email)."""

import os
import re
import time
from datetime import timedelta

import clock
from models import events, notices
from models.health import record_failure, transition
from models.notifications import Notification
from tasks.notices import send_reminders
from tests import factories
from tests.support import Accounts, post_form
from tests.test_state_machine import BAD_SECRET, REVOKED


def test_an_incident_rings_the_bell_once_and_recovery_follows(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    record_failure(box.id, REVOKED)
    events.dispatch()
    events.dispatch()
    notes = list(Notification.select())
    assert [n.kind for n in notes] == ["reconnect_required"]
    assert notes[0].title == "Reconnect alex@acme.test"
    page = client.get("/sequences").get_data(as_text=True)
    assert 'aria-label="Notifications: 1 unread"' in page
    transition(box.id, "connected", cause="Reconnected by Owner.")
    events.dispatch()
    assert sorted(n.kind for n in Notification.select()) == ["reconnect_required", "recovered"]


def test_notices_go_to_admins_when_the_connecting_person_left(accounts, client, app):
    from models.accounts import User
    from tests.test_team import _invite, _join

    accounts.sign_up()
    _, link = _invite(client, email="mia@acme.test", role="member")
    _join(app, link)
    box = factories.mailbox(owner_email="mia@acme.test", email="mia@acme.test")
    User.update(active=False).where(User.email == "mia@acme.test").execute()
    record_failure(box.id, REVOKED)
    events.dispatch()
    assert [n.user.email for n in Notification.select()] == ["owner@acme.test"]


def test_an_app_problem_alerts_admins_once_and_asks_no_one_to_reconnect(accounts):
    accounts.sign_up()
    for n in range(3):
        box = factories.mailbox(email=f"m{n}@acme.test")
        record_failure(box.id, BAD_SECRET)
    events.dispatch()
    notes = list(Notification.select())
    assert [n.kind for n in notes] == ["operator"]
    assert "credentials" in notes[0].title


def test_the_bell_rides_along_with_the_page_poll(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    page = client.get("/settings/email-accounts").get_data(as_text=True)
    version = re.search(r'data-live-version="(\d+)"', page).group(1)
    record_failure(box.id, REVOKED)
    events.dispatch()
    poll = client.get("/settings/email-accounts", headers={"HX-Request": "true"},
                      query_string={"since": version, "rendered_at": str(int(time.time()))})
    body = poll.get_data(as_text=True)
    assert 'id="bell" href="/notifications" hx-swap-oob="true"' in body
    assert 'data-unread="1"' in body


def test_mark_as_read_and_other_peoples_notifications_are_404(accounts, client, app):
    accounts.sign_up()
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    note = Notification.get()
    rival = app.test_client()
    Accounts(rival).sign_up(email="boss@rival.test", team_name="Rival")
    assert post_form(rival, f"/notifications/{note.id}/read", page="/notifications").status_code == 404
    assert Notification.get_by_id(note.id).read_at is None
    post_form(client, f"/notifications/{note.id}/read", page="/notifications")
    assert Notification.get_by_id(note.id).read_at is not None


def test_the_reconnect_link_needs_a_session_and_leads_to_the_confirmation(accounts, client, app):
    accounts.sign_up()
    box = factories.mailbox()
    path = notices.reconnect_link(box).split("127.0.0.1:5000", 1)[1]
    signed_out = app.test_client()
    first = signed_out.get(path)
    assert first.status_code == 302 and "/login" in first.location
    assert client.get(path).location.endswith(f"/settings/email-accounts/{box.id}/reconnect")
    tampered = client.get(path[:-4] + "AAAA")
    assert tampered.status_code == 404 and "not valid" in tampered.get_data(as_text=True)
    # Expired, but opened by a signed-in member: still the confirmation step.
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(days=8).total_seconds())
    expired = client.get(path)
    assert expired.location.endswith(f"/settings/email-accounts/{box.id}/reconnect")


def test_another_teams_link_is_not_valid_here(accounts, app):
    accounts.sign_up()
    box = factories.mailbox()
    rival = app.test_client()
    Accounts(rival).sign_up(email="boss@rival.test", team_name="Rival")
    path = notices.reconnect_link(box).split("127.0.0.1:5000", 1)[1]
    assert rival.get(path).status_code == 404


def test_one_reminder_after_a_day_then_silence(accounts):
    accounts.sign_up()
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    assert send_reminders(timedelta(hours=24)) == 0
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(hours=25).total_seconds())
    assert send_reminders(timedelta(hours=24)) == 1
    assert send_reminders(timedelta(hours=24)) == 0
    assert sorted(n.kind for n in Notification.select()) == ["reconnect_required", "reminder"]


def _second_team():
    from models.accounts import User

    return User.sign_up("boss@globex.test", "correct-horse-9", name="Boss", team_name="Globex")


def test_an_app_problem_in_two_teams_alerts_the_instance_operator_once(accounts):
    """A rejected client secret is the deployment's problem: the instance's operator (by default
    its first owner) hears of it once, not every team's admins."""
    accounts.sign_up()
    _second_team()
    for owner, address in (("owner@acme.test", "a@acme.test"), ("boss@globex.test", "b@globex.test")):
        record_failure(factories.mailbox(owner_email=owner, email=address).id, BAD_SECRET)
    events.dispatch()
    assert [(n.kind, n.user.email) for n in Notification.select()] == [("operator", "owner@acme.test")]


def test_named_operators_hear_of_app_problems_and_team_admins_do_not(accounts, app, monkeypatch):
    from models.mailboxes import Mailbox

    monkeypatch.setitem(app.config, "OPERATOR_EMAILS", "Ops@Host.test, boss@globex.test")
    accounts.sign_up()
    _second_team()
    box = factories.mailbox(email="a@acme.test")
    event = record_failure(box.id, BAD_SECRET)
    told = [person.email for person, _ in notices.for_event(event, Mailbox.get_by_id(box.id))]
    assert told == ["ops@host.test", "boss@globex.test"]
    events.dispatch()
    # ops@host.test has no account here (email only); boss@globex.test gets the bell too.
    assert [n.user.email for n in Notification.select()] == ["boss@globex.test"]


def test_smtp_auth_switched_off_at_microsoft_asks_the_admin_not_a_reconnect(accounts):
    from mail.failures import SMTP_AUTH_DISABLED_CAUSE, Failure, Kind
    from models.mailboxes import Mailbox

    accounts.sign_up()
    box = factories.mailbox(provider="microsoft-sandbox")
    event = record_failure(box.id, Failure(Kind.RECONNECT, "SMTP 535 5.7.139",
                                           SMTP_AUTH_DISABLED_CAUSE, "SMTP"))
    ((person, notice),) = notices.for_event(event, Mailbox.get_by_id(box.id))
    assert person.email == "owner@acme.test"
    assert notice.subject == "Action needed: an administrator must allow SMTP for alex@acme.test"
    assert "turn on Authenticated SMTP" in notice.text and "Reconnect now" not in notice.text
    assert Mailbox.get_by_id(box.id).status_where == "SMTP"  # so it is re-checked hourly
