"""The preview shows each email as a chosen contact will get it — the sender's own rendering,
fields filled, fallbacks used, missing and unknown fields flagged — and a sequence does not
start while a step would go out with an empty subject or an unknown field to an enrolled
contact: the refusal and the preview page name the contacts and the fields."""

import re
from html import unescape

from models.contacts import Contact
from models.mailboxes import RECONNECT_REQUIRED
from models.outbox import OutboxEmail
from models.sequences import Enrollment, Sequence, SequenceStep, enroll
from models.test_send import TestSend
from tests.support import post_form
from tests.test_sequences import add_mailbox, add_step, new_sequence, team_of, toggle


def _sequence(client, *steps, name="Q3 outreach"):
    new_sequence(client, add_mailbox(team_of()), name=name)
    sequence = Sequence.get(Sequence.name == name)
    for subject, body in steps:
        assert add_step(client, sequence, subject, body).status_code == 200
    return sequence


def _contact(email, **fields):
    return Contact.create(team=team_of(), email=email, **fields)


def _enroll(sequence, *contacts):
    owner = sequence.created_by
    enroll(sequence, Contact.select().where(Contact.id.in_([c.id for c in contacts])), owner)


def _text(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_preview_fills_fields_uses_fallbacks_and_flags_what_is_missing(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Quick question, {{first_name|there}}",
                                  "Hi {{first_name|there}},\n\nHow is {{company}} doing? {{title}}"))
    jordan = _contact("jordan@globex.test", first_name="Jordan", company="Globex")
    kim = _contact("kim@initech.test")
    _enroll(sequence, jordan, kim)

    page = client.get(f"/sequences/{sequence.id}/preview?contact={jordan.id}")
    assert page.status_code == 200
    text = _text(page)
    assert "Quick question, Jordan" in text
    assert "Hi Jordan,\n\nHow is Globex doing?" in text
    assert "Missing: empty, no fallback" in text  # {{title}}
    assert "sent as plain text only" in text
    assert "To jordan@globex.test" in re.sub(r"\s+", " ", text) or "jordan@globex.test" in text

    page = _text(client.get(f"/sequences/{sequence.id}/preview?contact={kim.id}"))
    assert "Quick question, there" in page and "Fallback used" in page
    assert page.count("Missing: empty, no fallback") == 2  # {{company}} and {{title}}


