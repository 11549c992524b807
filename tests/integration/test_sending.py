"""Sending for real: sequences deliver into recipients' INBOXes at the sandbox, through real
consumer processes, at the injected clock's times — and a dead token, a reconnect, a SIGKILLed
consumer or a second consumer never loses or doubles an email."""

import email
import os
import signal
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

import clock
from models import outbox
from models.accounts import User
from models.contacts import Contact
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from models.outbox import SENT, UNKNOWN, OutboxEmail
from models.sender_lease import OutboxSender
from models.sequences import Enrollment, Sequence, SequenceLog, create_sequence, enroll, save_step
from tests import factories
from tests.integration.conftest import grant_tokens, sandbox_mailbox
from tests.support import wait_for

pytestmark = pytest.mark.sandbox

INBOX_PASSWORD = "inbox-pw-1"
MONDAY = datetime(2031, 3, 3)  # 2031-03-03 is a Monday


def set_now(moment: datetime) -> None:
    """Move the one clock (this process and every consumer) to `moment`."""
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"],
                     (moment - clock.now()).total_seconds() + clock._offset())




def mail_of(sandbox, address, folder="INBOX", password=INBOX_PASSWORD):
    """The messages in a password user's folder, read over IMAP as its owner would."""
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        imap.login(address, password)
        imap.select_folder(folder, readonly=True)
        fetched = imap.fetch(imap.search("ALL"), ["RFC822"])
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default)
            for _, f in sorted(fetched.items())]


def sent_folder_of(sandbox, address):
    token = sandbox.control.issue_tokens(address, client="google")["access_token"]
    with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
        imap.oauth2_login(address, token)
        imap.select_folder("Sent", readonly=True)
        fetched = imap.fetch(imap.search("ALL"), ["RFC822"])
    return [email.message_from_bytes(f[b"RFC822"], policy=policy.default) for f in fetched.values()]


def password_user(sandbox, address, password=INBOX_PASSWORD):
    """A password (Other Provider) user at the sandbox, once Dovecot lets it in: Dovecot
    re-reads its passwd-file at most once a second, so a brand-new user may wait a moment."""
    sandbox.control.create_user(address, password, kind="other")

    def can_log_in():
        with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=10) as imap:
            try:
                imap.login(address, password)
                return True
            except LoginError:
                return False

    wait_for(can_log_in, f"{address} to be able to sign in", deadline=5)
    return address


def recipients(sandbox, *addresses):
    return tuple(password_user(sandbox, address) for address in addresses)


def running(owner, box, *, steps, contacts, name="Outreach", days="0,1,2,3,4,5,6",
            start=0, end=24 * 60, timezone="UTC"):
    sequence = create_sequence(owner.team_id, owner, name=name, mailbox=box, window_days=days,
                               window_start=start, window_end=end, timezone=timezone)
    for subject, body, hours in steps:
        save_step(sequence, owner, subject=subject, body=body, delay_minutes=hours * 60)
    for address in contacts:
        Contact.get_or_create(team=owner.team_id, email=address,
                              defaults={"first_name": address.split("@")[0].split("+")[0].title()})
    enroll(sequence, Contact.select().where(Contact.email.in_(list(contacts))), owner)
    sequence.resume(owner)
    return Sequence.get_by_id(sequence.id)


def other_mailbox(sandbox, address="pat@example.test", password="mailbox-pw-1"):
    """An Other Provider mailbox (password login; no copy filed in Sent by the server)."""
    password_user(sandbox, address, password)
    return factories.mailbox(email=address, provider="other", password=password,
                             username=address, access_token=None, refresh_token=None,
                             imap_host=sandbox.imap_host, imap_port=sandbox.imap_port,
                             imap_security="none", smtp_host=sandbox.smtp_host,
                             smtp_port=sandbox.smtp_port, smtp_security="none")


def send_pass(mailbox):
    """What the mailbox's own scheduled pass does; returns once a consumer has run one."""
    from tasks.sending import send_mailbox

    ended = _last_pass(mailbox)
    send_mailbox(mailbox.id)
    wait_for(lambda: _last_pass(mailbox) not in (None, ended), "the send pass")


def _last_pass(mailbox):
    sender = OutboxSender.get_or_none(OutboxSender.mailbox == mailbox.id)
    return None if sender is None or sender.lease_owner else sender.lease_until


def statuses():
    return sorted(r.status for r in OutboxEmail.select())


def log_of(sequence, kind):
    return [e.message for e in SequenceLog.select().where(
        (SequenceLog.sequence == sequence) & (SequenceLog.kind == kind)).order_by(SequenceLog.id)]


# ---- A sequence's three steps, at their times, inside the window --------------------------------

