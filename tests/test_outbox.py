"""The outbox's rules without a network: one row per (enrollment, step), the window and the
daily limit, claims and leases, threads, and what a crash leaves behind."""

import os
from datetime import datetime, timedelta

import pytest
from peewee import IntegrityError, SqliteDatabase

import clock
from mail.send import HeaderInjection, Outgoing, compose
from models import outbox, sender_lease, wakeups
from models.accounts import User
from models.base import db
from models.contacts import Contact
from models.outbox import CLAIMED, QUEUED, SENDING, SENT, TRANSMITTING, UNKNOWN, OutboxEmail
from models.sequences import (
    Enrollment,
    Sequence,
    SequenceLog,
    create_sequence,
    enroll,
    log_mailbox_transition,
    save_step,
)
from tests import factories

MONDAY_10 = datetime(2031, 3, 3, 10, 0)  # a Monday, inside a 09:00–17:00 window


def set_now(moment: datetime) -> None:
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"],
                     (moment - clock.now()).total_seconds() + clock._offset())


def running(owner, box, name="Outreach", steps=(("Hi {{first_name|there}}", "Hello", 0),),
            contacts=("ada@client.test",), **window):
    sequence = create_sequence(owner.team_id, owner, name=name, mailbox=box,
                               window_days=window.get("days", "0,1,2,3,4"),
                               window_start=window.get("start", 9 * 60),
                               window_end=window.get("end", 17 * 60))
    for subject, body, hours in steps:
        save_step(sequence, owner, subject=subject, body=body, delay_minutes=hours * 60)
    for address in contacts:
        Contact.get_or_create(team=owner.team_id, email=address,
                              defaults={"first_name": address.split("@")[0].title()})
    enroll(sequence, Contact.select().where(Contact.email.in_(list(contacts))), owner)
    sequence.resume(owner)
    return Sequence.get_by_id(sequence.id)


@pytest.fixture
def owner(accounts):
    accounts.sign_up()
    set_now(MONDAY_10)
    return User.get()


@pytest.fixture
def box(owner):
    return factories.mailbox(daily_limit=50)


def test_a_due_step_becomes_exactly_one_row_however_often_it_is_planned(owner, box):
    running(owner, box, contacts=("ada@client.test", "bob@client.test"))
    assert outbox.plan(box, clock.now()) == 2
    assert outbox.plan(box, clock.now()) == 0
    rows = list(OutboxEmail.select())
    assert [r.status for r in rows] == [QUEUED, QUEUED]
    assert {r.enrollment.next_due_at for r in rows} == {None}  # waiting on its row now
    with pytest.raises(IntegrityError):  # the database itself refuses a second row
        OutboxEmail.create(enrollment=rows[0].enrollment_id, step=rows[0].step_id,
                           sequence=rows[0].sequence_id, contact=rows[0].contact_id,
                           position=0, due_at=clock.now())


def test_outside_the_window_nothing_is_planned_and_the_wake_up_is_the_window_start(owner, box):
    set_now(datetime(2031, 3, 3, 7, 30))  # Monday, before 09:00
    running(owner, box)
    assert outbox.plan(box, clock.now()) == 0
    assert wakeups.wake_times(clock.now()) == {box.id: datetime(2031, 3, 3, 9, 0)}
    set_now(datetime(2031, 3, 8, 12, 0))  # Saturday: the window is Mon–Fri
    assert wakeups.wake_times(clock.now()) == {box.id: datetime(2031, 3, 10, 9, 0)}


def test_the_daily_limit_holds_across_two_sequences_and_is_logged_once(owner):
    box = factories.mailbox(daily_limit=3)
    first = running(owner, box, "First", contacts=("a@client.test", "b@client.test"))
    second = running(owner, box, "Second", contacts=("c@client.test", "d@client.test"))
    assert outbox.plan(box, clock.now()) == 3
    assert outbox.plan(box, clock.now()) == 0
    assert OutboxEmail.select().count() == 3
    limit_logs = SequenceLog.select().where(SequenceLog.kind == "daily_limit")
    assert limit_logs.count() == 1  # only the sequence whose contact waits is told, once
    assert "Daily limit reached" in limit_logs.get().message
    # Tomorrow the rest goes, inside the window.
    now = clock.now()
    assert wakeups.wake_times(now) == {box.id: now}  # the 3 queued rows are due
    for row in OutboxEmail.select():
        row.status, row.attempted_at, row.mailbox = SENT, clock.now(), box.id
        row.save()
    assert wakeups.wake_times(clock.now()) == {box.id: datetime(2031, 3, 4, 9, 0)}
    set_now(datetime(2031, 3, 4, 9, 0))
    assert outbox.plan(box, clock.now()) == 1
    assert {r.sequence_id for r in OutboxEmail.select()} == {first.id, second.id}


