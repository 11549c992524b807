"""Editing a running sequence for real: through the edit page, with a real consumer sending to
the sandbox's Dovecot. An edited step's next email arrives with the new words; a moved step
is never sent twice, while running or paused; a wait edited while contacts wait reschedules
them, as many as the page said; an edit saved while a batch goes out leaves every email whole,
and one saved between two claims reaches the email claimed after it and not the one before."""

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from models.accounts import User
from models.contacts import Contact
from models.outbox import SENT, OutboxEmail
from models.sequences import Enrollment, SequenceStep
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import mail_of, recipients, running, send_pass, set_now
from tests.support import post_form, wait_for

pytestmark = pytest.mark.sandbox

MONDAY = datetime(2031, 3, 3, 10, 0)  # 2031-03-03 is a Monday


def _edit(client, sequence, step, **fields):
    """Save one email through the edit page (htmx, as the page does); its answer's text."""
    amount, unit = fields.pop("wait", ("0", "minutes"))
    data = {"subject": step.subject, "body": step.body, "delay_amount": amount,
            "delay_unit": unit, **fields}
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}", data,
                         page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def _move(client, sequence, step, direction):
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/move",
                         {"direction": direction}, page=f"/sequences/{sequence.id}/edit",
                         headers={"HX-Request": "true"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def _toggle(client, sequence, action):
    post_form(client, f"/sequences/{sequence.id}/toggle", {"action": action}, page="/sequences",
              headers={"HX-Request": "true"})


def _bodies(sandbox, person):
    return [m.get_body(("plain",)).get_content().strip() for m in mail_of(sandbox, person)]


def _step(body):
    return SequenceStep.get(SequenceStep.body == body)


def test_an_edited_step_arrives_with_its_new_words(accounts, client, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    sequence = running(owner, box, contacts=[ada],
                       steps=[("Hello {{first_name}}", "One.", 0), ("", "Two, old words.", 24)])
    send_pass(box)
    wait_for(lambda: len(mail_of(tether_sandbox, ada)) == 1, "email 1")

    page = client.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True)
    assert "1 contact waits for this email" in page
    answer = _edit(client, sequence, _step("Two, old words."), body="Two, new words.",
                   wait=("1", "days"))
    assert "Saved." in answer and "rescheduled" not in answer  # words only: same time

    set_now(MONDAY + timedelta(days=1, seconds=1))
    send_pass(box)
    wait_for(lambda: len(mail_of(tether_sandbox, ada)) == 2, "email 2")
    one, two = mail_of(tether_sandbox, ada)
    assert two.get_body(("plain",)).get_content().strip() == "Two, new words."
    assert two["Subject"] == "Re: Hello Ada" and two["In-Reply-To"] == one["Message-ID"]


def test_a_step_moved_while_running_or_paused_is_never_sent_twice(
        accounts, client, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    ada, bob = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    sequence = running(owner, box, contacts=[ada, bob],
                       steps=[("Hello", "A", 0), ("", "B", 1), ("", "C", 1), ("Last", "D", 1)])
    send_pass(box)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in (ada, bob)), "A")
    # Ada also gets B; Bob's B is not due yet.
    Enrollment.update(next_due_at=MONDAY + timedelta(days=5)).where(
        Enrollment.contact == Contact.get(Contact.email == bob)).execute()
    set_now(MONDAY + timedelta(hours=1, seconds=1))
    send_pass(box)
    wait_for(lambda: len(mail_of(tether_sandbox, ada)) == 2, "B to Ada")

    _move(client, sequence, _step("C"), "up")  # while running: A, C, B, D
    _toggle(client, sequence, "pause")
    _move(client, sequence, _step("D"), "up")  # while paused: A, C, D, B
    _toggle(client, sequence, "start")
    assert [s.body for s in sequence.steps_in_order()] == ["A", "C", "D", "B"]

    for hours in range(2, 8):  # every wait passes, a pass each hour
        set_now(MONDAY + timedelta(hours=hours, seconds=hours))
        send_pass(box)
    wait_for(lambda: {e.status for e in Enrollment.select()} == {"finished"}, "both finished")
    assert _bodies(tether_sandbox, ada) == ["A", "B", "C", "D"]  # B never again
    assert _bodies(tether_sandbox, bob) == ["A", "C", "D", "B"]  # the new order, none skipped


