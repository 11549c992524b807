"""Transition events reach each handler once, however many workers dispatch at once."""

import threading
from datetime import UTC, datetime, timedelta

from models import events
from models.events import EventDelivery
from models.health import MailboxEvent, record_failure
from tests import factories
from tests.test_state_machine import REVOKED


def test_two_workers_dispatching_at_once_run_each_handler_once(accounts, monkeypatch):
    accounts.sign_up()
    calls = []
    monkeypatch.setattr(events, "_handlers", {})
    events.handler("test")(lambda event: calls.append(event.id))
    for n in range(5):
        record_failure(factories.mailbox(email=f"m{n}@acme.test").id, REVOKED)
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        events.dispatch()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == sorted(e.id for e in MailboxEvent.select())
    assert EventDelivery.select().where(EventDelivery.done_at.is_null()).count() == 0


def test_a_handler_that_crashed_is_retried_after_its_claim_expires(accounts, monkeypatch):
    import clock

    accounts.sign_up()
    monkeypatch.setattr(events, "_handlers", {})
    attempts = []

    def flaky(event):
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("worker died mid-email")

    events.handler("flaky")(flaky)
    record_failure(factories.mailbox().id, REVOKED)
    events.dispatch()
    events.dispatch()  # still claimed: not run again yet
    assert len(attempts) == 1
    import os

    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], (events.LEASE + timedelta(seconds=1)).total_seconds())
    events.dispatch()
    assert len(attempts) == 2
    assert MailboxEvent.get().dispatched_at is not None


def test_a_handler_that_failed_while_its_worker_lives_is_tried_again_within_seconds(accounts, monkeypatch):
    import os

    import clock
    from tasks import huey
    from tasks.notices import deliver_events

    accounts.sign_up()
    monkeypatch.setattr(events, "_handlers", {})
    attempts = []

    def flaky(event):
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("database is locked")

    events.handler("flaky")(flaky)
    record_failure(factories.mailbox().id, REVOKED)
    huey.flush()
    deliver_events()
    assert len(attempts) == 1
    # The retry is already on the queue, due in seconds — not after the two-minute lease.
    queued = huey.pending() + huey.scheduled()
    retries = [t for t in queued if t.name.endswith("dispatch_events")]
    assert len(retries) == 1
    assert (retries[0].eta - datetime.now(UTC).replace(tzinfo=None)).total_seconds() <= 3
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], events.RETRY_AFTER.total_seconds() + 0.5)
    deliver_events()
    assert len(attempts) == 2 and MailboxEvent.get().dispatched_at is not None
    huey.flush()


def test_a_log_entry_written_late_keeps_the_place_of_its_event(accounts, client, monkeypatch):
    """The 'blocked' entry whose handler first failed is written after the reconnect's entry,
    yet the log still reads newest first: unblocked, then blocked."""
    import os
    import re

    import clock
    from models import blocking
    from models.accounts import User
    from models.health import transition
    from models.mailboxes import CONNECTED
    from models.sequences import Sequence, create_sequence

    accounts.sign_up()
    owner = User.get()
    box = factories.mailbox()
    outreach = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box)
    Sequence.update(paused=False).where(Sequence.id == outreach.id).execute()
    monkeypatch.setattr(events, "_handlers", {})
    failed_once = []

    def sequence_log(event):
        if event.to_status != CONNECTED and not failed_once:
            failed_once.append(event.id)
            raise RuntimeError("database is locked")
        blocking.sequence_log(event)

    events.handler("sequence_log")(sequence_log)
    record_failure(box.id, REVOKED)
    events.dispatch()  # the 'blocked' entry fails to be written
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 60)
    transition(box.id, CONNECTED, cause="Reconnected.")
    events.dispatch()  # the 'unblocked' entry is written first
    events.dispatch()  # and the retry of 'blocked' after it
    page = client.get(f"/sequences/{outreach.id}/log").get_data(as_text=True)
    unblocked, blocked = page.find("reconnected — sequence unblocked"), page.find("sequence blocked")
    assert failed_once and 0 < unblocked < blocked, re.findall(r"Mailbox [^<]+", page)
