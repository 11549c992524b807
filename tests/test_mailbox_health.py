"""Mailbox health (issue #19): incidents, time to reconnect and outreach delayed computed from
the status history real transitions write; the page's rows, filters and who sees what; and
"Remind owner", once an hour, never for a mailbox that works."""

import os
import re
from datetime import timedelta

import clock
from mail.failures import Failure, Kind
from models import events, mailbox_health
from models.accounts import User, hash_password
from models.contacts import Contact
from models.health import record_failure, record_success, transition
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox
from models.outbox_email import QUEUED, SENT, OutboxEmail
from models.owner_reminders import OwnerReminder
from models.sequences import Enrollment, Sequence
from tests import factories
from tests.smtp_relay import use_relay
from tests.support import post_form

REFUSED = Failure(Kind.RECONNECT, "invalid_grant", "Token has been expired or revoked.",
                  "token endpoint")
OUTAGE = Failure(Kind.TRANSIENT, "IMAP UNAVAILABLE", "The mail server is busy.", "IMAP")
PAGE = "/mailbox-health"


def _hours_ago(hours: float) -> None:
    """Move the one clock to `hours` before now: what happens next happened then."""
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], -hours * 3600)


def _near(value, expected, slack=timedelta(seconds=30)) -> bool:
    return value is not None and abs(value - expected) < slack


def _email(sequence, mailbox, due_hours_ago, sent_hours_ago=None):
    """An email of `sequence` due then; sent from `mailbox` then, or still waiting."""
    n = Contact.select().count() + 1
    contact = Contact.create(team=sequence.team_id, email=f"c{n}@client.test")
    enrollment = Enrollment.create(sequence=sequence, contact=contact)
    now = clock.now()
    return OutboxEmail.create(
        enrollment=enrollment, sequence=sequence, contact=contact, position=0,
        status=SENT if sent_hours_ago is not None else QUEUED,
        due_at=now - timedelta(hours=due_hours_ago),
        mailbox=mailbox if sent_hours_ago is not None else None,
        sent_at=now - timedelta(hours=sent_hours_ago) if sent_hours_ago is not None else None)


def _history(accounts):
    """Two mailboxes with a month of real transitions (hours ago):
    alex — 480→477 reconnect needed (3 h); 48 degraded, 47.8 reconnect needed, 46 connected
    (2 h from the first failed check); 30→29 degraded and back by itself (no incident);
    10→9.5 reconnect needed (30 min). bo — reconnect needed 5 h ago, still open."""
    accounts.sign_up()
    _hours_ago(24 * 30)
    alex = factories.mailbox(email="alex@acme.test")
    bo = factories.mailbox(email="bo@acme.test")
    steps = [(480, alex, REFUSED), (477, alex, CONNECTED), (48, alex, OUTAGE),
             (47.8, alex, REFUSED), (46, alex, CONNECTED), (30, alex, OUTAGE),
             (29, alex, "passed"), (10, alex, REFUSED), (9.5, alex, CONNECTED), (5, bo, REFUSED)]
    for hours, mailbox, what in steps:
        _hours_ago(hours)
        if what == CONNECTED:  # a reconnect
            assert transition(mailbox.id, CONNECTED, cause="Reconnected.")
        elif what == "passed":
            assert record_success(mailbox.id)
        else:
            assert record_failure(mailbox.id, what)
        events.dispatch()  # what the worker does after each transition
    _hours_ago(0)
    return Mailbox.get_by_id(alex.id), Mailbox.get_by_id(bo.id)