def test_a_wait_edited_while_contacts_wait_reschedules_as_many_as_the_page_said(
        accounts, client, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test", "cy@client.test")
    sequence = running(owner, box, contacts=people,
                       steps=[("Hello", "One.", 0), ("", "Two.", 72)])
    send_pass(box)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in people), "email 1")
    page = client.get(f"/sequences/{sequence.id}/edit").get_data(as_text=True)
    assert "3 contacts wait for this email: a new wait reschedules them" in page

    answer = _edit(client, sequence, _step("Two."), wait=("0", "minutes"))
    assert "Saved. 3 contacts waiting for it are rescheduled." in answer
    # Right after email 1 means now: the saved change wakes the sender, no clock moved.
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 2 for p in people), "email 2")
    assert "right after email 1" in client.get(f"/sequences/{sequence.id}").get_data(as_text=True)


def test_an_edit_saved_while_a_batch_goes_out_leaves_every_email_whole(
        accounts, client, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    people = recipients(tether_sandbox, *(f"p{n}@client.test" for n in range(6)))
    sequence = running(owner, box, contacts=people, steps=[("Old subject", "Old body.", 0)])
    send_pass(box)
    wait_for(lambda: any(mail_of(tether_sandbox, p) for p in people), "the batch to start")
    _edit(client, sequence, _step("Old body."), subject="New subject", body="New body.")
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in people), "every email")
    for person in people:
        (message,) = mail_of(tether_sandbox, person)
        body = message.get_body(("plain",)).get_content().strip()
        assert (message["Subject"], body) in (("Old subject", "Old body."),
                                              ("New subject", "New body."))


@pytest.fixture
def paused_between_claims(monkeypatch, request):
    """A consumer that claims one email at a time and stops before its second claim until
    told to go on (tests/pausing_worker.py); yields (paused marker, resume file)."""
    folder = Path(os.environ["TETHER_INSTANCE_DIR"])
    files = folder / "paused-between_claims", folder / "resume-between_claims"
    for leftover in files:
        leftover.unlink(missing_ok=True)
    monkeypatch.setenv("TETHER_TEST_PAUSE_AT", "between_claims")
    request.getfixturevalue("worker")
    yield files
    files[1].write_text("go")  # never leave the consumer waiting
    for leftover in files:
        leftover.unlink(missing_ok=True)


def test_an_edit_between_two_claims_reaches_the_later_email_only(
        accounts, client, tether_sandbox, paused_between_claims):
    paused, resume = paused_between_claims
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    people = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    sequence = running(owner, box, contacts=people,
                       steps=[("Old subject {{first_name}}", "Old words.", 0)])
    from tasks.sending import send_mailbox

    send_mailbox(box.id)
    wait_for(paused.exists, "the consumer to pause after its first claim")
    (before,) = OutboxEmail.select().where(OutboxEmail.status == SENT)
    after = OutboxEmail.get(OutboxEmail.id != before.id)
    assert after.status == "queued", "the second email is not claimed yet"
    first = before.contact.email
    assert len(mail_of(tether_sandbox, first)) == 1

    _edit(client, sequence, _step("Old words."), subject="New subject {{first_name}}",
          body="New words.")
    resume.write_text("go")
    second = after.contact.email
    wait_for(lambda: len(mail_of(tether_sandbox, second)) == 1, "the email claimed after the edit")

    (old,), (new,) = mail_of(tether_sandbox, first), mail_of(tether_sandbox, second)
    assert (old["Subject"], old.get_body(("plain",)).get_content().strip()) == (
        f"Old subject {before.contact.first_name}", "Old words.")
    assert (new["Subject"], new.get_body(("plain",)).get_content().strip()) == (
        f"New subject {after.contact.first_name}", "New words.")
    assert [e.status for e in OutboxEmail.select()] == [SENT, SENT]
