"""Editing, moving and removing a sequence's emails while contacts are in it: a step a contact
was sent is never sent again, one they were not sent is never skipped, an edited wait
reschedules who waits for it (and the page says how many, before and after), and an email
is rendered from one version of its step. The outbox runs for real here, without the network
(tests/integration/test_step_edits.py sends through the sandbox)."""

import os
from datetime import datetime, timedelta

import clock
from models import outbox
from models.accounts import User
from models.contacts import Contact
from models.outbox import OutboxEmail
from models.sequences import (
    Enrollment,
    Sequence,
    SequenceLog,
    SequenceStep,
    enroll,
    move_step,
    save_step,
)
from tests.support import post_form
from tests.test_sequences import add_mailbox, add_step, new_sequence, team_of, toggle

MONDAY = datetime(2031, 3, 3, 10, 0)  # inside a Mon–Fri 09:00–17:00 window (Europe/Berlin)


def set_now(moment):
    """Move the one clock (tests/integration/test_sending.py does the same for consumers)."""
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"],
                     (moment - clock.now()).total_seconds() + clock._offset())


def _sequence(client, steps, contacts=("ada@client.test",)):
    """A started sequence with `steps` (subject, body, wait in minutes) and `contacts`."""
    new_sequence(client, add_mailbox(team_of()))
    sequence = Sequence.get()
    for subject, body, wait in steps:
        add_step(client, sequence, subject=subject, body=body, wait=str(wait), unit="minutes")
    toggle(client, sequence)
    for address in contacts:
        Contact.create(team=sequence.team_id, email=address, first_name=address[:3].title())
    enroll(sequence, Contact.select(), User.get())
    return Sequence.get_by_id(sequence.id)


def _send_due(sequence, now) -> list[str]:
    """One pass of the outbox's own rules, the server saying 250 to each: the bodies sent."""
    mailbox = sequence.mailbox
    outbox.plan(mailbox, now)
    steps, sent = outbox.StepCache(), []
    for row in outbox.claim(mailbox, "test-owner", now):
        email = outbox.outgoing(row, mailbox, now, steps)
        assert outbox.begin_transmit(row, "test-owner", mailbox.id, email.subject, now) == "go"
        assert outbox.mark_sent(row, "test-owner", "250 OK", now, steps=steps)
        sent.append(email.body)
    return sent


def _bodies_sent(contact_email):
    return [r.step.body for r in OutboxEmail.select().join(Contact, on=(OutboxEmail.contact == Contact.id))
            .where((Contact.email == contact_email) & (OutboxEmail.status == "sent"))
            .order_by(OutboxEmail.sent_at)]


def _move(client, sequence, step, direction):
    return post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/move",
                     {"direction": direction}, page=f"/sequences/{sequence.id}/edit",
                     headers={"HX-Request": "true"})


def _step(body):
    return SequenceStep.get(SequenceStep.body == body)


def test_a_moved_step_is_never_sent_again_and_an_unsent_one_is_never_skipped(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 60), ("", "C", 60)],
                         contacts=("ada@client.test", "bob@client.test"))
    assert _send_due(sequence, MONDAY) == ["A", "A"]
    # Ada also got B; Bob did not yet.
    Enrollment.update(next_due_at=MONDAY + timedelta(days=9)).where(
        Enrollment.contact == Contact.get(email="bob@client.test")).execute()
    later = MONDAY + timedelta(hours=1)
    assert _send_due(sequence, later) == ["B"]

    response = _move(client, sequence, _step("C"), "up")  # A, C, B
    assert response.status_code == 200
    assert [s.body for s in sequence.steps_in_order()] == ["A", "C", "B"]
    html = response.get_data(as_text=True)
    assert "Move email 2 up" in html and "never sends anyone an email twice" in html

    for hours in range(2, 30):  # let every wait pass
        _send_due(sequence, MONDAY + timedelta(hours=hours))
    assert _bodies_sent("ada@client.test") == ["A", "B", "C"]  # C next, B never again
    assert _bodies_sent("bob@client.test") == ["A", "C", "B"]  # the new order, nothing skipped
    assert {e.status for e in Enrollment.select()} == {"finished"}


