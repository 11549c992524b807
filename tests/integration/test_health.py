"""The health engine against the sandbox: a dead token is told from an outage, every time."""

import os
import threading
from datetime import timedelta

import pytest

import clock
from models import checks, credentials, events, leases
from models.health import MailboxEvent, MailboxHistory
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox
from models.notifications import Notification
from tests import factories
from tests.integration.conftest import sandbox_mailbox

pytestmark = pytest.mark.sandbox


def _move_clock(delta):
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], delta.total_seconds())


@pytest.mark.parametrize("kind,code", [("google", "invalid_grant"), ("microsoft", "invalid_grant/65001")])
def test_removed_access_needs_reconnect(accounts, tether_sandbox, checker, kind, code):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, kind)
    assert checker.check(box.id, force=True) is not None
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    tether_sandbox.control.remove_access("alex@acme.test")
    assert checker.check(box.id, force=True) is None  # a dead token is not retried
    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED and row.status_code == code
    assert row.status_where == "token endpoint"


def test_a_password_change_at_microsoft_says_so(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    tether_sandbox.control.change_password("alex@acme.test", "a-new-password")
    checker.check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED and row.status_code == "invalid_grant/50173"
    assert "password was changed" in row.status_cause


def test_imap_switched_off_with_a_valid_token_needs_reconnect_and_is_rechecked_hourly(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    tether_sandbox.control.set_mail_enabled("alex@acme.test", False)
    next_at = checker.check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED and row.status_where in ("IMAP", "SMTP")
    assert next_at - clock.now() > timedelta(minutes=55)  # a valid token: look again in an hour
    tether_sandbox.control.set_mail_enabled("alex@acme.test", True)
    _move_clock(timedelta(hours=1, minutes=1))
    checker.check(box.id)
    assert Mailbox.get_by_id(box.id).status == CONNECTED


def test_a_long_outage_degrades_without_asking_anyone_and_recovers_by_itself(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    Mailbox.update(access_expires_at=clock.now()).where(Mailbox.id == box.id).execute()  # refresh due
    tether_sandbox.control.set_fault("unavailable", seconds=3600)
    for _ in range(5):  # an hour of failing checks
        checker.check(box.id, force=True)
    events.dispatch()
    row = Mailbox.get_by_id(box.id)
    assert row.status == DEGRADED and "temporarily unavailable" in row.status_cause
    assert Notification.select().count() == 0
    assert [h.to_status for h in MailboxHistory.select()] == [DEGRADED]
    tether_sandbox.control.clear_faults()
    checker.check(box.id, force=True)
    assert Mailbox.get_by_id(box.id).status == CONNECTED


def test_a_rotated_client_secret_alerts_the_operator_once_and_no_user(accounts, tether_sandbox, checker):
    accounts.sign_up()
    boxes = [sandbox_mailbox(tether_sandbox, "google", email=f"m{n}@acme.test") for n in range(3)]
    Mailbox.update(access_expires_at=clock.now()).execute()
    tether_sandbox.control.rotate_secret("google")
    for box in boxes:
        checker.check(box.id, force=True)
    events.dispatch()
    assert {Mailbox.get_by_id(b.id).status for b in boxes} == {DEGRADED}
    assert Mailbox.get_by_id(boxes[0].id).status_code.startswith("invalid_client")
    assert [n.kind for n in Notification.select()] == ["operator"]


def test_microsoft_rotation_is_stored_before_use_and_the_old_token_dies(accounts, tether_sandbox, checker):
    from mail import oauth
    from mail.failures import MailError
    from mail.token_identifiers import token_identifier

    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    old = box.refresh_token
    Mailbox.update(access_expires_at=clock.now()).where(Mailbox.id == box.id).execute()
    checker.check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.refresh_token.reveal() != old
    # The identifier a token-revoked signal would name moved with it.
    assert row.refresh_token_identifier == token_identifier(row.refresh_token.reveal())
    provider = checker.catalog.get("microsoft-sandbox")
    with pytest.raises(MailError):
        oauth.refresh(provider, old)


def test_two_consumers_at_once_make_one_refresh_and_both_see_the_new_token(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    Mailbox.update(access_expires_at=clock.now(), next_check_at=clock.now()).where(
        Mailbox.id == box.id).execute()  # its scheduled check is due, and its token too
    barrier, results = threading.Barrier(2), []

    def consumer():  # the chain's task and the sweep's, on two consumers
        barrier.wait()
        results.append(checker.check(box.id))

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]  # one checked, one stood back
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED
    assert MailboxEvent.select().where(MailboxEvent.to_status == RECONNECT_REQUIRED).count() == 0


def test_a_check_whose_consumer_died_is_picked_up_when_the_lease_expires(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    Mailbox.update(next_check_at=clock.now()).where(Mailbox.id == box.id).execute()
    assert credentials.acquire(box.id, "a-consumer-that-was-SIGKILLed")
    assert box.id not in checks.due_ids()
    assert checker.check(box.id) is None  # still leased
    _move_clock(leases.LEASE + timedelta(seconds=1))
    assert box.id in checks.due_ids()
    assert checker.check(box.id) is not None
    assert Mailbox.get_by_id(box.id).lease_owner == ""


def test_an_unreachable_mail_server_is_an_outage(accounts, tether_sandbox, checker):
    import socket

    accounts.sign_up()
    tether_sandbox.control.create_user("pat@example.test", "pw-123456", kind="other")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    box = factories.mailbox(email="pat@example.test", provider="other", password="pw-123456",
                            imap_host="127.0.0.1", imap_port=closed, imap_security="none",
                            smtp_host=tether_sandbox.smtp_host, smtp_port=tether_sandbox.smtp_port,
                            smtp_security="none")
    checker.check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == DEGRADED and "refused the connection" in row.status_cause


def test_tokens_expired_at_microsoft_need_reconnect(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    tether_sandbox.control.expire_tokens("alex@acme.test")
    checker.check(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == RECONNECT_REQUIRED and row.status_code == "invalid_grant/700082"


def test_a_google_app_in_testing_loses_its_tokens_after_seven_days(accounts, tether_sandbox, checker):
    accounts.sign_up()
    tether_sandbox.control.set_testing("google", True)
    box = sandbox_mailbox(tether_sandbox, "google")
    tether_sandbox.control.advance_clock(timedelta(days=6).total_seconds())
    Mailbox.update(access_expires_at=clock.now()).execute()
    checker.check(box.id, force=True)
    assert Mailbox.get_by_id(box.id).status == CONNECTED
    tether_sandbox.control.advance_clock(timedelta(days=1, hours=1).total_seconds())
    Mailbox.update(access_expires_at=clock.now()).execute()
    checker.check(box.id, force=True)
    assert Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED


def _wait(condition, what, deadline=20.0):
    import time

    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_consumer_sigkilled_while_refreshing_is_replaced_when_its_lease_expires(
        accounts, tether_sandbox, checker, worker):
    import signal

    from tasks.checks import SWEEP_GRACE, request_check

    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    Mailbox.update(access_expires_at=clock.now(), next_check_at=clock.now()).execute()
    tether_sandbox.control.set_fault("slow", seconds=120, delay=15)  # the refresh hangs…
    request_check(box.id)
    _wait(lambda: Mailbox.get_by_id(box.id).lease_owner != "", "the check to take its lease")
    os.kill(worker.pid, signal.SIGKILL)  # …and the consumer dies right there
    worker.wait()
    tether_sandbox.control.clear_faults()
    assert box.id not in checks.due_ids(grace=SWEEP_GRACE)  # the dead consumer's lease holds
    _move_clock(leases.LEASE + SWEEP_GRACE + timedelta(seconds=1))
    assert box.id in checks.due_ids(grace=SWEEP_GRACE)  # the next sweep finds it
    assert checker.check(box.id) is not None
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.lease_owner == "" and row.refreshed_at is not None


def test_two_consumer_processes_share_one_rotating_token(accounts, tether_sandbox, checker, worker, second_worker):
    from mail import oauth
    from mail.failures import MailError
    from tasks.checks import check_mailbox

    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    first_refresh = box.refresh_token
    Mailbox.update(access_expires_at=clock.now()).execute()
    for _ in range(6):
        check_mailbox(box.id, force=True)
    _wait(lambda: Mailbox.get_by_id(box.id).refreshed_at is not None
          and Mailbox.get_by_id(box.id).lease_owner == "", "the checks")
    from tasks import huey

    _wait(lambda: huey.pending_count() == 0, "the queue to drain")
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.refresh_token.reveal() != first_refresh
    provider = checker.catalog.get("microsoft-sandbox")
    with pytest.raises(MailError):
        oauth.refresh(provider, first_refresh)  # rotated away
    assert oauth.refresh(provider, row.refresh_token.reveal()).access_token  # the stored one lives


def test_a_duplicate_task_for_a_mailbox_not_yet_due_schedules_nothing(accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    next_at = checker.check(box.id, force=True)
    assert next_at is not None
    assert checker.check(box.id) is None  # the sweep's or a forced check's leftover task
    assert Mailbox.get_by_id(box.id).next_check_at == next_at
