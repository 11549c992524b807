"""Malformed requests get a 404 or a message in words, never a bare 500, and change nothing.

Four root causes once ended in "Internal Server Error": ids past 2**63 - 1 in a URL or form,
"²" (which `isdigit()` accepts and `int()` refuses), an empty day, and a day outside the week
that was even saved (the sequence's page then failed for good)."""

import importlib

import pytest

from models.base import db
from models.sequences import Sequence, SequenceStep
from tests.support import post_form
from tests.test_sequences import add_mailbox, add_step, new_sequence, team_of

HUGE = "9223372036854775808"  # 2**63: no row can have it, and the database cannot compare it
BEYOND = "99999999999999999999999"


@pytest.fixture
def sequence(accounts, client):
    accounts.sign_up()
    new_sequence(client, add_mailbox(team_of()))
    seq = Sequence.get()
    add_step(client, seq)
    return seq


@pytest.mark.parametrize("path", [
    f"/sequences/{HUGE}", f"/sequences/{BEYOND}/log", f"/sequences/{HUGE}/edit",
    "/sequences/²", "/sequences/0", f"/contacts/imports/{HUGE}",
])
def test_an_id_no_row_can_have_is_a_404(client, sequence, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", [
    "/sequences/{id}/steps/" + HUGE, "/sequences/{id}/steps/" + HUGE + "/delete",
    "/sequences/{id}/emails/" + HUGE + "/send-again", "/notifications/" + HUGE + "/read",
    "/settings/team/invites/" + BEYOND + "/revoke",
])
def test_a_post_to_an_id_no_row_can_have_is_a_404(client, sequence, path):
    response = post_form(client, path.format(id=sequence.id), page="/sequences")
    assert response.status_code == 404


@pytest.mark.parametrize("page", [HUGE, BEYOND, "²", "-1", ""])
def test_any_page_number_shows_a_page(client, sequence, page):
    for path in ("/contacts", f"/sequences/{sequence.id}", f"/sequences/{sequence.id}/enroll"):
        assert client.get(path, query_string={"page": page}).status_code == 200, path


def test_enrolling_odd_ids_enrolls_nothing_and_says_so(client, sequence):
    response = post_form(client, f"/sequences/{sequence.id}/enroll",
                         {"contact": ["²", HUGE, BEYOND, "-3"], "import": "²"},
                         page=f"/sequences/{sequence.id}/enroll")
    assert response.status_code == 200
    assert "Choose the contacts to enroll." in response.get_data(as_text=True)
    assert client.get(f"/sequences/{sequence.id}/enroll",
                      query_string={"import": HUGE}).status_code == 200


@pytest.mark.parametrize("delay", ["²", "٣", HUGE, "-1", "1.5"])
def test_a_step_delay_that_is_no_number_is_refused_in_words(client, sequence, delay):
    response = add_step(client, sequence, subject="Again", wait=delay)
    assert response.status_code == 422
    assert "Wait a whole number between 0 and" in response.get_data(as_text=True)
    assert SequenceStep.select().count() == 1


@pytest.mark.parametrize("days", [[""], ["56"], ["0", "7"], ["²"], [HUGE]])
def test_sending_days_outside_the_week_are_refused_and_nothing_is_saved(client, sequence, days):
    before = Sequence.get_by_id(sequence.id).window_days
    response = post_form(client, f"/sequences/{sequence.id}/edit",
                         {"name": "Q3 outreach", "mailbox": sequence.mailbox_id, "days": days,
                          "window_start": "09:00", "window_end": "17:00",
                          "timezone": "Europe/Berlin", "sender_name": ""},
                         page=f"/sequences/{sequence.id}/edit")
    assert response.status_code == 422
    assert "days of the week" in response.get_data(as_text=True) or \
        "at least one day" in response.get_data(as_text=True)
    assert Sequence.get_by_id(sequence.id).window_days == before
    assert client.get(f"/sequences/{sequence.id}").status_code == 200


def test_the_model_never_stores_a_day_outside_the_week(sequence):
    stored = Sequence.get_by_id(sequence.id)
    stored.window_days = "0,56"
    with pytest.raises(ValueError):
        stored.save()
    assert Sequence.get_by_id(sequence.id).window_days == "0,1,2,3,4"