def test_a_three_step_sequence_arrives_at_the_right_times_inside_the_window(
        accounts, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=8, minute=59, second=57))
    box = sandbox_mailbox(tether_sandbox, "google")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    sequence = running(owner, box, contacts=people, days="0,1,2,3,4", start=9 * 60, end=17 * 60,
                       steps=[("Quick question, {{first_name}}", "Hi {{first_name}},\n\nOne.", 0),
                              ("", "Bumping this up.", 24), ("", "Last one.", 20)])

    # The set-up took real seconds (many under load): be 10 s before 09:00 again.
    set_now(MONDAY.replace(hour=8, minute=59, second=50))
    send_pass(box)  # before 09:00: it only schedules itself for the window's opening
    assert statuses() == []
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in people), "email 1")
    first = {p: mail_of(tether_sandbox, p)[0] for p in people}
    for person, message in first.items():
        assert message["Subject"] == f"Quick question, {person.split('@')[0].title()}"
        assert email.utils.parsedate_to_datetime(message["Date"]).replace(tzinfo=None) >= \
            MONDAY.replace(hour=9)
    assert all(r.attempted_at >= MONDAY.replace(hour=9) for r in OutboxEmail.select())

    # Email 2: a day after email 1, in the same thread.
    due = min(e.next_due_at for e in Enrollment.select())
    assert due.date() == MONDAY.date() + timedelta(days=1) and due.hour == 9
    set_now(due - timedelta(seconds=2))
    send_pass(box)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 2 for p in people), "email 2")
    for person in people:
        one, two = mail_of(tether_sandbox, person)
        assert two["Subject"] == f"Re: {one['Subject']}"
        assert two["In-Reply-To"] == one["Message-ID"] and two["References"] == one["Message-ID"]

    # Email 3 falls due at 05:00 on Wednesday, outside the window: nothing goes until 09:00.
    set_now(datetime(2031, 3, 5, 5, 0, 30))
    send_pass(box)
    assert OutboxSender.get_by_id(box.id).wake_at == datetime(2031, 3, 5, 9, 0)
    assert all(len(mail_of(tether_sandbox, p)) == 2 for p in people)
    set_now(datetime(2031, 3, 5, 8, 59, 58))
    send_pass(box)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 3 for p in people), "email 3")
    for person in people:
        messages = mail_of(tether_sandbox, person)
        assert len({m["Message-ID"] for m in messages}) == 3  # each exactly once
        third = email.utils.parsedate_to_datetime(messages[2]["Date"]).replace(tzinfo=None)
        assert datetime(2031, 3, 5, 9, 0) <= third < datetime(2031, 3, 5, 9, 1)
    assert {e.status for e in Enrollment.select()} == {"finished"}
    assert len(log_of(sequence, "email_sent")) == 6
    assert len(sent_folder_of(tether_sandbox, "alex@acme.test")) == 6  # Google-like files them


# ---- A dead token mid-sequence, then a reconnect ----------------------------------------------

def test_removed_access_blocks_the_sequence_and_the_waiting_email_goes_out_once_after_reconnect(
        accounts, tether_sandbox, checker, worker):
    from models.connections import save_oauth
    from tasks.notices import dispatch_events

    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    sequence = running(owner, box, contacts=[ada], steps=[("Hello", "One", 0), ("", "Two", 24)])
    send_pass(box)
    wait_for(lambda: len(mail_of(tether_sandbox, ada)) == 1, "email 1")

    tether_sandbox.control.remove_access("alex@acme.test")
    set_now(MONDAY.replace(hour=10) + timedelta(days=1, minutes=1))
    send_pass(box)  # the token is refused: the email waits and the health engine is asked
    wait_for(lambda: Mailbox.get_by_id(box.id).status == RECONNECT_REQUIRED, "the incident")
    wait_for(lambda: log_of(sequence, "mailbox_blocked"), "the blocked log entry")
    assert Sequence.get_by_id(sequence.id).state == "blocked"
    assert statuses() == ["queued", "sent"]  # email 2 waits; nothing lost
    assert len(mail_of(tether_sandbox, ada)) == 1

    grant = tether_sandbox.control.issue_tokens("alex@acme.test", client="google")
    save_oauth(owner.team, owner, checker.catalog.get("google-sandbox"), "alex@acme.test",
               grant_tokens(grant), mailbox_id=box.id)
    dispatch_events()  # as the OAuth callback does: handlers run in a consumer at once
    wait_for(lambda: len(mail_of(tether_sandbox, ada)) == 2, "the waiting email")
    wait_for(lambda: statuses() == ["sent", "sent"], "both sent")
    messages = mail_of(tether_sandbox, ada)
    assert len(messages) == 2 and len({m["Message-ID"] for m in messages}) == 2
    assert log_of(sequence, "mailbox_unblocked") == [
        "Mailbox alex@acme.test reconnected — sequence unblocked, 1 waiting email will be sent"]
    assert log_of(sequence, "email_sent")[-1].startswith("Email 2 “Re: Hello” sent to ada@client.test")


