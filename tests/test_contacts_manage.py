"""Contacts a person keeps up to date: edited (custom fields too), deleted after being told
what that stops, many at once (enroll, remove from a sequence, delete) after a confirm that
says how many, found by search among 10,000 and paged — and never another team's."""

import re

import clock
from models import outbox
from models.accounts import User
from models.contact_actions import delete_contacts
from models.contacts import Contact
from models.outbox import CANCELLED, QUEUED, OutboxEmail
from models.sequences import Enrollment, SequenceLog
from tests import factories
from tests.support import Accounts, post_form
from tests.test_outbox import MONDAY_10, running, set_now
from tests.test_sequences import add_mailbox, running_sequence, team_of


def add(email, **fields):
    return Contact.create(team=team_of(), email=email, **fields)


def bulk(client, data, confirmed=False):
    data = {"q": "", **data, **({"confirmed": "1"} if confirmed else {})}
    return post_form(client, "/contacts/bulk", data, page="/contacts")


def test_edit_a_contact_with_custom_fields_and_bad_input_changes_nothing(accounts, client):
    accounts.sign_up()
    pat = add("pat@example.com", first_name="Pat", company="Acme")
    add("sam@example.com")
    url = f"/contacts/{pat.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert 'value="pat@example.com"' in page and 'value="Acme"' in page

    saved = post_form(client, url, {"email": "Pat.Lee@Example.com", "first_name": "Pat",
                                    "last_name": "Lee", "company": "Acme Ltd", "title": "CTO",
                                    "custom_fields": "industry: Retail\nplan_tier: Gold\n"},
                      page=url)
    assert saved.status_code == 302
    pat = Contact.get_by_id(pat.id)
    assert (pat.email, pat.last_name, pat.company, pat.title) == (
        "pat.lee@example.com", "Lee", "Acme Ltd", "CTO")
    assert pat.custom == {"industry": "Retail", "plan_tier": "Gold"}
    assert "industry: Retail\nplan_tier: Gold" in client.get(url).get_data(as_text=True)

    for values, words in (
            ({"email": "sam@example.com"}, "already in your contacts"),
            ({"email": "pat@"}, "Not a valid email address."),
            ({"first_name": "Pat\r\nBcc: x@evil.test"}, "line break"),
            ({"custom_fields": "Industry Retail"}, "Line 1: write each field as name: value"),
            ({"custom_fields": "company: Other"}, "company is a contact field of its own"),
            ({"custom_fields": "a: 1\na: 2"}, "a appears twice")):
        data = {"email": "pat.lee@example.com", "custom_fields": "industry: Retail", **values}
        refused = post_form(client, url, data, page=url)
        assert refused.status_code == 422 and words in refused.get_data(as_text=True), words
    assert Contact.get_by_id(pat.id).email == "pat.lee@example.com"
    assert Contact.get_by_id(pat.id).custom == {"industry": "Retail", "plan_tier": "Gold"}

    # Clearing a value removes that field.
    post_form(client, url, {"email": "pat.lee@example.com", "custom_fields": "industry:\n"},
              page=url)
    assert Contact.get_by_id(pat.id).custom == {}