def test_a_sequence_stored_with_day_56_is_repaired_by_the_migration(client, sequence):
    Sequence.update(window_days="0,56,3").where(Sequence.id == sequence.id).execute()
    other = Sequence.create(team=sequence.team_id, name="Broken", mailbox=sequence.mailbox_id,
                            created_by=sequence.created_by_id)
    Sequence.update(window_days="56").where(Sequence.id == other.id).execute()
    repair = importlib.import_module("models.migrations.0013_repair_sending_days")
    with db.atomic():
        repair.up(None, db.obj)
    assert Sequence.get_by_id(sequence.id).window_days == "0,3"
    assert Sequence.get_by_id(other.id).window_days == "0,1,2,3,4"
    assert client.get(f"/sequences/{sequence.id}").status_code == 200


@pytest.mark.parametrize("name", ["Q4\u202eoutreach", "Q4\u2066x\u2069", "a" * 121, "Q4\x85next", "Q4\u2028next"])
def test_a_sequence_name_with_direction_overrides_control_characters_or_too_long_is_refused(client, sequence, name):
    response = post_form(client, f"/sequences/{sequence.id}/edit",
                         {"name": name, "mailbox": sequence.mailbox_id, "days": ["0"],
                          "window_start": "09:00", "window_end": "17:00",
                          "timezone": "Europe/Berlin", "sender_name": ""},
                         page=f"/sequences/{sequence.id}/edit")
    assert response.status_code == 422
    assert "at most 120 characters" in response.get_data(as_text=True)
    assert Sequence.get_by_id(sequence.id).name == "Q3 outreach"


def test_a_contact_with_a_direction_override_in_its_name_is_refused(client, sequence):
    from models.contacts import Contact

    response = post_form(client, "/contacts/new", {"email": "eve@client.test",
                                                   "first_name": "Eve\u202egnp.exe"},
                         page="/contacts/new")
    assert response.status_code == 422
    assert "text-direction character" in response.get_data(as_text=True)
    assert Contact.select().count() == 0


@pytest.mark.parametrize("field,value", [("name", "x" * 1_000_000), ("team_name", "t" * 121),
                                         ("name", "Ada\u202eevil"), ("team_name", "Acme\x00")])
def test_sign_up_refuses_huge_or_spoofing_names_in_words(client, field, value):
    from models.accounts import User

    response = post_form(client, "/signup", {"email": "ada@acme.test", "password": "correct-horse-9",
                                             "name": "Ada", "team_name": "Acme", field: value},
                         page="/signup")
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "120 characters or fewer" in text or "text-direction characters" in text
    assert User.select().count() == 0


def test_joining_a_team_refuses_a_spoofing_name(app, client, sequence):
    from models.accounts import User
    from tests.test_team import _invite

    _, link = _invite(client, email="mia@acme.test")
    joiner = app.test_client()
    path = link.split("127.0.0.1:5000", 1)[-1]
    response = post_form(joiner, "/join", {"token": path.split("token=")[1], "name": "Mia\u2066x",
                                           "password": "teammate-pass-1"}, page=path)
    assert response.status_code == 422 and "text-direction characters" in response.get_data(as_text=True)
    assert not User.select().where(User.email == "mia@acme.test").exists()


@pytest.mark.parametrize("field,value", [("imap_port", "²"), ("smtp_port", "٣"), ("imap_port", HUGE),
                                         ("username", "pat\x85x"), ("email", "p" * 250 + "@x.test"),
                                         ("password", "pw\nEHLO evil"), ("imap_host", "h" * 254)])
def test_other_provider_settings_that_cannot_be_used_are_refused_in_words(client, sequence, field, value):
    from models.mailboxes import Mailbox

    before = Mailbox.select().count()
    form = {"email": "pat@example.com", "imap_host": "imap.example.com", "imap_port": "993",
            "imap_security": "ssl", "smtp_host": "smtp.example.com", "smtp_port": "587",
            "smtp_security": "starttls", "username": "", "password": "pw-123456", field: value}
    for path in ("/settings/email-accounts/other/new", "/settings/email-accounts/other/test"):
        response = post_form(client, path, form, page="/settings/email-accounts/other/new")
        assert response.status_code == 422, (path, response.status_code)
    assert Mailbox.select().count() == before