# ---- A consumer SIGKILLed at a named point --------------------------------------------------------

@pytest.fixture
def pausing(monkeypatch):
    """Consumers started now stop at the named point (tests/pausing_worker.py)."""
    folder = Path(os.environ["TETHER_INSTANCE_DIR"])

    def at(point):
        for marker in folder.glob("paused-*"):
            marker.unlink()
        monkeypatch.setenv("TETHER_TEST_PAUSE_AT", point)
        return folder / f"paused-{point}"

    yield at
    for marker in folder.glob("paused-*"):
        marker.unlink()


@pytest.mark.parametrize("kind,point,settled", [
    ("google", "after_claim", "sent again: it had not gone out"),
    ("google", "after_accepted", "found in the provider's Sent copy"),
    ("other", "after_sent_copy", "recorded as sent at the 250, before the copy"),
    ("other", "after_accepted", "unknown: shown with Send again, never resent by itself"),
])
def test_a_consumer_killed_at_a_named_point_never_doubles_an_email(
        accounts, client, tether_sandbox, pausing, request, monkeypatch, kind, point, settled):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = (sandbox_mailbox(tether_sandbox, "google") if kind == "google"
           else other_mailbox(tether_sandbox))
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    sequence = running(owner, box, contacts=people, steps=[("Hello {{first_name}}", "One", 0)])

    marker = pausing(point)
    doomed = request.getfixturevalue("worker")
    from tasks.sending import send_mailbox

    send_mailbox(box.id)
    wait_for(marker.exists, f"the consumer to reach {point}")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    reached_inbox = sum(len(mail_of(tether_sandbox, p)) for p in people)
    assert reached_inbox == (0 if point == "after_claim" else 1)
    assert "sending" in statuses()

    monkeypatch.delenv("TETHER_TEST_PAUSE_AT")
    request.getfixturevalue("second_worker")  # a fresh consumer on the same queue
    set_now(clock.now() + outbox.LEASE + timedelta(seconds=1))  # the dead one's leases expire
    send_pass(box)
    if point == "after_accepted" and kind == "other":
        wait_for(lambda: UNKNOWN in statuses() and SENT in statuses(), "the reconciler")
        (unknown,) = OutboxEmail.select().where(OutboxEmail.status == UNKNOWN)
        page = client.get(f"/sequences/{sequence.id}/log").get_data(as_text=True)
        assert "Send again" in page and unknown.to_email in page
        # What happened, truly: Tether stopped mid-send; the contact may have it already.
        assert "Tether stopped (a restart or a crash)" in page
        assert "may already have it" in page and "connection to the mail server ended" not in page
        send_pass(box)  # never resent by itself
        assert OutboxEmail.get_by_id(unknown.id).status == UNKNOWN
    else:
        wait_for(lambda: statuses() == [SENT, SENT], "both emails sent")
    for person in people:  # each exactly once in the recipient's INBOX
        assert len(mail_of(tether_sandbox, person)) == 1, (person, settled)
    if settled.startswith("found"):
        assert any("found in the Sent folder" in m for m in log_of(sequence, "email_sent"))


@pytest.mark.parametrize("point", ["after_claim", "after_accepted"])
def test_a_consumer_started_after_one_was_killed_resumes_its_sending_within_seconds(
        accounts, tether_sandbox, pausing, request, monkeypatch, point):
    """No clock moved: the new consumer frees what the ended one held (same machine) and the
    mailbox's emails go out at once, each exactly once — not after a lease runs out."""
    import time

    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "google")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    running(owner, box, contacts=people, steps=[("Hello {{first_name}}", "One", 0)])
    marker = pausing(point)
    doomed = request.getfixturevalue("worker")
    from tasks.sending import send_mailbox

    send_mailbox(box.id)
    wait_for(marker.exists, f"the consumer to reach {point}")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    monkeypatch.delenv("TETHER_TEST_PAUSE_AT")
    started = time.monotonic()
    request.getfixturevalue("second_worker")
    wait_for(lambda: statuses() == [SENT, SENT], "both emails sent", deadline=30)
    assert time.monotonic() - started < 30
    for person in people:
        assert len(mail_of(tether_sandbox, person)) == 1


