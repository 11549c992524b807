"""Merge fields for real: a contact's custom field reaches the recipient's INBOX at the
sandbox, filled in for the contact who has it and replaced by its fallback for the one who
does not."""

import json
from datetime import datetime

import pytest

from models.accounts import User
from models.contacts import Contact
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import mail_of, recipients, running, send_pass, set_now
from tests.support import wait_for

pytestmark = pytest.mark.sandbox

MONDAY = datetime(2031, 3, 3, 10, 0)  # 2031-03-03 is a Monday


def test_the_received_email_carries_the_contacts_custom_field(accounts, tether_sandbox, worker):
    accounts.sign_up()
    owner = User.get()
    set_now(MONDAY)
    box = sandbox_mailbox(tether_sandbox, "google")
    ada, bob = recipients(tether_sandbox, "ada@client.test", "bob@client.test")
    Contact.create(team=owner.team_id, email=ada, first_name="Ada",
                   custom_fields=json.dumps({"industry": "Retail", "plan_tier": "Gold"}))
    Contact.create(team=owner.team_id, email=bob, first_name="Bob")
    running(owner, box, contacts=[ada, bob],
            steps=[("{{Industry|Your team}} at a glance",
                    "Hi {{first_name}}, a note for {{industry|your field}} ({{plan_tier|new}}).",
                    0)])
    send_pass(box)
    wait_for(lambda: all(len(mail_of(tether_sandbox, p)) == 1 for p in (ada, bob)), "both")
    (to_ada,), (to_bob,) = mail_of(tether_sandbox, ada), mail_of(tether_sandbox, bob)
    assert to_ada["Subject"] == "Retail at a glance"
    assert to_ada.get_body(("plain",)).get_content().strip() == \
        "Hi Ada, a note for Retail (Gold)."
    assert to_bob["Subject"] == "Your team at a glance"
    assert to_bob.get_body(("plain",)).get_content().strip() == \
        "Hi Bob, a note for your field (new)."
