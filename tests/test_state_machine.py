"""The connection state machine: only DESIGN §3's transitions, one event per transition."""

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mail.failures import Failure, Kind
from models.health import (
    ALLOWED_FROM,
    MailboxEvent,
    MailboxHistory,
    record_failure,
    record_success,
    transition,
)
from models.mailboxes import CONNECTED, DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox
from tests import factories

REVOKED = Failure(Kind.RECONNECT, "invalid_grant", "The connection token expired or was revoked.", "token endpoint")
OUTAGE = Failure(Kind.TRANSIENT, "HTTP 503", "The provider is temporarily unavailable.", "token endpoint")
BAD_SECRET = Failure(Kind.APP, "invalid_client", "The app's credentials were rejected.", "token endpoint")

OUTCOMES = st.sampled_from(["ok", "outage", "app", "revoked", "disable", "enable", "reconnected"])


def _apply(box_id, outcome):
    if outcome == "ok":
        record_success(box_id)
    elif outcome == "outage":
        record_failure(box_id, OUTAGE)
    elif outcome == "app":
        record_failure(box_id, BAD_SECRET)
    elif outcome == "revoked":
        record_failure(box_id, REVOKED)
    elif outcome == "disable":
        transition(box_id, DISABLED, cause="Disabled by a person.")
    elif outcome == "enable":
        transition(box_id, "checking", cause="Enabled by a person.")
    else:
        transition(box_id, CONNECTED, cause="Reconnected.")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(outcomes=st.lists(OUTCOMES, min_size=1, max_size=25))
def test_random_check_outcomes_only_follow_the_design_table(accounts, outcomes):
    from models.accounts import User

    if not User.select().exists():
        accounts.sign_up()
    box = factories.mailbox(email=f"m{Mailbox.select().count()}@acme.test", status="checking")
    for outcome in outcomes:
        before = Mailbox.get_by_id(box.id).status
        _apply(box.id, outcome)
        after = Mailbox.get_by_id(box.id).status
        if after != before:
            assert before in ALLOWED_FROM[after], (before, after, outcome)
        # An outage or the app's own problem never asks anyone to reconnect…
        if outcome in ("outage", "app"):
            assert after != RECONNECT_REQUIRED or before == RECONNECT_REQUIRED
        # …and a passing check never hides a reconnect that is still needed.
        if outcome == "ok" and before == RECONNECT_REQUIRED:
            assert after == RECONNECT_REQUIRED
    rows = list(MailboxHistory.select().where(MailboxHistory.mailbox == box.id))
    events = list(MailboxEvent.select().where(MailboxEvent.mailbox == box.id))
    assert len(rows) == len(events)
    for row in rows:
        assert row.from_status in ALLOWED_FROM[row.to_status]


def test_invalid_grant_seen_by_many_workers_at_once_makes_one_transition(accounts):
    accounts.sign_up()
    box = factories.mailbox()
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        record_failure(box.id, REVOKED)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = list(MailboxEvent.select().where(MailboxEvent.mailbox == box.id))
    assert len(events) == 1 and events[0].to_status == RECONNECT_REQUIRED
    assert events[0].incident == events[0].id
    assert MailboxHistory.select().count() == 1


def test_recovery_carries_the_incident_it_closes(accounts):
    accounts.sign_up()
    box = factories.mailbox()
    opened = record_failure(box.id, REVOKED)
    assert record_failure(box.id, OUTAGE) is None  # an outage does not hide the incident
    closed = transition(box.id, CONNECTED, cause="Reconnected by Owner.")
    assert closed.incident == opened.id
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    assert record_failure(box.id, OUTAGE).to_status == DEGRADED