def test_a_claim_is_committed_with_a_lease_and_a_message_id_and_is_taken_once(owner, box):
    running(owner, box, contacts=("ada@client.test", "bob@client.test"))
    outbox.plan(box, clock.now())
    mine = outbox.claim(box, "sender-a", clock.now())
    assert len(mine) == 2 and outbox.claim(box, "sender-b", clock.now()) == []
    for row in OutboxEmail.select():
        assert row.status == SENDING and row.phase == CLAIMED and row.lease_owner == "sender-a"
        assert row.message_id.startswith("<") and row.message_id.endswith("@acme.test>")
        assert row.lease_until > clock.now()
    assert len({r.message_id for r in OutboxEmail.select()}) == 2


def test_only_one_sender_per_mailbox_and_a_dead_ones_lease_expires(owner, box):
    assert sender_lease.acquire_sender(box.id, "a", clock.now())
    assert not sender_lease.acquire_sender(box.id, "b", clock.now())
    assert sender_lease.acquire_sender(box.id, "b", clock.now() + outbox.LEASE + timedelta(seconds=1))


def test_later_steps_without_a_subject_reply_in_the_same_thread(owner, box):
    running(owner, box, steps=(("Quick question, {{first_name}}", "One", 0),
                               ("", "Two", 1), ("", "Three", 2)))
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "s", clock.now())
    first = outbox.outgoing(row, box, clock.now())
    assert first.subject == "Quick question, Ada" and not first.in_reply_to
    assert outbox.begin_transmit(row, "s", box.id, first.subject, clock.now()) == outbox.GO
    sent_at = clock.now()
    outbox.mark_sent(row, "s", "250 2.0.0 OK", sent_at)
    enrollment = Enrollment.get()
    assert enrollment.step_index == 1 and enrollment.next_due_at == sent_at + timedelta(hours=1)

    set_now(MONDAY_10 + timedelta(hours=1, seconds=1))
    outbox.plan(box, clock.now())
    (second,) = outbox.claim(box, "s", clock.now())
    reply = outbox.outgoing(second, box, clock.now())
    assert reply.subject == "Re: Quick question, Ada"
    assert reply.in_reply_to == row.message_id and reply.references == (row.message_id,)
    data = compose(reply).decode()
    assert f"In-Reply-To: {row.message_id}" in data and "Subject: Re: Quick question, Ada" in data


def test_the_last_step_finishes_the_contact(owner, box):
    running(owner, box)
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "s", clock.now())
    outbox.begin_transmit(row, "s", box.id, "Hi Ada", clock.now())
    outbox.mark_sent(row, "s", "250", clock.now())
    assert Enrollment.get().status == "finished"
    (entry,) = SequenceLog.select().where(SequenceLog.kind == "email_sent")
    assert entry.message == f"Email 1 “Hi Ada” sent to ada@client.test — Message-ID {row.message_id}"


def test_a_first_subject_that_renders_empty_is_not_sent_and_says_why(owner, box):
    running(owner, box, steps=(("{{company}}", "Body", 0),))
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "s", clock.now())
    with pytest.raises(outbox.Unsendable) as refused:
        outbox.outgoing(row, box, clock.now())
    outbox.fail(row, "s", str(refused.value), clock.now())
    assert OutboxEmail.get().status == "failed" and OutboxEmail.get().can_send_again
    assert "subject is empty" in SequenceLog.select().where(
        SequenceLog.kind == "email_failed").get().message


@pytest.mark.parametrize("field", ["subject", "to_name", "from_name"])
def test_line_breaks_in_headers_are_refused(field):
    values = dict(from_address="a@acme.test", to_address="b@client.test", subject="Hi",
                  body="x", message_id="<m@acme.test>")
    values[field] = "Hi\r\nBcc: victim@evil.test"
    with pytest.raises(HeaderInjection):
        compose(Outgoing(**values))