def test_after_a_move_the_next_email_waits_its_own_wait_after_the_last_one(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 3 * 1440), ("", "C", 30)])
    _send_due(sequence, MONDAY)
    assert Enrollment.get().next_due_at == MONDAY + timedelta(days=3)
    assert move_step(sequence, User.get(), _step("C"), -1) is None
    enrollment = Enrollment.get()
    assert (enrollment.step_index, enrollment.next_due_at) == (1, MONDAY + timedelta(minutes=30))


def test_a_step_without_a_subject_cannot_become_the_first(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 60)])
    response = _move(client, sequence, _step("B"), "up")
    assert response.status_code == 422
    assert "Email 2 has no subject" in response.get_data(as_text=True)
    assert [s.body for s in sequence.steps_in_order()] == ["A", "B"]
    removed = post_form(client, f"/sequences/{sequence.id}/steps/{_step('A').id}/delete", {},
                        page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert removed.status_code == 422 and "cannot be the first email" in removed.get_data(as_text=True)
    assert SequenceStep.select().count() == 2


def test_a_move_that_cannot_be_is_refused_in_words(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, [("Hello", "A", 0), ("Again", "B", 60)])
    for step, direction in ((_step("A"), "up"), (_step("B"), "down"), (_step("A"), "sideways")):
        response = _move(client, sequence, step, direction)
        assert response.status_code == 422
    assert [s.body for s in sequence.steps_in_order()] == ["A", "B"]


def test_a_dragged_email_moves_to_the_place_it_was_dropped_and_odd_places_are_refused(
        accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, [("Hello", "A", 0), ("Again", "B", 60), ("Last", "C", 60),
                                  ("", "D", 60)])
    url = f"/sequences/{sequence.id}/steps/{_step('C').id}/move"
    moved = post_form(client, url, {"to": "1"}, page=f"/sequences/{sequence.id}/edit",
                      headers={"HX-Request": "true"})
    assert moved.status_code == 200
    assert [s.body for s in sequence.steps_in_order()] == ["C", "A", "B", "D"]
    assert "Step 3 moved to place 1" in " ".join(
        e.message for e in SequenceLog.select().where(SequenceLog.sequence == sequence))
    post_form(client, f"/sequences/{sequence.id}/steps/{_step('C').id}/move", {"to": "4"},
              page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert [s.body for s in sequence.steps_in_order()] == ["A", "B", "D", "C"]
    for to in ("0", "5", "abc", "", "３", "99999999999"):
        refused = post_form(client, url, {"to": to}, page=f"/sequences/{sequence.id}/edit",
                            headers={"HX-Request": "true"})
        assert refused.status_code == 422, to
    # D has no subject: dropped first, it is refused in words like a move up.
    refused = post_form(client, f"/sequences/{sequence.id}/steps/{_step('D').id}/move",
                        {"to": "1"}, page=f"/sequences/{sequence.id}/edit",
                        headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "has no subject" in refused.get_data(as_text=True)
    assert [s.body for s in sequence.steps_in_order()] == ["A", "B", "D", "C"]


def test_an_edited_wait_reschedules_who_waits_and_the_page_counts_them(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 3 * 1440)],
                         contacts=("ada@client.test", "bob@client.test", "cy@client.test"))
    _send_due(sequence, MONDAY)
    b = _step("B")
    page = client.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True)
    assert "3 contacts wait for this email: a new wait reschedules them" in page
    assert 'value="3"' in page and '<option selected value="days">' in page

    response = post_form(client, f"/sequences/{sequence.id}/steps/{b.id}",
                         {"subject": "", "body": "B", "delay_amount": "0", "delay_unit": "minutes"},
                         page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert "Saved. 3 contacts waiting for it are rescheduled." in response.get_data(as_text=True)
    assert {e.next_due_at for e in Enrollment.select()} == {MONDAY}  # right after email 1
    assert _send_due(sequence, MONDAY + timedelta(seconds=1)) == ["B", "B", "B"]
    assert "right after email 1" in client.get(f"/sequences/{sequence.id}").get_data(as_text=True)


def test_an_email_waiting_in_the_queue_is_planned_again_by_the_new_wait(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 60)])
    _send_due(sequence, MONDAY)
    outbox.plan(sequence.mailbox, MONDAY + timedelta(hours=2))  # B queued, not yet claimed
    assert OutboxEmail.select().where(OutboxEmail.status == "queued").count() == 1
    step = save_step(sequence, User.get(), _step("B"), delay_minutes=3 * 1440)
    assert step.rescheduled == 1
    assert not OutboxEmail.select().where(OutboxEmail.status == "queued").exists()
    assert Enrollment.get().next_due_at == MONDAY + timedelta(days=3)


