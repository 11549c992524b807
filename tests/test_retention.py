"""Retention: bookkeeping older than TETHER_RETENTION_DAYS goes, in bounded batches, from a
daily run; what is young stays, and so does anything an open incident or reply matching
still relies on."""

import os
import uuid
from datetime import timedelta

import pytest

import clock
import config
from models import events, mailbox_health, retention
from models.alerts import AlertDelivery, AlertDestination
from models.contacts import Contact
from models.events import EventDelivery
from models.health import MailboxEvent, MailboxHistory, open_incident, record_failure, transition
from models.mailbox_health import MailboxIncident
from models.notifications import Notification, mark_read
from models.oauth_attempts import OAuthAttempt
from models.replies import InboundMessage
from models.sequences import Enrollment, Sequence, delete_sequence
from tasks.notices import send_reminders
from tests import factories
from tests.test_state_machine import REVOKED

OLD, YOUNG = timedelta(days=100), timedelta(days=10)


def _days_ago(age: timedelta) -> None:
    """Move every process's clock back by `age` (the suite puts it back after each test)."""
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], -age.total_seconds())


def _bookkeeping(mailbox, user, age: timedelta, tag: str) -> None:
    """One row of each pruned kind, `age` old; the event delivered, the notification read."""
    _days_ago(age)
    MailboxHistory.create(mailbox=mailbox, from_status="connected", to_status="degraded",
                          cause=tag)
    event = MailboxEvent.create(mailbox=mailbox, team_id=mailbox.team_id, from_status="connected",
                                to_status="degraded", cause=tag, dispatched_at=clock.now())
    EventDelivery.create(event=event, channel="bell", claimed_until=clock.now(),
                         done_at=clock.now())
    Notification.create(team=user.team_id, user=user, kind="recovered", title=tag,
                        dedupe_key=f"{tag}:read", read_at=clock.now())
    OAuthAttempt.create(state_digest=f"{tag}-state", session_digest="s", user=user,
                        team=user.team_id, provider="google-sandbox", code_verifier="v" * 43,
                        nonce="n")
    InboundMessage.create(mailbox=mailbox, message_id=f"<{tag}@elsewhere.test>", kind="other")
    AlertDelivery.create(destination=_destination(user), key=tag, event_type="test", title=tag,
                         payload="{}", status="sent")
    _days_ago(timedelta(0))


def _destination(user):
    return (AlertDestination.get_or_none(AlertDestination.team == user.team_id)
            or AlertDestination.create(team=user.team_id, kind="webhook", url="https://x.test/h",
                                       shown_as="https://x.test/h", secret="whsec_c2VjcmV0"))


def _owner():
    from models.accounts import User

    return User.get(User.email == "owner@acme.test")


def test_old_bookkeeping_goes_and_young_stays(accounts):
    accounts.sign_up()
    mailbox, owner = factories.mailbox(), _owner()
    _bookkeeping(mailbox, owner, OLD, "old")
    _bookkeeping(mailbox, owner, YOUNG, "young")
    _days_ago(OLD)  # old, but still needed: an event not yet delivered, a note not yet read
    waiting = MailboxEvent.create(mailbox=mailbox, team_id=mailbox.team_id, cause="waiting",
                                  from_status="degraded", to_status="connected")
    Notification.create(team=owner.team_id, user=owner, kind="recovered", title="unread",
                        dedupe_key="old:unread")
    AlertDelivery.create(destination=_destination(owner), key="retrying", event_type="test",
                         title="retrying", payload="{}")  # an alert still being retried
    _days_ago(timedelta(0))

    pruned = retention.prune(90)

    assert {name: sum(n) for name, n in pruned.items()} == {
        "mailbox_history": 1, "event_delivery": 1, "mailbox_event": 1, "notification": 1,
        "alert_delivery": 1, "oauth_attempt": 1, "inbound_message": 1, "mailbox_incident": 0}
    assert sorted(a.key for a in AlertDelivery.select()) == ["retrying", "young"]
    assert [h.cause for h in MailboxHistory.select()] == ["young"]
    assert sorted(e.cause for e in MailboxEvent.select()) == ["waiting", "young"]
    assert [d.event.cause for d in EventDelivery.select()] == ["young"]
    assert sorted(n.title for n in Notification.select()) == ["unread", "young"]
    assert [a.state_digest for a in OAuthAttempt.select()] == ["young-state"]
    assert [m.message_id for m in InboundMessage.select()] == ["<young@elsewhere.test>"]
    assert MailboxEvent.get_by_id(waiting.id).dispatched_at is None
    assert retention.prune(90) == {"mailbox_history": [], "event_delivery": [],
                                   "mailbox_event": [], "notification": [], "alert_delivery": [],
                                   "oauth_attempt": [], "inbound_message": [],
                                   "mailbox_incident": []}