def test_preview_is_what_the_sender_composes_for_a_reply_in_the_thread(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello {{first_name|there}}", "First"), ("", "Bumping this"))
    jordan = _contact("jordan@globex.test", first_name="Jordan")
    _enroll(sequence, jordan)
    text = _text(client.get(f"/sequences/{sequence.id}/preview?contact={jordan.id}"))
    assert "Re: Hello Jordan" in text and "Bumping this" in text
    assert "Content-Transfer-Encoding" in text  # the headers as composed, not a copy


def test_another_teams_sequence_or_contact_is_a_404(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello", "Body"))
    ours = _contact("jordan@globex.test")
    accounts.log_out()
    accounts.sign_up(email="eve@evil.test", team_name="Evil")
    theirs = Contact.create(team=team_of("eve@evil.test"), email="x@evil.test")
    assert client.get(f"/sequences/{sequence.id}/preview").status_code == 404
    step = SequenceStep.get(SequenceStep.sequence == sequence)
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
                         {"contact": str(ours.id)}, page="/sequences")
    assert response.status_code == 404
    accounts.log_out()
    accounts.log_in()
    assert client.get(f"/sequences/{sequence.id}/preview?contact={theirs.id}").status_code == 404
    assert client.get(f"/sequences/{sequence.id}/preview?contact=abc").status_code == 404


def test_start_is_refused_naming_the_contacts_and_fields_until_fixed(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("{{first_name}}", "Hello {{first_name|there}}"))
    jordan = _contact("jordan@globex.test", first_name="Jordan")
    kim = _contact("kim@initech.test")
    _enroll(sequence, jordan, kim)

    refused = toggle(client, sequence)
    words = unescape(refused.get_data(as_text=True))
    assert "Not started" in words and "kim@initech.test: email 1, {{first_name}}" in words
    assert "jordan@globex.test" not in words
    assert Sequence.get_by_id(sequence.id).state == "paused"

    page = _text(client.get(f"/sequences/{sequence.id}/preview?contact={jordan.id}"))
    assert "It cannot start yet: 1 problem" in page
    row = re.search(r"kim@initech\.test\s+Email 1\s+\{\{first_name\}\}\s+([^\n]+)", page)
    assert row and "subject is empty" in row.group(1)
    assert "Not sendable" not in page  # Jordan's own preview is fine

    Contact.update(first_name="Kim").where(Contact.id == kim.id).execute()
    assert toggle(client, sequence).status_code == 200
    assert Sequence.get_by_id(sequence.id).state == "active"


def test_an_unknown_field_saved_before_the_check_keeps_it_from_starting(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello", "Body"))
    SequenceStep.update(body="Hi {{firstname}}").execute()  # written around the form's check
    _enroll(sequence, _contact("jordan@globex.test", first_name="Jordan"))
    words = unescape(toggle(client, sequence).get_data(as_text=True))
    assert "{{firstname}}" in words and Sequence.get_by_id(sequence.id).state == "paused"
    assert "Unknown field" in _text(client.get(f"/sequences/{sequence.id}/preview"))


def test_contacts_past_a_step_are_not_held_by_it(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("{{first_name}}", "One"), ("Later", "Two"))
    kim = _contact("kim@initech.test")
    _enroll(sequence, kim)
    Enrollment.update(step_index=1).execute()  # email 1 already went out to Kim
    assert toggle(client, sequence).status_code == 200
    assert Sequence.get_by_id(sequence.id).state == "active"


def test_test_send_through_a_mailbox_that_needs_reconnecting_says_why_and_queues_nothing(
        accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello", "Body"))
    jordan = _contact("jordan@globex.test")
    _enroll(sequence, jordan)
    sequence.mailbox.status, sequence.mailbox.status_cause = RECONNECT_REQUIRED, "token revoked"
    sequence.mailbox.save()
    step = SequenceStep.get(SequenceStep.sequence == sequence)
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
                         {"contact": str(jordan.id)}, page="/sequences",
                         headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "alex@acme.test needs reconnecting (token revoked), so it cannot send" in \
        unescape(response.get_data(as_text=True))
    assert TestSend.select().count() == 0


def test_test_send_is_queued_with_its_id_only_and_changes_no_enrollment(accounts, client):
    from tasks import huey

    huey.flush()
    accounts.sign_up()
    sequence = _sequence(client, ("Hello {{first_name|there}}", "Body"))
    jordan = _contact("jordan@globex.test")
    _enroll(sequence, jordan)
    before = list(Enrollment.select().dicts())
    step = SequenceStep.get(SequenceStep.sequence == sequence)
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
                         {"contact": str(jordan.id)}, page="/sequences",
                         headers={"HX-Request": "true"})
    assert response.status_code == 200 and "on its way" in response.get_data(as_text=True)
    test = TestSend.get()
    assert (test.to_email, test.status, test.contact_id) == ("owner@acme.test", "queued", jordan.id)
    pending = [t for t in huey.pending() if t.name.endswith("send_test")]
    assert [t.args for t in pending] == [(test.id,)]
    assert list(Enrollment.select().dicts()) == before and OutboxEmail.select().count() == 0
    huey.flush()


def test_test_send_without_a_contact_is_refused_in_words(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("Hello", "Body"))
    step = SequenceStep.get(SequenceStep.sequence == sequence)
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/test-send",
                         {"contact": "x"}, page="/sequences", headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Choose a contact" in response.get_data(as_text=True)
    assert TestSend.select().count() == 0


def test_contacts_who_replied_or_finished_do_not_hold_the_start(accounts, client):
    accounts.sign_up()
    sequence = _sequence(client, ("{{first_name}}", "One"))
    kim, ada = _contact("kim@initech.test"), _contact("ada@client.test")
    _enroll(sequence, kim, ada)
    Enrollment.update(status="replied").where(Enrollment.contact == kim.id).execute()
    Enrollment.update(status="finished").where(Enrollment.contact == ada.id).execute()
    assert toggle(client, sequence).status_code == 200
    assert Sequence.get_by_id(sequence.id).state == "active"