def test_editing_only_the_words_reschedules_nobody(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 60)])
    _send_due(sequence, MONDAY)
    due = Enrollment.get().next_due_at
    assert save_step(sequence, User.get(), _step("B"), body="B, better").rescheduled == 0
    assert Enrollment.get().next_due_at == due


def test_a_claimed_email_keeps_the_version_it_was_rendered_from(accounts, client):
    """The sender renders each claimed email from one read of its step: an edit saved in
    between reaches the emails claimed after it, never half of one."""
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Old subject", "Old body", 0)],
                         contacts=("ada@client.test", "bob@client.test"))
    mailbox = sequence.mailbox
    outbox.plan(mailbox, MONDAY)
    first, second = outbox.claim(mailbox, "test-owner", MONDAY, size=1), None
    steps = outbox.StepCache()
    rendered = outbox.outgoing(first[0], mailbox, MONDAY, steps)
    save_step(sequence, User.get(), _step("Old body"), subject="New subject", body="New body")
    again = outbox.outgoing(first[0], mailbox, MONDAY, steps)  # the same batch's read
    assert (rendered.subject, rendered.body) == (again.subject, again.body) == (
        "Old subject", "Old body")
    second = outbox.claim(mailbox, "test-owner-2", MONDAY, size=1)
    fresh = outbox.outgoing(second[0], mailbox, MONDAY, outbox.StepCache())
    assert (fresh.subject, fresh.body) == ("New subject", "New body")


def test_a_blocked_sequence_waits_for_its_mailbox_only_with_emails_that_are_due(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 0), ("", "B", 3 * 1440)],
                         contacts=("ada@client.test", "bob@client.test"))
    ada = Enrollment.get(Enrollment.contact == Contact.get(email="ada@client.test"))
    ada.next_due_at = MONDAY + timedelta(days=2)  # Wednesday 10:00 UTC
    ada.save()
    sequence.mailbox.status = "reconnect_required"
    sequence.mailbox.save()
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "<td>waiting: mailbox</td>" in page  # Bob's email is due now
    assert "<td>Mar 5, 11:00 (once the mailbox is back)</td>" in page  # Ada's, in Berlin time


def test_a_new_wait_in_the_settings_says_how_many_follow_it(accounts, client):
    accounts.sign_up()
    set_now(MONDAY - timedelta(minutes=1))
    sequence = _sequence(client, [("Hello", "A", 60)],
                         contacts=("ada@client.test", "bob@client.test"))
    page = client.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True)
    assert "2 contacts wait for their next email: a new sending window" in page
    response = post_form(client, f"/sequences/{sequence.id}/edit",
                         {"name": sequence.name, "mailbox": sequence.mailbox_id, "sender_name": "",
                          "days": ["0", "1", "2", "3", "4", "5", "6"], "window_start": "08:00",
                          "window_end": "20:00", "timezone": "Europe/Berlin"},
                         page=f"/sequences/{sequence.id}/edit", follow_redirects=True)
    assert "2 waiting contacts now follow the new sending window." in response.get_data(as_text=True)


def test_a_new_sequence_offers_the_browsers_time_zone(accounts, client):
    accounts.sign_up()
    add_mailbox(team_of())
    page = client.get("/sequences/new").get_data(as_text=True)
    assert 'data-browser-timezone="1"' in page and "timezone.js" in page
