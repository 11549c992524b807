"""The forms as people meet them: one address rule wherever an address is typed, errors shown
beside the field they are about, and a refused form that changes nothing."""

import io
import re

import pytest

from models.accounts import Invite, User
from models.contacts import MAX_BYTES, Contact, ContactImport
from models.mailboxes import Mailbox
from models.signups import PendingSignup
from models.text import NO_ADDRESS, NOT_AN_ADDRESS, email_address
from tests.support import csrf_token, post_form

OTHER_FORM = {"imap_host": "imap.example.com", "imap_port": "993", "imap_security": "ssl",
              "smtp_host": "smtp.example.com", "smtp_port": "587", "smtp_security": "starttls",
              "username": "", "password": "pw-123456"}


@pytest.mark.parametrize("typed,stored", [
    (" Pat@Example.COM ", "pat@example.com"),
    ("demo@tether.test", "demo@tether.test"),           # the demo team's and the sandbox's TLD
    ("ada@xn--bcher-kva.example", "ada@bücher.example"),  # one form for one address
    ("zoë@bücher.example", "zoë@bücher.example"),
])
def test_an_address_is_stored_in_one_form(typed, stored):
    assert email_address(typed) == stored


@pytest.mark.parametrize("typed", [
    "pat@", "not-an-address", "pat@@example.com", "pat@example", "pat@test", "pat@mail.local",
    "pat@localhost", "pat@box.invalid", "p..t@example.com", '"p t"@example.com',
    "pat@[127.0.0.1]", "p" * 65 + "@example.com", "pat@example.com\r\nBcc: eve@evil.test",
    "pat\u202e@example.com",
])
def test_what_is_not_an_address_is_refused_in_words(typed):
    with pytest.raises(ValueError, match=f"^{NOT_AN_ADDRESS}$"):
        email_address(typed)


def test_no_address_at_all_says_so():
    for typed in ("", "   ", None):
        with pytest.raises(ValueError, match=f"^{NO_ADDRESS}$"):
            email_address(typed)


def test_every_form_that_takes_an_address_refuses_the_same_one(accounts, client):
    """An address on a domain that cannot get mail (.local) used to pass the sign-up, invite
    and mailbox forms, which only looked for an @. Each refuses it now, and stores nothing."""
    bad = "ada@mail.local"
    accounts.sign_up()
    other = client.application.test_client()
    signup = post_form(other, "/signup", {"email": bad, "password": "correct-horse-9"},
                       page="/signup")
    invite = post_form(client, "/settings/team/invites", {"email": bad, "role": "member"},
                       page="/settings/team")
    mailbox = post_form(client, "/settings/email-accounts/other/new", {**OTHER_FORM, "email": bad},
                        page="/settings/email-accounts/other/new")
    contact = post_form(client, "/contacts/new", {"email": bad}, page="/contacts/new")
    for response, words in ((signup, "Enter your email address."),
                            (invite, "Enter the teammate&#39;s email address."),
                            (mailbox, "Enter the mailbox&#39;s email address"),
                            (contact, "Not a valid email address.")):
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)
    preview = post_form(client, "/contacts/import",
                        {"file": (io.BytesIO(f"email\n{bad}\nbo@example.com\n".encode()), "a.csv")},
                        page="/contacts/import", content_type="multipart/form-data")
    assert "Not a valid email address" in client.get(preview.location).get_data(as_text=True)
    assert [u.email for u in User.select()] == ["owner@acme.test"]
    assert not PendingSignup.select().exists() and not Invite.select().exists()
    assert not Mailbox.select().exists() and not Contact.select().exists()