def test_an_open_incident_keeps_its_old_events_notifications_and_reminder(accounts):
    """Broken for 100 days: the event that opened the incident, the bell entry and the
    reminder (read long ago) stay, so no reminder goes out twice and the recovery still
    closes the right incident; a mailbox whose incident closed long ago loses its events."""
    accounts.sign_up()
    broken = factories.mailbox()
    mended = factories.mailbox(email="sam@acme.test")
    _days_ago(OLD)
    record_failure(mended.id, REVOKED)
    transition(mended.id, "connected", cause="Reconnected by Owner.")
    record_failure(broken.id, REVOKED)
    events.dispatch()
    _days_ago(OLD - timedelta(days=2))
    assert send_reminders(timedelta(hours=24)) == 1  # only the incident still open
    mark_read(_owner())
    _days_ago(timedelta(0))
    incident = open_incident(broken.id)
    kept_events = {e.id for e in MailboxEvent.select().where(MailboxEvent.mailbox == broken.id)}
    kept_notes = {n.id for n in Notification.select().where(Notification.incident == incident)}

    pruned = retention.prune(90)

    assert sum(pruned["mailbox_event"]) == 2  # the mended mailbox's incident and recovery
    assert {e.id for e in MailboxEvent.select()} == kept_events
    assert {n.id for n in Notification.select()} == kept_notes
    assert sorted(n.kind for n in Notification.select()) == ["reconnect_required", "reminder"]
    assert send_reminders(timedelta(hours=24)) == 0  # the reminder is not sent again
    recovery = transition(broken.id, "connected", cause="Reconnected by Owner.")
    assert recovery.incident == incident


def _incident(mailbox, started: timedelta, ended: timedelta | None) -> None:
    now = clock.now()
    MailboxIncident.create(mailbox=mailbox, started_at=now - started,
                           ended_at=now - ended if ended is not None else None)


def _incident_ages() -> list[tuple]:
    now = clock.now()
    return sorted(((now - i.started_at).days, (now - i.ended_at).days if i.ended_at else None)
                  for i in MailboxIncident.select())


def test_closed_incidents_go_once_older_than_the_page_shows_or_the_setting_open_ones_never(accounts):
    """Mailbox health shows 90 days: an incident over 100 days ago stays with a 120-day
    retention and goes with a 30-day one, which keeps the one over 60 days ago; an incident
    still open 200 days on stays whatever the setting."""
    accounts.sign_up()
    mailbox = factories.mailbox()
    _incident(mailbox, timedelta(days=101), timedelta(days=100))
    _incident(mailbox, timedelta(days=61), timedelta(days=60))
    _incident(mailbox, timedelta(days=200), None)

    assert sum(retention.prune(120)["mailbox_incident"]) == 0
    assert sum(retention.prune(30)["mailbox_incident"]) == 1
    assert sum(retention.prune(90)["mailbox_incident"]) == 0
    assert _incident_ages() == [(61, 60), (200, None)]


def _broken_then_mended(mailbox, days_ago: int, for_days: int = 1) -> None:
    _days_ago(timedelta(days=days_ago))
    record_failure(mailbox.id, REVOKED)
    events.dispatch()
    if for_days is not None:
        _days_ago(timedelta(days=days_ago - for_days))
        transition(mailbox.id, "connected", cause="Reconnected by Owner.")
        events.dispatch()
    _days_ago(timedelta(0))


def test_with_a_short_retention_the_page_keeps_incidents_whose_history_went(accounts):
    """TETHER_RETENTION_DAYS=30 prunes the history of an incident 60 days ago; the next
    incident rebuilds the mailbox's incidents from what history is left, and the old one is
    still counted over 90 days."""
    accounts.sign_up()
    mailbox = factories.mailbox()
    _broken_then_mended(mailbox, days_ago=60)
    retention.prune(30)
    assert not MailboxHistory.select().exists()

    _broken_then_mended(mailbox, days_ago=5)

    assert _incident_ages() == [(5, 4), (60, 59)]
    quarter = mailbox_health.figures(mailbox_health.measured([mailbox.id]), 90, 90 * 86400.0)
    assert quarter.incidents == 2 and quarter.still_open == 0


def test_an_incident_open_since_before_the_history_kept_closes_when_reconnected(accounts):
    """Broken 60 days ago, history pruned at 30 days, reconnected today: one incident of 60
    days, not a second one from the status, nor one left open."""
    accounts.sign_up()
    mailbox = factories.mailbox()
    _broken_then_mended(mailbox, days_ago=60, for_days=None)
    retention.prune(30)
    _days_ago(timedelta(days=40))  # a reminder's rebuild while still broken changes nothing
    mailbox_health.rebuild(mailbox.id)
    _days_ago(timedelta(0))
    assert _incident_ages() == [(60, None)]

    transition(mailbox.id, "connected", cause="Reconnected by Owner.")
    events.dispatch()

    assert _incident_ages() == [(60, 0)]
    (only,) = mailbox_health.measured([mailbox.id])
    assert not only.still_open and abs(only.length - 60 * 86400) < 60