def test_delete_says_what_it_stops_then_deletes_them_and_their_waiting_email(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    pat = add("pat@example.com", first_name="Pat")
    enrollment = Enrollment.create(sequence=sequence, contact=pat)
    OutboxEmail.create(enrollment=enrollment, sequence=sequence, contact=pat, position=0,
                       step=sequence.steps_in_order().first(), due_at=clock.now())

    page = client.get(f"/contacts/{pat.id}/delete").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "pat@example.com is active in “Q3 outreach”: no further email" in text
    assert "1 email waiting to go out is cancelled: never sent." in text
    assert Contact.select().count() == 1, "the page only asks"

    deleted = post_form(client, f"/contacts/{pat.id}/delete", {}, page="/contacts")
    assert deleted.status_code == 302
    assert Contact.select().count() == 0
    assert Enrollment.select().count() == 0 and OutboxEmail.select().count() == 0
    log = SequenceLog.get(SequenceLog.kind == "contacts_deleted")
    assert log.message == "pat@example.com deleted by Owner; 1 waiting email cancelled"


def test_deleting_a_contact_mid_batch_sends_them_nothing_more(accounts):
    accounts.sign_up()
    set_now(MONDAY_10)
    owner = User.get()
    box = factories.mailbox(daily_limit=50)
    running(owner, box, contacts=("ada@client.test", "bob@client.test", "cy@client.test"))
    outbox.plan(box, clock.now())
    ada, bob, cy = outbox.claim(box, "sender", clock.now())   # one batch, claimed
    assert outbox.begin_transmit(ada, "sender", box.id, "Hi", clock.now()) == outbox.GO

    # Ada's email is on the wire, Bob's claimed and next: both are deleted now.
    gone = Contact.select().where(Contact.email.in_(["ada@client.test", "bob@client.test"]))
    assert delete_contacts(owner.team_id, gone, owner) == 2

    assert not outbox.mark_sent(ada, "sender", "250 OK", clock.now()), \
        "the email in flight finishes; nothing is recorded for a contact that is gone"
    assert outbox.begin_transmit(bob, "sender", box.id, "Hi", clock.now()) == outbox.SKIP
    assert outbox.begin_transmit(cy, "sender", box.id, "Hi", clock.now()) == outbox.GO
    assert outbox.mark_sent(cy, "sender", "250 OK", clock.now())
    assert outbox.plan(box, clock.now()) == 0 and outbox.claim(box, "next", clock.now()) == []
    assert {r.to_email for r in OutboxEmail.select()} == {"cy@client.test"}


def test_bulk_enroll_remove_and_delete_each_confirm_how_many_first(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    people = [add(f"p{i}@acme-corp.test", company="Acme Corp") for i in range(4)]
    other = add("zed@elsewhere.test", company="Elsewhere")
    ticked = {"contact": [str(people[0].id), str(people[1].id)], "sequence": str(sequence.id)}

    asked = bulk(client, {**ticked, "action": "enroll"})
    assert asked.status_code == 200
    assert "Enroll 2 contacts in “Q3 outreach”?" in asked.get_data(as_text=True)
    assert Enrollment.select().count() == 0, "nothing happens before the confirm"
    done = bulk(client, {**ticked, "action": "enroll"}, confirmed=True)
    assert done.status_code == 302 and Enrollment.select().count() == 2

    everyone = {"all": "1", "q": "acme corp", "sequence": str(sequence.id), "action": "enroll"}
    asked = bulk(client, everyone).get_data(as_text=True)
    assert "Enroll 4 contacts in “Q3 outreach”?" in asked and "2 of them are in it already" in asked
    bulk(client, everyone, confirmed=True)
    assert Enrollment.select().count() == 4
    assert not Enrollment.select().where(Enrollment.contact == other.id).exists()

    removing = {**ticked, "action": "remove"}
    asked = bulk(client, removing).get_data(as_text=True)
    assert "Remove 2 contacts from “Q3 outreach”?" in asked
    bulk(client, removing, confirmed=True)
    assert Enrollment.select().count() == 2
    assert SequenceLog.get(SequenceLog.kind == "contacts_removed").message == \
        "2 contacts removed from the sequence by Owner"

    deleting = {"all": "1", "q": "acme", "action": "delete"}
    asked = " ".join(bulk(client, deleting).get_data(as_text=True).split())
    assert "Delete 4 contacts?" in asked and "Active in “Q3 outreach” (2 of them)" in asked
    assert Contact.select().count() == 5
    bulk(client, deleting, confirmed=True)
    assert [c.email for c in Contact.select()] == ["zed@elsewhere.test"]
    assert Enrollment.select().count() == 0


def test_bulk_without_a_choice_or_with_another_teams_sequence_changes_nothing(app, accounts,
                                                                           client):
    accounts.sign_up()
    pat = add("pat@example.com")
    no_sequence = bulk(client, {"contact": [str(pat.id)], "action": "enroll"}, confirmed=True)
    assert no_sequence.status_code == 302
    assert "Choose a sequence." in client.get("/contacts").get_data(as_text=True)
    nothing_ticked = bulk(client, {"action": "delete"}, confirmed=True)
    assert "Tick the contacts" in client.get(nothing_ticked.location).get_data(as_text=True)
    assert bulk(client, {"contact": [str(pat.id)], "action": "explode"},
                confirmed=True).status_code == 302

    other = app.test_client()
    Accounts(other).sign_up(email="eve@evil.test", team_name="Evil")
    theirs = running_sequence(other, add_mailbox(team_of("eve@evil.test"), email="e@evil.test"))
    assert bulk(client, {"contact": [str(pat.id)], "action": "enroll",
                         "sequence": str(theirs.id)}, confirmed=True).status_code == 404
    # Their ticks never reach our contact: another team's id is not in their selection.
    assert post_form(other, "/contacts/bulk", {"contact": [str(pat.id)], "action": "delete",
                                               "q": "", "confirmed": "1"},
                     page="/contacts").status_code == 302
    assert Contact.select().where(Contact.id == pat.id).exists()
    assert Enrollment.select().count() == 0


def test_another_teams_contact_is_a_404_on_every_route(app, accounts, client):
    accounts.sign_up()
    pat = add("pat@example.com")
    other = app.test_client()
    Accounts(other).sign_up(email="eve@evil.test", team_name="Evil")
    for url in (f"/contacts/{pat.id}/edit", f"/contacts/{pat.id}/delete"):
        assert other.get(url).status_code == 404
        assert post_form(other, url, {"email": "eve@evil.test"},
                         page="/contacts").status_code == 404
    assert Contact.get_by_id(pat.id).email == "pat@example.com"
    assert client.get("/contacts/99999999/edit").status_code == 404


def test_search_and_pages_over_10000_contacts_and_the_url_follows(accounts, client):
    accounts.sign_up()
    team, now = team_of(), clock.now()
    rows = [{"team": team, "email": f"person{i:05d}@example.com", "first_name": f"First{i:05d}",
             "last_name": "Smith" if i % 1000 == 0 else "Jones",
             "company": "Initech" if i % 500 == 0 else "Globex", "created_at": now}
            for i in range(10_000)]
    for start in range(0, len(rows), 1000):
        Contact.insert_many(rows[start:start + 1000]).execute()
    add("100%@percent.test", first_name="Ada", last_name="Lovelace")

    first = client.get("/contacts").get_data(as_text=True)
    assert "10,001 contacts" in first and "Page 1 of 201" in first
    assert first.count('name="contact"') == 50

    htmx = {"HX-Request": "true"}
    second = client.get("/contacts?page=2", headers=htmx)
    html = second.get_data(as_text=True)
    assert html.startswith('{#') is False and '<div id="contacts-table">' in html
    assert "<html" not in html and "Page 2 of 201" in html and html.count('name="contact"') == 50
    assert 'hx-push-url="true"' in html and 'href="/contacts?page=3"' in html
    assert "Vary" in second.headers and "HX-Request" in second.headers["Vary"]

    for q, count in (("initech", 20), ("smith", 10), ("First00042", 1), ("ada lovelace", 1),
                     ("person0999", 10), ("100%", 1), ("_", 0), ("nobody", 0),
                     ("FIRST00042", 1), ("example.com first00042", 0)):  # never across fields
        page = client.get("/contacts", query_string={"q": q}, headers=htmx).get_data(as_text=True)
        if count:
            assert f"{count:,} contact{'s' if count != 1 else ''} matching" in page, q
        else:
            assert "No contact matches" in page, q
    paged = client.get("/contacts?q=globex&page=2").get_data(as_text=True)
    assert "9,980 contacts matching “globex”" in paged and 'href="/contacts?q=globex&amp;page=3"' in paged
    beyond = client.get("/contacts?page=999").get_data(as_text=True)
    assert "Page 201 of 201" in beyond, "a page past the end shows the last one"
    beyond = client.get("/contacts?q=globex&page=999").get_data(as_text=True)
    assert "9,980 contacts matching" in beyond and "Page 200 of 200" in beyond
    assert beyond.count('name="contact"') == 30  # 9,980 = 199 × 50 + 30
    assert client.get("/contacts?page=abc").status_code == 200


def test_a_waiting_email_after_removal_from_a_sequence_is_never_sent(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    pat = add("pat@example.com")
    enrollment = Enrollment.create(sequence=sequence, contact=pat)
    OutboxEmail.create(enrollment=enrollment, sequence=sequence, contact=pat, position=0,
                       step=sequence.steps_in_order().first(), due_at=clock.now())
    asked = bulk(client, {"contact": [str(pat.id)], "action": "remove",
                          "sequence": str(sequence.id)}).get_data(as_text=True)
    assert "1 email waiting to go out is cancelled" in re.sub(r"<[^>]+>", "", asked)
    bulk(client, {"contact": [str(pat.id)], "action": "remove", "sequence": str(sequence.id)},
         confirmed=True)
    assert OutboxEmail.select().where(OutboxEmail.status.in_((QUEUED, CANCELLED))).count() == 0
    assert Contact.select().count() == 1, "removing from a sequence keeps the contact"
