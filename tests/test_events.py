"""Transition events reach each handler once, however many workers dispatch at once."""

import threading
from datetime import timedelta

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
