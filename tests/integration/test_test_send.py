"""A test send for real: the step, rendered for a chosen contact, goes through the sequence's
mailbox at the sandbox to the signed-in person's own INBOX (Dovecot), marked as a test; the
contact gets nothing, nothing is counted, and the sequence log says it happened."""

import pytest

from models.contacts import Contact
from models.outbox import OutboxEmail
from models.sequences import (
    Enrollment,
    SequenceLog,
    SequenceStep,
    create_sequence,
    enroll,
    save_step,
)
from models.test_send import SENT, TestSend
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import mail_of, password_user
from tests.support import post_form, wait_for

pytestmark = pytest.mark.sandbox


def test_a_test_send_lands_in_the_senders_own_inbox_marked_and_no_contact_gets_it(
        accounts, client, tether_sandbox, worker):
    sandbox = tether_sandbox
    me = password_user(sandbox, "owner@acme.test")          # the signed-in person's inbox
    jordan = password_user(sandbox, "jordan@globex.test")   # the contact it is rendered for
    accounts.sign_up(email=me)
    box = sandbox_mailbox(sandbox, email="alex@acme.test")
    owner = box.connected_by
    sequence = create_sequence(owner.team_id, owner, name="Q3", mailbox=box)
    save_step(sequence, owner, subject="Hello {{first_name|there}}", body="Hi {{first_name}}, "
              "how is {{company|your team}}?", delay_days=0, delay_hours=0)
    save_step(sequence, owner, subject="", body="Bumping this.", delay_days=2, delay_hours=0)
    contact = Contact.create(team=owner.team_id, email=jordan, first_name="Jordan")
    enroll(sequence, Contact.select(), owner)
    before = list(Enrollment.select().dicts())
    second = SequenceStep.get((SequenceStep.sequence == sequence) & (SequenceStep.position == 1))

    for step in list(SequenceStep.select().order_by(SequenceStep.position)):
        response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
                             {"contact": str(contact.id)}, page=f"/sequences/{sequence.id}/preview",
                             headers={"HX-Request": "true"})
        assert response.status_code == 200, response.get_data(as_text=True)
    wait_for(lambda: TestSend.select().where(TestSend.status == SENT).count() == 2,
             "both test sends to go out", deadline=30)

    got = wait_for(lambda: len(mail_of(sandbox, me)) == 2 and mail_of(sandbox, me),
                   "the tests in owner@acme.test's INBOX", deadline=15)
    subjects = sorted(m["Subject"] for m in got)
    assert subjects == ["[Test] Hello Jordan", "[Test] Re: Hello Jordan"]
    first = next(m for m in got if m["Subject"] == "[Test] Hello Jordan")
    assert first["X-Tether-Test"].startswith("yes") and first["From"] == "alex@acme.test"
    assert first.get_content().strip() == "Hi Jordan, how is your team?"
    reply = next(m for m in got if m is not first)
    assert reply["In-Reply-To"] is None, "a test is in no contact's thread"
    assert mail_of(sandbox, jordan) == [], "no contact gets a test"
    assert OutboxEmail.select().count() == 0, "no outbox row: no daily limit, nothing to reply to"
    assert list(Enrollment.select().dicts()) == before
    logged = [e.message for e in SequenceLog.select().where(SequenceLog.kind == "test_sent")]
    assert any(f"Test of email 2 (as {jordan} would get it) sent to {me}" in m for m in logged)
    page = client.get(f"/sequences/{sequence.id}/test-sends/{TestSend.get(TestSend.step == second).id}")
    assert "look in your inbox" in page.get_data(as_text=True)


def test_a_test_through_a_revoked_mailbox_is_not_sent_and_says_why(
        accounts, client, tether_sandbox, worker):
    sandbox = tether_sandbox
    me = password_user(sandbox, "owner@acme.test")
    accounts.sign_up(email=me)
    box = sandbox_mailbox(sandbox, email="alex@acme.test")
    owner = box.connected_by
    sequence = create_sequence(owner.team_id, owner, name="Q3", mailbox=box)
    step = save_step(sequence, owner, subject="Hello", body="Hi", delay_days=0, delay_hours=0)
    contact = Contact.create(team=owner.team_id, email="jordan@globex.test")
    sandbox.control.remove_access("alex@acme.test")  # the token dies at the provider

    post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
              {"contact": str(contact.id)}, page=f"/sequences/{sequence.id}/preview")
    test = wait_for(lambda: (t := TestSend.get()).done and t, "the test send to end", deadline=30)
    assert test.status == "failed" and test.error.startswith("alex@acme.test could not send it")
    # The failed sign-in asks for a check, which may already have emailed the owner (me) the
    # reconnect notice; the test itself never arrives.
    assert [m for m in mail_of(sandbox, me) if m["X-Tether-Test"]] == []


def test_a_test_waits_while_a_check_holds_the_token_then_goes(accounts, tether_sandbox):
    """A check may be rotating the token: the test goes back to the queue (the task tries
    again shortly) instead of failing, and goes out once the check is done."""
    import clock
    from mail import providers
    from models import credentials, test_send
    from models.mailboxes import Mailbox

    sandbox = tether_sandbox
    me = password_user(sandbox, "owner@acme.test")
    accounts.sign_up(email=me)
    box = sandbox_mailbox(sandbox, email="alex@acme.test")
    Mailbox.update(access_expires_at=clock.now()).where(Mailbox.id == box.id).execute()  # due
    owner = box.connected_by
    sequence = create_sequence(owner.team_id, owner, name="Q3", mailbox=box)
    step = save_step(sequence, owner, subject="Hello", body="Hi", delay_days=0, delay_hours=0)
    contact = Contact.create(team=owner.team_id, email="jordan@globex.test")
    test, _ = test_send.request_test(sequence, step, contact, owner)

    assert credentials.acquire(box.id, "a-check")
    assert test_send.deliver(test.id, providers.current())[0] == test_send.BUSY
    assert TestSend.get_by_id(test.id).status == "queued" and mail_of(sandbox, me) == []
    credentials.release(box.id, "a-check")
    assert test_send.deliver(test.id, providers.current())[0] == SENT
    wait_for(lambda: mail_of(sandbox, me), "the test in my INBOX", deadline=15)
