"""Sequences as a person uses them: write the emails, start and pause, and watch the toggle
follow the mailbox (orange while it needs reconnecting, is disabled or removed)."""

import re
from datetime import datetime

import clock
from models.accounts import User
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import OutboxEmail
from models.sequence_log import REMOVED
from models.sequences import Sequence, SequenceLog, SequenceStep, log_mailbox_transition
from models.templating import render_subject, render_template_text
from tests.support import post_form

TOKEN_REVOKED = "token expired or revoked"


# ---- What the stories share ----------------------------------------------------------------------

def team_of(email="owner@acme.test"):
    return User.get(User.email == email).team_id


def add_mailbox(team_id, email="alex@acme.test", status=CONNECTED, **fields):
    return Mailbox.create(team=team_id, email=email, provider="google", status=status, **fields)


def new_sequence(client, mailbox, name="Q3 outreach", **fields):
    data = {"name": name, "mailbox": mailbox.id if mailbox else "", "sender_name": "", "days": ["0", "1", "2", "3", "4"],
            "window_start": "09:00", "window_end": "17:00", "timezone": "Europe/Berlin", **fields}
    return post_form(client, "/sequences/new", data, page="/sequences/new")


def running_sequence(client, mailbox, name="Q3 outreach"):
    """A sequence with one email, started: what most stories begin with."""
    new_sequence(client, mailbox, name=name)
    sequence = Sequence.get(Sequence.name == name)
    add_step(client, sequence, subject="Hi {{first_name}}", body="Hello {{first_name|there}}!")
    assert toggle(client, sequence).status_code == 200
    assert Sequence.get_by_id(sequence.id).state == "active"
    return Sequence.get_by_id(sequence.id)


def add_step(client, sequence, subject="Hello", body="Body", wait="0", unit="days"):
    return post_form(client, f"/sequences/{sequence.id}/steps",
                     {"subject": subject, "body": body, "delay_amount": wait,
                      "delay_unit": unit},
                     page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})


def toggle(client, sequence, htmx=True, **data):
    headers = {"HX-Request": "true"} if htmx else {}
    return post_form(client, f"/sequences/{sequence.id}/toggle", data, page="/sequences",
                     headers=headers)


def toggle_of(html, sequence):
    """The toggle element of `sequence` in a page: (data-state, aria-label, tooltip text)."""
    button = re.search(rf'<button[^>]*data-sequence-id="{sequence.id}"[^>]*>', html, re.S)
    assert button, f"no toggle for sequence {sequence.id}"
    state = re.search(r'data-state="(\w+)"', button.group(0)).group(1)
    label = re.search(r'aria-label="([^"]*)"', button.group(0)).group(1)
    tip = re.search(rf'id="tip-{sequence.id}"[^>]*>([^<]*)<', html).group(1)
    return state, label, tip


def log_messages(sequence):
    return [e.message for e in SequenceLog.select().where(SequenceLog.sequence == sequence)
            .order_by(SequenceLog.id)]


def set_status(mailbox, status, cause=""):
    """The mailbox changes as the state machine would change it, then its one event fires."""
    mailbox = Mailbox.get_by_id(mailbox.id)
    old = REMOVED if mailbox.deleted_at else mailbox.status
    Mailbox.update(status=status, status_cause=cause).where(Mailbox.id == mailbox.id).execute()
    log_mailbox_transition(Mailbox.get_by_id(mailbox.id), old, status, cause)


# ---- Writing a sequence --------------------------------------------------------------------------