def test_incident_statistics_come_from_the_check_history_with_an_open_one_counted_by_age(accounts):
    alex, bo = _history(accounts)
    assert bo.status == RECONNECT_REQUIRED and alex.status == CONNECTED
    sequence_a = Sequence.create(team=alex.team_id, name="A", mailbox=alex)
    sequence_b = Sequence.create(team=bo.team_id, name="B", mailbox=bo)
    _email(sequence_a, alex, due_hours_ago=47, sent_hours_ago=45.5)   # waited 1.5 h
    _email(sequence_a, alex, due_hours_ago=20, sent_hours_ago=20)     # no incident then
    _email(sequence_b, bo, due_hours_ago=4)                           # still waits: 4 h

    now = clock.now()
    measured = mailbox_health.measured([alex.id, bo.id], now)
    assert sorted((m.mailbox_id, m.still_open) for m in measured) == [
        (alex.id, False), (alex.id, False), (alex.id, False), (bo.id, True)]
    second = next(m for m in measured if abs(m.started_ago - 48 * 3600) < 60)  # the first failure
    assert abs(second.length - 2 * 3600) < 30

    week = mailbox_health.figures(measured, 7, 7 * 86400.0)
    assert (week.incidents, week.still_open) == (3, 1)
    assert _near(week.median, timedelta(hours=2)) and _near(week.worst, timedelta(hours=5))
    assert week.delayed == 2 and _near(week.longest_wait, timedelta(hours=4))
    assert _near(week.waited, timedelta(hours=5.5))

    month = mailbox_health.figures(measured, 30, 30 * 86400.0)
    assert month.incidents == 4
    assert _near(month.median, timedelta(hours=2.5)) and _near(month.worst, timedelta(hours=5))

    assert mailbox_health.settle() == 3  # alex's: over, and every email due meanwhile went
    assert mailbox_health.figures(mailbox_health.measured([alex.id, bo.id], now), 7,
                                  7 * 86400.0) == week  # read from the rows now, the same
    alone = mailbox_health.figures([m for m in measured if m.mailbox_id == alex.id], 7, 7 * 86400.0)
    assert alone.incidents == 2 and alone.still_open == 0 and alone.delayed == 1
    assert _near(alone.worst, timedelta(hours=2))
    days = mailbox_health.broken_per_day(measured, 7, now)
    expected = {day: set() for day, _ in days}
    for mailbox, start, end in ((alex, 48, 46), (alex, 10, 9.5), (bo, 5, 0)):
        for hours in (start, end):
            expected[(now - timedelta(hours=hours)).replace(hour=0, minute=0, second=0,
                                                            microsecond=0)].add(mailbox.id)
    assert days == [(day, len(boxes)) for day, boxes in expected.items()]


def test_the_page_shows_each_mailbox_and_the_teams_figures(accounts, client):
    alex, bo = _history(accounts)
    page = client.get(PAGE + "?days=7").get_data(as_text=True)
    rows = re.findall(r'data-mailbox-id="(\d+)" data-status="(\w+)"', page)
    assert rows == [(str(bo.id), RECONNECT_REQUIRED), (str(alex.id), CONNECTED)]  # worst first
    bo_row = page.split(f'data-mailbox-id="{bo.id}"')[1].split("</tr>")[0]
    assert "Reconnect required" in bo_row and "Token has been expired or revoked." in bo_row
    assert "for 5 h" in bo_row and "Owner" in bo_row and "Remind owner" in bo_row
    assert "3 (1 still open)" in page          # the team, last 7 days
    assert "median 2 h" in page and "worst 5 h" in page
    assert 'role="img"' in page and "<rect" in page  # the chart, drawn here
    assert "cdn" not in page.lower()


def test_a_period_with_no_data_says_so(accounts, client):
    accounts.sign_up()
    page = client.get(PAGE).get_data(as_text=True)
    assert page.count("No data for this period") == 3
    assert "No mailboxes connected yet." in page


def test_filters_narrow_the_list_and_bad_ones_are_refused_in_words(accounts, client):
    alex, bo = _history(accounts)
    page = client.get(PAGE + "?status=degraded").get_data(as_text=True)
    assert "No mailbox matches the filter." in page
    bad = client.get(PAGE + "?status=exploded&days=11")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "Choose a status from the list." in text and "Choose a period of 7, 30, 90 days." in text
    assert text.count("data-mailbox-id=") == 2  # everything shown instead


def _member(email="mo@acme.test", team_id=None):
    owner = User.get(User.email == "owner@acme.test")
    return User.create(email=email, name="Mo", password_hash=hash_password("member-pass-123"),
                       team=team_id or owner.team_id, role="member")