def test_a_send_three_times_slower_than_the_lease_is_not_taken_over_and_arrives_once(
        accounts, tether_sandbox, request, monkeypatch):
    """A 2 s lease and a server that answers the DATA after 6 s: the heartbeat keeps the
    mailbox's lease, so passes that other consumers start meanwhile find it taken."""
    monkeypatch.setenv("TETHER_LEASE_SECONDS", "2")  # for the consumers started below
    from tasks.sending import send_mailbox, sweep_outbox_now

    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    running(owner, box, contacts=[ada], steps=[("Hello {{first_name}}", "One", 0)])
    tether_sandbox.control.slow_data(box.email, seconds=6)
    request.getfixturevalue("worker")
    request.getfixturevalue("second_worker")
    send_mailbox(box.id)
    row = wait_for(lambda: OutboxEmail.get_or_none(OutboxEmail.phase == "transmitting"),
                   "the slow send under way")
    first = OutboxSender.get_by_id(box.id).lease_until
    renewals = set()

    def renewed_past_the_first_lease():
        renewals.add(OutboxSender.get_by_id(box.id).lease_until)
        return len(renewals) >= 3 and max(renewals) > first + timedelta(seconds=2)

    wait_for(renewed_past_the_first_lease, "the heartbeat to keep the lease past its length")
    for _ in range(3):  # other passes, while the first is still waiting for its answer
        send_mailbox(box.id)
        sweep_outbox_now()
    wait_for(lambda: statuses() == [SENT], "the slow email sent", deadline=30)
    assert OutboxEmail.get_by_id(row.id).attempts == 1
    assert len(mail_of(tether_sandbox, ada)) == 1
    assert log_of(row.sequence_id, "email_requeued") == log_of(row.sequence_id, "email_unknown") == []
    (sent,) = log_of(row.sequence_id, "email_sent")
    assert "found in the Sent folder" not in sent  # its own sender saw the 250: no takeover


# ---- Two consumers, one mailbox ------------------------------------------------------------------

def test_a_second_consumer_on_the_same_queue_doubles_nothing(
        accounts, tether_sandbox, worker, second_worker):
    from tasks.sending import send_mailbox, sweep_outbox_now

    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=10))
    box = sandbox_mailbox(tether_sandbox, "microsoft")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test", "cy@client.test")
    contacts = [f"{p.split('@')[0]}+{n}@client.test" for p in people for n in range(8)]
    running(owner, box, contacts=contacts, steps=[("Hello", "One", 0)])
    for _ in range(6):
        send_mailbox(box.id)
        sweep_outbox_now()
    wait_for(lambda: statuses() == [SENT] * len(contacts), "every email sent", deadline=60)
    delivered = [m["To"] for p in people for m in mail_of(tether_sandbox, p)]
    assert sorted(str(t) for t in delivered) == sorted(
        f"{c.split('+')[0].title()} <{c}>" for c in contacts)


# ---- The daily limit ----------------------------------------------------------------------------

def test_the_daily_limit_holds_across_two_sequences(accounts, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY.replace(hour=16))
    box = sandbox_mailbox(tether_sandbox, "google")
    Mailbox.update(daily_limit=3).where(Mailbox.id == box.id).execute()
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test",
                        "cy@client.test", "di@client.test")
    first = running(owner, box, name="First", contacts=people[:2], steps=[("One", "1", 0)])
    second = running(owner, box, name="Second", contacts=people[2:], steps=[("Two", "2", 0)])
    send_pass(box)
    wait_for(lambda: statuses() == [SENT] * 3, "three emails")
    send_pass(box)
    assert sum(len(mail_of(tether_sandbox, p)) for p in people) == 3
    assert log_of(first, "daily_limit") == []
    (note,) = log_of(second, "daily_limit")
    assert note.startswith("Daily limit reached: alex@acme.test has sent or queued 3 of its 3")
    assert OutboxSender.get_by_id(box.id).wake_at == MONDAY + timedelta(days=1)

    set_now(MONDAY + timedelta(days=1, seconds=-2))
    send_pass(box)
    wait_for(lambda: statuses() == [SENT] * 4, "the fourth, the next day")
    assert all(len(mail_of(tether_sandbox, p)) == 1 for p in people)
    assert Mailbox.get_by_id(box.id).status == CONNECTED


def test_starting_a_sequence_sends_its_due_emails_at_once(accounts, client, tether_sandbox,
                                                          worker):
    from tests.support import post_form

    accounts.sign_up()
    owner = User.get()
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    sequence = running(owner, box, contacts=[ada], steps=[("Hello", "One", 0)])
    sequence.pause(owner)
    post_form(client, f"/sequences/{sequence.id}/toggle", page="/sequences")
    assert Sequence.get_by_id(sequence.id).state == "active"
    # The test consumer runs no periodic sweep (-n): only the toggle's own wake-up sends it.
    wait_for(lambda: mail_of(tether_sandbox, ada), "the first email", deadline=20)