def test_the_newest_event_stays_so_its_id_is_never_reused(accounts):
    accounts.sign_up()
    mailbox = factories.mailbox()
    _days_ago(OLD)
    made = [MailboxEvent.create(mailbox=mailbox, team_id=mailbox.team_id, from_status="a",
                                to_status="b", dispatched_at=clock.now()) for _ in range(3)]
    _days_ago(timedelta(0))
    retention.prune(90)
    assert [e.id for e in MailboxEvent.select()] == [made[-1].id]


def test_inbound_messages_acted_on_stay_while_their_enrollment_exists(accounts):
    """Their Message-IDs keep a re-read INBOX from counting a reply twice; once the sequence
    is deleted (its enrollments with it) there is nothing left to match them to."""
    accounts.sign_up()
    mailbox, owner = factories.mailbox(), _owner()
    sequence = Sequence.create(team=owner.team_id, name="Q4", mailbox=mailbox, created_by=owner)
    contact = Contact.create(team=owner.team_id, email="jordan@globex.test")
    enrollment = Enrollment.create(sequence=sequence, contact=contact)
    mailbox_id = mailbox.id
    _days_ago(OLD)
    InboundMessage.create(mailbox=mailbox_id, message_id="<reply@globex.test>", kind="reply",
                          enrollment=enrollment)
    InboundMessage.create(mailbox=mailbox_id, message_id="<newsletter@x.test>", kind="other")
    _days_ago(timedelta(0))

    retention.prune(90)
    assert [m.message_id for m in InboundMessage.select()] == ["<reply@globex.test>"]

    delete_sequence(Sequence.get_by_id(sequence.id))  # its enrollments go with it
    assert not Enrollment.select().exists()
    retention.prune(90)
    assert not InboundMessage.select().exists()


def test_a_big_backlog_goes_in_statements_of_at_most_a_batch(accounts):
    accounts.sign_up()
    mailbox = factories.mailbox()
    _days_ago(OLD)
    at = clock.now()
    rows = [{"mailbox": mailbox.id, "at": at, "from_status": "connected",
             "to_status": "degraded", "cause": f"n{n}"} for n in range(2500)]
    for start in range(0, len(rows), 500):
        MailboxHistory.insert_many(rows[start:start + 500]).execute()
    _days_ago(timedelta(0))
    MailboxHistory.create(mailbox=mailbox, from_status="degraded", to_status="connected")

    pruned = retention.prune(90, batch=1000)

    assert pruned["mailbox_history"] == [1000, 1000, 500]
    assert MailboxHistory.select().count() == 1


def test_old_task_results_go_and_huey_s_own_keys_stay(app):
    """Results are noted when first seen; one still stored N days later goes. Locks and
    revocations in the same store are Huey's and stay."""
    from tasks import huey
    from tasks.system import worker_status

    huey.flush()
    task = worker_status.s()
    huey.execute(task)  # runs it here, and stores its result as a consumer would
    huey.put("tether.lock.something", "1")
    huey.put(f"r:{uuid.uuid4()}", "revoked")
    retention.prune(90, storage=huey.storage)  # first seen now
    assert huey.storage.has_data_for_key(task.id)

    _days_ago(-timedelta(days=91))
    younger = worker_status.s()
    huey.execute(younger)
    pruned = retention.prune(90, storage=huey.storage)
    assert pruned["task results"] == [1]
    assert not huey.storage.has_data_for_key(task.id)
    assert huey.storage.has_data_for_key(younger.id)
    assert huey.storage.has_data_for_key("tether.lock.something")
    huey.flush()


def test_the_daily_run_is_claimed_once_a_day(app):
    now = clock.now()
    assert retention.claim_daily_run(now)
    assert not retention.claim_daily_run(now + timedelta(hours=23))
    assert retention.claim_daily_run(now + timedelta(hours=25))
    assert not retention.claim_daily_run(now + timedelta(hours=26))


def test_the_setting_defaults_to_90_days_and_refuses_nonsense(monkeypatch):
    monkeypatch.delenv("TETHER_RETENTION_DAYS", raising=False)
    assert config.read()["RETENTION_DAYS"] == 90
    for bad in ("ninety", "0", "-5", "1.5"):
        monkeypatch.setenv("TETHER_RETENTION_DAYS", bad)
        with pytest.raises(config.ConfigError, match="TETHER_RETENTION_DAYS must be a whole"):
            config.load()
    monkeypatch.setenv("TETHER_RETENTION_DAYS", "30")
    assert config.load()["RETENTION_DAYS"] == 30


def test_the_worker_s_hourly_task_prunes_once_a_day(accounts, app):
    from tasks.retention import prune_daily

    accounts.sign_up()
    mailbox = factories.mailbox()

    def an_old_history_row():
        _days_ago(OLD)
        MailboxHistory.create(mailbox=mailbox, from_status="connected", to_status="degraded")
        _days_ago(timedelta(0))

    an_old_history_row()
    prune_daily.call_local()
    assert not MailboxHistory.select().exists()
    an_old_history_row()
    prune_daily.call_local()  # an hour later, say: today's run is done
    assert MailboxHistory.select().count() == 1
    _days_ago(-timedelta(days=1, minutes=1))
    prune_daily.call_local()
    assert not MailboxHistory.select().exists()