def test_an_error_stands_beside_its_field_and_is_linked_to_it(client):
    response = post_form(client, "/signup", {"email": "pat@", "password": "short-pw",
                                             "name": "Pat", "team_name": "Acme"},
                         page="/signup")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    email = re.search(r'<div class="field has-error">\s*<label for="f-email">Work email</label>'
                      r'\s*(<input[^>]*>).*?<small class="error" id="e-email">([^<]*)</small>',
                      html, re.S)
    assert email, "the address's error belongs to the address field"
    assert 'aria-describedby="e-email"' in email.group(1) and 'aria-invalid="true"' in email.group(1)
    assert 'value="pat@"' in email.group(1), "what was typed is shown back to be corrected"
    assert email.group(2) == "Enter your email address."
    assert '<small class="error" id="e-password">Use at least 10 characters.</small>' in html
    assert "short-pw" not in html, "a password is never sent back"
    assert 'id="e-name"' not in html and 'value="Acme"' in html
    assert not User.select().exists()


def test_a_csv_upload_without_a_file_or_too_large_is_refused_and_nothing_read(accounts, client):
    accounts.sign_up()
    token = csrf_token(client, "/contacts/import")
    missing = client.post("/contacts/import", data={"csrf_token": token},
                          content_type="multipart/form-data")
    assert missing.status_code == 422
    assert "Choose a CSV file to import." in missing.get_data(as_text=True)
    huge = b"email\n" + b"x" * (MAX_BYTES + 1)
    too_big = client.post("/contacts/import", content_type="multipart/form-data",
                          data={"csrf_token": token, "file": (io.BytesIO(huge), "big.csv")})
    assert too_big.status_code == 422
    assert "This file is larger than 10 MB" in too_big.get_data(as_text=True)
    assert not ContactImport.select().exists()


def test_after_an_invite_the_form_is_blank_for_the_next_teammate(accounts, client):
    accounts.sign_up()
    response = post_form(client, "/settings/team/invites", {"email": "Sam@Acme.test",
                                                             "role": "admin"},
                         page="/settings/team", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "/join?token=" in html
    assert re.search(r'<input[^>]*id="f-email"[^>]*value=""', html)
    assert Invite.get().email == "sam@acme.test" and Invite.get().role == "admin"


def test_an_owner_role_is_offered_and_given_by_owners_only(accounts, client):
    accounts.sign_up()
    page = client.get("/settings/team").get_data(as_text=True)
    assert '<option value="owner">Owner</option>' in page
    refused = post_form(client, "/settings/team/invites", {"email": "x@acme.test",
                                                            "role": "superuser"},
                        page="/settings/team")
    assert refused.status_code == 422
    assert "Choose a role you are allowed to give." in refused.get_data(as_text=True)
    assert not Invite.select().exists()


def test_a_wait_that_cannot_be_is_marked_on_the_input_that_is_wrong(accounts, client):
    from models.sequences import Sequence, SequenceStep
    from tests.test_sequences import add_mailbox, add_step, new_sequence, team_of

    accounts.sign_up()
    new_sequence(client, add_mailbox(team_of()))
    response = add_step(client, Sequence.get(), subject="Hi", wait="400", unit="days")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    amount = re.search(r'<input[^>]*id="new-delay_amount"[^>]*>', html).group(0)
    unit = re.search(r'<select[^>]*id="new-delay_unit"[^>]*>.*?</select>', html, re.S).group(0)
    assert 'aria-invalid="true"' in amount and 'aria-describedby="new-e-delay"' in amount
    assert 'value="400"' in amount and '<option selected value="days">' in unit
    assert re.search(r'id="new-e-delay"[^>]*>Wait a whole number between 0 and 365 days.<', html)
    assert not SequenceStep.select().exists()


def test_a_form_posted_without_its_optional_text_fields_is_read_as_empty_ones(client):
    """A request that leaves a text field out (a script, an old cached page) is read as if
    the field were empty — WTForms gives None for it, which once reached the model as a 500."""
    response = post_form(client, "/signup", {"email": "olive@acme.test",
                                             "password": "correct-horse-9"}, page="/signup")
    assert response.status_code == 302
    assert User.get().email == "olive@acme.test" and User.get().team.name == "acme.test team"