def test_a_crash_before_transmitting_requeues_and_after_needs_the_sent_folder(owner, box):
    running(owner, box, contacts=("ada@client.test", "bob@client.test"))
    outbox.plan(box, clock.now())
    first, second = outbox.claim(box, "dead", clock.now())
    outbox.begin_transmit(first, "dead", box.id, "Hi Ada", clock.now())  # …then SIGKILL
    assert outbox.adopt_orphans(box.id, "me", clock.now()) == []  # leases still hold
    set_now(MONDAY_10 + outbox.LEASE + timedelta(seconds=1))
    (orphan,) = outbox.adopt_orphans(box.id, "me", clock.now())
    assert orphan.id == first.id and orphan.phase == TRANSMITTING
    assert OutboxEmail.get_by_id(second.id).status == QUEUED  # never went on the wire
    # A provider that files sent mail itself, and it is not there: it was not accepted.
    assert outbox.settle(orphan, "me", found=False, provider_files_sent=True,
                         now=clock.now()) == QUEUED
    # Without that guarantee nothing can be decided: unknown, shown, never resent by itself.
    (again,) = outbox.claim(box, "s2", clock.now(), size=1)
    outbox.begin_transmit(again, "s2", box.id, "Hi Ada", clock.now())
    set_now(clock.now() + outbox.LEASE + timedelta(seconds=1))
    (orphan,) = outbox.adopt_orphans(box.id, "me", clock.now())
    assert outbox.settle(orphan, "me", found=False, provider_files_sent=False,
                         now=clock.now()) == UNKNOWN
    assert "Send again" in SequenceLog.select().where(SequenceLog.kind == "email_unknown").get().message
    assert outbox.claim(box, "s3", clock.now(), size=5)[0].id == second.id  # not the unknown one
    assert outbox.send_again(OutboxEmail.get_by_id(orphan.id), User.get()) is None
    assert OutboxEmail.get_by_id(orphan.id).status == QUEUED


def test_an_orphan_found_in_sent_is_sent_and_the_contact_moves_on(owner, box):
    running(owner, box, steps=(("Hi", "One", 0), ("", "Two", 24)))
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "dead", clock.now())
    outbox.begin_transmit(row, "dead", box.id, "Hi", clock.now())
    set_now(MONDAY_10 + timedelta(minutes=10))
    (orphan,) = outbox.adopt_orphans(box.id, "me", clock.now())
    assert outbox.settle(orphan, "me", found=True, provider_files_sent=False, now=clock.now()) == SENT
    enrollment = Enrollment.get()
    # The next step counts from when it really went out, not from when it was found.
    assert enrollment.next_due_at == OutboxEmail.get().attempted_at + timedelta(hours=24)
    assert OutboxEmail.get().sent_at == OutboxEmail.get().attempted_at
    assert "found in the Sent folder" in SequenceLog.select().where(
        SequenceLog.kind == "email_sent").get().message


def test_only_the_sent_mark_skips_waiting_for_the_disk(owner, box):
    """mark_sent's commit may return before PostgreSQL's WAL is on disk (a lost one is found
    in Sent); the setting is the transaction's own, so the next `transmitting` mark — which
    must be on disk before its email goes on the wire — waits again."""
    running(owner, box, contacts=("ada@client.test", "bob@client.test"))
    outbox.plan(box, clock.now())
    first, second = outbox.claim(box, "me", clock.now())
    assert outbox.begin_transmit(first, "me", box.id, "Hi Ada", clock.now()) == outbox.GO
    assert outbox.mark_sent(first, "me", "250 2.0.0 OK", clock.now())
    if not isinstance(db.obj, SqliteDatabase):
        assert db.execute_sql("SHOW synchronous_commit").fetchone()[0] == "on"
    assert outbox.begin_transmit(second, "me", box.id, "Hi Bob", clock.now()) == outbox.GO
    assert OutboxEmail.get_by_id(first.id).status == SENT
    assert OutboxEmail.get_by_id(second.id).phase == TRANSMITTING


def test_unblocking_says_how_many_emails_wait(owner, box):
    sequence = running(owner, box, contacts=("a@client.test", "b@client.test", "c@client.test"))
    assert outbox.waiting_counts(box.id) == {sequence.id: 3}
    log_mailbox_transition(box, "reconnect_required", "connected",
                           waiting=outbox.waiting_counts(box.id))
    assert SequenceLog.select().order_by(SequenceLog.id.desc()).first().message == (
        "Mailbox alex@acme.test reconnected — sequence unblocked, 3 waiting emails will be sent")