def test_create_a_sequence_write_its_emails_and_start_it(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    created = new_sequence(client, mailbox, sender_name="Alex from Acme")
    sequence = Sequence.get(Sequence.name == "Q3 outreach")
    assert created.status_code == 302 and created.location.endswith(f"/sequences/{sequence.id}/edit")
    assert sequence.state == "paused", "a new sequence waits until a person starts it"
    assert sequence.window_text == "Mon–Fri, 09:00–17:00 (Europe/Berlin)"

    refused = toggle(client, sequence)
    assert "Add a step before starting this sequence." in refused.get_data(as_text=True)
    assert Sequence.get_by_id(sequence.id).paused

    assert add_step(client, sequence, "Quick question, {{first_name}}", "Hi {{first_name}}").status_code == 200
    follow_up = add_step(client, sequence, "", "Just bumping this up.", wait="3")
    assert follow_up.status_code == 200 and "Email 2" in follow_up.get_data(as_text=True)
    steps = list(sequence.steps_in_order())
    assert [(s.position, s.delay_minutes) for s in steps] == [(0, 0), (1, 3 * 24 * 60)]

    started = toggle(client, sequence)
    assert toggle_of(started.get_data(as_text=True), sequence)[0] == "active"
    page = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    assert "Quick question, {{first_name}}" in page and "3 days after email 1" in page
    assert "Started by Owner" in log_messages(sequence)[-1]


def test_unknown_template_field_is_refused_and_named(accounts, client):
    accounts.sign_up()
    new_sequence(client, add_mailbox(team_of()))
    sequence = Sequence.get()
    response = add_step(client, sequence, "Hi {{firstname}}", "Body")
    assert response.status_code == 422
    assert "Unknown field {{firstname}}" in response.get_data(as_text=True).replace("&#123;", "{")
    response = add_step(client, sequence, "Hi", "Dear {{ first_name }}, at {{ employer }}")
    assert response.status_code == 422 and "{{employer}}" in response.get_data(as_text=True)
    response = add_step(client, sequence, "Hi {{first_name", "Body")
    assert response.status_code == 422 and "not closed" in response.get_data(as_text=True)
    assert SequenceStep.select().count() == 0


def test_line_breaks_in_a_subject_or_sender_name_are_refused(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    response = new_sequence(client, mailbox, sender_name="Alex\r\nBcc: everyone@example.com")
    assert response.status_code == 422 and "without line breaks" in response.get_data(as_text=True)
    assert Sequence.select().count() == 0
    new_sequence(client, mailbox)
    response = add_step(client, Sequence.get(), "Hello\r\nBcc: everyone@example.com", "Body")
    assert response.status_code == 422 and "single line" in response.get_data(as_text=True)
    assert SequenceStep.select().count() == 0


def test_empty_name_and_no_mailbox_are_refused_and_nothing_saved(accounts, client):
    accounts.sign_up()
    mailbox = add_mailbox(team_of())
    response = new_sequence(client, None, name="  ", days=[])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give the sequence a name." in html
    assert "Choose the mailbox this sequence sends from." in html
    assert "Choose at least one day to send on." in html
    response = new_sequence(client, mailbox, window_start="17:00", window_end="09:00",
                            timezone="Mars/Olympus")
    html = response.get_data(as_text=True)
    assert "The window must end after it starts." in html and "Choose a time zone" in html
    assert Sequence.select().count() == 0 and SequenceLog.select().count() == 0


def test_a_removed_mailbox_cannot_be_chosen_for_a_new_sequence(accounts, client):
    accounts.sign_up()
    removed = add_mailbox(team_of(), deleted_at=clock.now())
    response = new_sequence(client, removed)
    assert response.status_code == 422 and Sequence.select().count() == 0


def test_a_sequence_pointed_at_another_teams_mailbox_is_404(app, accounts, client):
    accounts.sign_up()
    other = app.test_client()
    from tests.support import Accounts

    Accounts(other).sign_up(email="eve@evil.test", team_name="Evil")
    theirs = add_mailbox(team_of("eve@evil.test"), email="eve@evil.test")
    assert new_sequence(client, theirs).status_code == 404
    mine = add_mailbox(team_of())
    new_sequence(client, mine)
    sequence = Sequence.get()
    edit = post_form(client, f"/sequences/{sequence.id}/edit",
                     {"name": "x", "mailbox": theirs.id, "days": ["0"], "window_start": "09:00",
                      "window_end": "17:00", "timezone": "UTC"}, page="/sequences/new")
    assert edit.status_code == 404
    assert Sequence.get_by_id(sequence.id).mailbox_id == mine.id


def test_other_teams_sequence_is_404(app, accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    step = sequence.steps_in_order().first()
    other = app.test_client()
    from tests.support import Accounts

    Accounts(other).sign_up(email="eve@evil.test", team_name="Evil")
    for url in (f"/sequences/{sequence.id}", f"/sequences/{sequence.id}/edit",
                f"/sequences/{sequence.id}/log", f"/sequences/{sequence.id}/enroll"):
        assert other.get(url).status_code == 404, url
    for url in (f"/sequences/{sequence.id}/toggle", f"/sequences/{sequence.id}/delete",
                f"/sequences/{sequence.id}/steps", f"/sequences/{sequence.id}/steps/{step.id}",
                f"/sequences/{sequence.id}/steps/{step.id}/delete",
                f"/sequences/{sequence.id}/steps/{step.id}/move"):
        assert post_form(other, url, {"subject": "x", "body": "y"}, page="/sequences").status_code == 404, url
    assert Sequence.get_by_id(sequence.id).state == "active"
    assert SequenceStep.select().count() == 1


def test_editing_a_step_saves_only_that_email(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    step = sequence.steps_in_order().first()
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}",
                         {"subject": "New subject", "body": "New body", "delay_amount": "2",
                          "delay_unit": "hours"}, page=f"/sequences/{sequence.id}/edit",
                         headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.strip().startswith('<article class="card step"')
    assert "Saved" in html
    step = SequenceStep.get_by_id(step.id)
    assert (step.subject, step.body, step.delay_text) == ("New subject", "New body", "2 hours")


def test_removing_a_step_moves_later_emails_and_waiting_contacts_up(accounts, client):
    from models.contacts import Contact
    from models.sequences import Enrollment

    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    add_step(client, sequence, "", "second")
    add_step(client, sequence, "", "third")
    contact = Contact.create(team=sequence.team_id, email="pat@example.com")
    enrollment = Enrollment.create(sequence=sequence, contact=contact, step_index=2,
                                   next_due_at=datetime(2031, 1, 1))
    for step in list(sequence.steps_in_order())[:2]:  # sent the first two, waits for the third
        OutboxEmail.create(enrollment=enrollment, step=step, sequence=sequence, contact=contact,
                           position=step.position, status="sent", due_at=datetime(2030, 1, 1),
                           sent_at=datetime(2030, 1, 1))
    second = SequenceStep.get(SequenceStep.body == "second")
    post_form(client, f"/sequences/{sequence.id}/steps/{second.id}/delete", {},
              page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert [(s.position, s.body) for s in sequence.steps_in_order()] == [
        (0, "Hello {{first_name|there}}!"), (1, "third")]
    assert Enrollment.get().step_index == 1


def test_the_only_email_of_a_running_sequence_cannot_be_removed(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    step = sequence.steps_in_order().first()
    response = post_form(client, f"/sequences/{sequence.id}/steps/{step.id}/delete", {},
                         page=f"/sequences/{sequence.id}/edit", headers={"HX-Request": "true"})
    assert response.status_code == 422 and "Pause the sequence" in response.get_data(as_text=True)
    assert SequenceStep.select().count() == 1


def test_only_its_creator_or_an_admin_deletes_a_sequence(app, accounts, client):
    from tests.test_team import _invite, _join

    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    _, link = _invite(client, email="sam@acme.test", role="member")
    sam, _ = _join(app, link)
    assert sam.get(f"/sequences/{sequence.id}").status_code == 200, "members see the team's sequences"
    assert toggle(sam, sequence).status_code == 200, "and pause them"
    assert post_form(sam, f"/sequences/{sequence.id}/delete", {}, page="/sequences").status_code == 403
    assert post_form(client, f"/sequences/{sequence.id}/delete", {}, page="/sequences").status_code == 302
    assert Sequence.select().count() == 0 and SequenceLog.select().count() == 0


def test_templates_fill_fields_with_fallbacks_and_keep_subjects_on_one_line():
    from models.contacts import Contact

    pat = Contact(email="pat@example.com", first_name="Pat", company="")
    assert render_template_text("Hi {{first_name}} at {{company|your company}}", pat) == \
        "Hi Pat at your company"
    sneaky = Contact(email="x@example.com", first_name="Pat\r\nBcc: all@example.com")
    assert "\n" not in render_subject("Hi {{first_name}}", sneaky)


def test_the_sending_window_follows_its_time_zone():
    sequence = Sequence(window_days="0,1,2,3,4", window_start=9 * 60, window_end=17 * 60,
                        timezone="America/New_York")
    friday_evening = datetime(2025, 3, 7, 23, 0)        # 18:00 in New York
    assert sequence.next_send_time(friday_evening) == datetime(2025, 3, 10, 13, 0)  # Mon 09:00 EDT
    tuesday_noon = datetime(2025, 3, 11, 16, 0)           # 12:00 in New York
    assert sequence.next_send_time(tuesday_noon) == tuesday_noon


def test_the_migration_creates_the_columns_the_models_use(app):
    from models.base import db
    from models.contacts import Contact, ContactImport
    from models.sequences import Enrollment

    for model in (ContactImport, Contact, Sequence, SequenceStep, Enrollment, SequenceLog):
        columns = {c.name for c in db.get_columns(model._meta.table_name)}
        assert columns == set(model._meta.columns), model.__name__
