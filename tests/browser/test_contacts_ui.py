"""Contacts in Chromium, through the UI only: search (the URL follows), page, edit a contact
and its custom fields, delete one after reading what that stops, and tick contacts with the
keyboard to delete them in bulk after a confirm that says how many."""

import os
import re

import pytest
from playwright.sync_api import expect

import clock
from models.accounts import User
from models.contacts import Contact
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import OutboxEmail
from models.sequences import Enrollment, Sequence, create_sequence, save_step

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TETHER_SHOTS", "/tmp/shots-contacts")


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def _sign_up(page, live_server):
    page.goto(live_server + "/signup")
    page.get_by_label("Team name").fill("Acme")
    page.get_by_label("Work email").fill("owner@acme.test")
    page.get_by_label("Password").fill("correct-horse-9")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return User.get(User.email == "owner@acme.test")


def _story(owner):
    """120 contacts, Pat among them, enrolled in a running sequence with an email waiting."""
    now = clock.now()
    Contact.insert_many([{"team": owner.team_id, "email": f"lead{i:03d}@globex.test",
                          "first_name": f"Lead{i:03d}", "company": "Globex", "created_at": now}
                         for i in range(120)]).execute()
    pat = Contact.create(team=owner.team_id, email="pat@initech.test", first_name="Pat",
                         last_name="Lee", company="Initech")
    box = Mailbox.create(team=owner.team_id, email="alex@acme.test", provider="google",
                         status=CONNECTED)
    sequence = create_sequence(owner.team_id, owner, name="Q3 founders", mailbox=box,
                               timezone="Europe/Berlin")
    step = save_step(sequence, owner, subject="Hi {{first_name}}", body="Hello!",
                     delay_days=0, delay_hours=0)
    sequence.resume(owner)
    enrollment = Enrollment.create(sequence=sequence, contact=pat)
    OutboxEmail.create(enrollment=enrollment, sequence=sequence, contact=pat, position=0,
                       step=step, due_at=now)
    return Sequence.get_by_id(sequence.id), pat


def test_search_edit_and_delete_a_contact_through_the_page(page, live_server):
    owner = _sign_up(page, live_server)
    _, pat = _story(owner)
    page.goto(live_server + "/contacts")
    expect(page.get_by_text("121 contacts", exact=True)).to_be_visible()
    page.get_by_role("link", name="Older →").click()
    expect(page.get_by_text("Page 2 of 3")).to_be_visible()
    assert page.url.endswith("/contacts?page=2"), "the pager's URL is the page's"
    shot(page, "contacts-page-2")

    page.get_by_label("Search contacts").fill("initech")
    expect(page.get_by_text("1 contact matching “initech”")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/contacts\?q=initech$"))
    shot(page, "contacts-search")

    page.get_by_role("link", name="Edit pat@initech.test").click()
    expect(page.get_by_role("heading", name="Edit contact")).to_be_visible()
    expect(page.get_by_role("link", name="Q3 founders")).to_be_visible()
    page.get_by_label("Company").fill("Initech Europe")
    page.get_by_label("Custom fields").fill("industry: Software\nplan: Gold")
    shot(page, "contact-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("pat@initech.test saved.")).to_be_visible()
    assert Contact.get_by_id(pat.id).company == "Initech Europe"
    assert Contact.get_by_id(pat.id).custom == {"industry": "Software", "plan": "Gold"}

    page.get_by_label("Search contacts").fill("pat")
    page.get_by_role("link", name="Delete pat@initech.test").click()
    expect(page.get_by_role("heading", name="Delete pat@initech.test?")).to_be_visible()
    expect(page.get_by_text("pat@initech.test is active in “Q3 founders”")).to_be_visible()
    expect(page.get_by_text("email waiting to go out is cancelled")).to_be_visible()
    shot(page, "contact-delete-confirm")
    page.get_by_role("button", name="Delete pat@initech.test").click()
    expect(page.get_by_text("pat@initech.test deleted.")).to_be_visible()
    assert not Contact.select().where(Contact.id == pat.id).exists()
    assert OutboxEmail.select().count() == 0


def test_tick_contacts_with_the_keyboard_and_delete_them_after_a_confirm(page, live_server):
    owner = _sign_up(page, live_server)
    _story(owner)
    page.goto(live_server + "/contacts?q=lead00")
    expect(page.get_by_text("10 contacts matching “lead00”")).to_be_visible()
    page.get_by_label("Tick lead009@globex.test").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the next row's box, past its Edit and Delete links
    page.keyboard.press("Space")
    expect(page.get_by_label("Tick lead008@globex.test")).to_be_checked()
    head = page.get_by_label("Tick every contact on this page")
    assert head.evaluate("box => box.indeterminate"), "the head box says 'some are ticked'"
    page.get_by_label("With them").select_option("delete")
    shot(page, "contacts-ticked")
    page.get_by_role("button", name="Ticked contacts…").click()
    expect(page.get_by_role("heading", name="Delete 2 contacts?")).to_be_visible()
    shot(page, "contacts-bulk-confirm")
    assert Contact.select().count() == 121
    page.get_by_role("button", name="Delete 2 contacts").click()
    expect(page.get_by_text("2 contacts deleted.")).to_be_visible()
    assert Contact.select().where(Contact.email.in_(
        ["lead009@globex.test", "lead008@globex.test"])).count() == 0

    head = page.get_by_label("Tick every contact on this page")
    head.check()
    expect(page.get_by_label("Tick lead000@globex.test")).to_be_checked()
    page.get_by_label("With them").select_option("delete")
    page.get_by_role("button", name=re.compile(r"All 8 matching")).click()
    expect(page.get_by_role("heading", name="Delete 8 contacts?")).to_be_visible()


def test_a_csv_imported_again_updates_and_says_new_updated_skipped(page, live_server, tmp_path):
    owner = _sign_up(page, live_server)
    Contact.create(team=owner.team_id, email="pat@initech.test", first_name="Pat",
                   company="Initech")
    Contact.create(team=owner.team_id, email="sam@initech.test", first_name="Sam")
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("email,first_name,company\npat@initech.test,Pat,Initech Europe\n"
                        "sam@initech.test,Sam,\nnia@nile.test,Nia,Nile\nnot-an-address,X,\n")
    page.goto(live_server + "/contacts/import")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check file").click()
    expect(page.get_by_text("already in your contacts will be updated")).to_be_visible()
    shot(page, "import-preview")
    page.get_by_role("button", name="Import 2 contacts").click()
    expect(page.get_by_text("1 new, 1 updated, 2 skipped.")).to_be_visible()
    expect(page.get_by_text("Skipped: 1 unchanged, 1 bad row.")).to_be_visible()
    shot(page, "import-done")
    assert Contact.get(Contact.email == "pat@initech.test").company == "Initech Europe"
    assert Contact.select().count() == 3