def test_sends_today_counts_per_utc_day(owner, box):
    running(owner, box, contacts=("a@client.test", "b@client.test"))
    outbox.plan(box, clock.now())
    for row in outbox.claim(box, "s", clock.now()):
        outbox.begin_transmit(row, "s", box.id, "Hi", clock.now())
        outbox.mark_sent(row, "s", "250", clock.now())
    assert outbox.sends_today([box.id]) == {box.id: 2}
    set_now(datetime(2031, 3, 4, 0, 0, 1))
    assert outbox.sends_today([box.id, 999]) == {box.id: 0, 999: 0}


def test_a_superseded_wake_up_stands_down(owner, box):
    from models.sender import Sender

    first = wakeups.set_wake(box.id, clock.now())
    second = wakeups.set_wake(box.id, clock.now())
    assert second == first + 1
    assert Sender(catalog=None).run(box.id, wake=first).next_at is None
    assert wakeups.current_wake(box.id) == second


def test_paused_or_removed_mid_batch_stops_and_the_rest_wait(owner, box):
    sequence = running(owner, box, contacts=("a@client.test", "b@client.test"))
    outbox.plan(box, clock.now())
    first, second = outbox.claim(box, "s", clock.now())
    assert outbox.begin_transmit(first, "s", box.id, "Hi", clock.now()) == outbox.GO
    sequence.pause(owner)
    assert outbox.begin_transmit(second, "s", box.id, "Hi", clock.now()) == outbox.STOP
    outbox.requeue("s", [second.id])
    assert OutboxEmail.get_by_id(second.id).status == QUEUED


def test_send_again_is_one_click_in_the_log_and_another_teams_email_is_a_404(owner, box, client,
                                                                            app):
    from tests.support import Accounts, post_form

    sequence = running(owner, box)
    outbox.plan(box, clock.now())
    (row,) = outbox.claim(box, "dead", clock.now())
    outbox.begin_transmit(row, "dead", box.id, "Hi Ada", clock.now())
    set_now(clock.now() + outbox.LEASE + timedelta(seconds=1))
    (orphan,) = outbox.adopt_orphans(box.id, "me", clock.now())
    outbox.settle(orphan, "me", found=False, provider_files_sent=False, now=clock.now())

    log_page = f"/sequences/{sequence.id}/log"
    html = client.get(log_page).get_data(as_text=True)
    assert "Needs your attention" in html and "Email 1 to ada@client.test: outcome unknown" in html
    assert "1 email needs your attention" in client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    pressed = post_form(client, f"/sequences/{sequence.id}/emails/{row.id}/send-again", page=log_page)
    assert pressed.status_code == 302 and pressed.location.endswith(log_page)
    assert OutboxEmail.get_by_id(row.id).status == QUEUED
    assert "“Send again” pressed by Owner for email 1 to ada@client.test" in \
        client.get(log_page).get_data(as_text=True)
    assert "Needs your attention" not in client.get(log_page).get_data(as_text=True)

    stranger = app.test_client()
    Accounts(stranger).sign_up(email="eve@other.test", team_name="Other")
    refused = post_form(stranger, f"/sequences/{sequence.id}/emails/{row.id}/send-again",
                        page="/sequences")
    assert refused.status_code == 404


def test_the_warm_up_ramp_plans_n_then_n_plus_m_a_day_up_to_the_daily_limit(owner):
    from models.mailboxes import set_sending_limit

    box = factories.mailbox(daily_limit=10)
    set_sending_limit(box.id, 10, 2, 3, clock.now())  # from Monday: 2, 5, 8, 10, 10
    people = tuple(f"p{n}@client.test" for n in range(40))
    running(owner, box, contacts=people, days="0,1,2,3,4,5,6")
    planned = []
    for day in range(5):
        set_now(MONDAY_10 + timedelta(days=day, minutes=1))
        box = type(box).get_by_id(box.id)
        planned.append(outbox.plan(box, clock.now()))
        for row in OutboxEmail.select().where(OutboxEmail.status == QUEUED):
            row.status, row.attempted_at, row.mailbox = SENT, clock.now(), box.id
            row.save()
    assert planned == [2, 5, 8, 10, 10]
    limit_logs = SequenceLog.select().where(SequenceLog.kind == "daily_limit")
    assert "sent or queued 2 of its 2 emails" in limit_logs.order_by(SequenceLog.id).first().message