def test_members_see_their_own_mailboxes_and_another_teams_is_a_404(accounts, client, app):
    alex, bo = _history(accounts)
    mo = _member()
    mine = factories.mailbox(email="mo-box@acme.test", connected_by=mo)
    other_client = app.test_client()
    from tests.support import Accounts
    Accounts(other_client).sign_up("eve@evil.test", team_name="Evil")
    eves = factories.mailbox(owner_email="eve@evil.test", email="eve@evil.test",
                             status=RECONNECT_REQUIRED)
    assert post_form(client, f"{PAGE}/{eves.id}/remind-owner", page=PAGE).status_code == 404
    assert other_client.get(PAGE).get_data(as_text=True).count("data-mailbox-id=") == 1

    member = app.test_client()
    Accounts(member).log_in("mo@acme.test", "member-pass-123")
    page = member.get(PAGE).get_data(as_text=True)
    assert re.findall(r'data-mailbox-id="(\d+)"', page) == [str(mine.id)]
    assert "Remind owner" not in page
    assert post_form(member, f"{PAGE}/{bo.id}/remind-owner", page=PAGE).status_code == 404
    assert member.get(f"{PAGE}?person={User.get(User.email == 'owner@acme.test').id}").status_code == 400


def test_remind_owner_twice_within_an_hour_sends_one_email(accounts, client, app, monkeypatch,
                                                          smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    accounts.sign_up()
    mailbox = factories.mailbox()
    record_failure(mailbox.id, REFUSED)
    first = post_form(client, f"{PAGE}/{mailbox.id}/remind-owner", page=PAGE,
                      follow_redirects=True).get_data(as_text=True)
    assert "the reconnect email was sent again to its owner" in first
    again = post_form(client, f"{PAGE}/{mailbox.id}/remind-owner", page=PAGE,
                      follow_redirects=True).get_data(as_text=True)
    assert "its owner was reminded at" in again and "the next reminder can go at" in again
    assert len(relay.messages) == 1
    recipients, message = relay.messages[0]
    assert recipients == ["owner@acme.test"]
    assert message["Subject"] == "Reminder: Action needed: reconnect alex@acme.test to Tether"
    assert "/reconnect/" in message.get_content()
    assert [(r.told, r.by.email) for r in OwnerReminder.select()] == [(1, "owner@acme.test")]
    assert "Owner reminded just now by Owner" in client.get(PAGE).get_data(as_text=True)

    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 3601)  # an hour later: one more may go
    post_form(client, f"{PAGE}/{mailbox.id}/remind-owner", page=PAGE)
    assert len(relay.messages) == 2


def test_a_reminder_for_a_mailbox_that_works_sends_nothing(accounts, client, app, monkeypatch,
                                                          smtp_relay):
    relay = smtp_relay()
    use_relay(app, monkeypatch, relay)
    accounts.sign_up()
    green = factories.mailbox()
    yellow = factories.mailbox(email="yellow@acme.test")
    record_failure(yellow.id, OUTAGE)
    assert Mailbox.get_by_id(yellow.id).status == DEGRADED
    for mailbox in (green, yellow):
        page = post_form(client, f"{PAGE}/{mailbox.id}/remind-owner", page=PAGE,
                         follow_redirects=True).get_data(as_text=True)
        assert f"{mailbox.email} does not need reconnecting" in page
    assert relay.messages == [] and OwnerReminder.select().count() == 0


def test_the_health_page_is_live_like_the_others(accounts, client):
    alex, bo = _history(accounts)
    page = client.get(PAGE + "?days=7").get_data(as_text=True)
    version = re.search(r'data-live-version="(\d+)"', page).group(1)
    rendered = re.search(r'"rendered_at": "(\d+)"', page).group(1)
    poll = {"days": "7", "since": version, "rendered_at": rendered}
    assert client.get(PAGE, query_string=poll, headers={"HX-Request": "true"}).status_code == 204
    record_failure(alex.id, REFUSED)
    answer = client.get(PAGE, query_string=poll, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.get_data(as_text=True).count(
        'data-status="reconnect_required"') == 2
    assert "<html" not in answer.get_data(as_text=True)  # the partial, not the page
