"""A CSV imported again updates the team's contacts by address instead of doubling them, and
says how many rows were new, updated and skipped (unchanged or bad) — counts that match the
rows, for 10,000 rows of which 3,000 are already contacts."""

import re

import clock
from models.contacts import Contact, ContactImport, import_next_chunk
from tests.support import Accounts
from tests.test_contacts import run_to_the_end, upload
from tests.test_sequences import team_of


def test_reimport_updates_by_address_keeps_what_empty_cells_leave_and_counts(accounts, client):
    accounts.sign_up()
    team = team_of()
    Contact.create(team=team, email="ada@example.com", first_name="Ada", company="Old Co",
                   title="CEO")
    Contact.create(team=team, email="same@example.com", first_name="Same")
    csv_text = ("email,first_name,company,title\n"
                "ADA@example.com,Ada,New Co,\n"       # updates company, keeps the title
                "same@example.com,Same,,\n"           # changes nothing: skipped as unchanged
                "new@example.com,Nia,Nile,CTO\n"      # new
                "broken,Bad,,\n")                     # bad
    preview = client.get(upload(client, csv_text).location).get_data(as_text=True)
    words = " ".join(re.sub(r"<[^>]+>", "", preview).split())
    assert "2 contacts ready to import: 1 new, 1 already in your contacts will be updated" in words
    assert "1 row already in your contacts just like that will be skipped as unchanged" in words
    assert "1 row will be skipped (listed below)" in words

    done = run_to_the_end(client, ContactImport.get()).get_data(as_text=True)
    assert "1 new, 1 updated, 2 skipped." in done and "1 unchanged, 1 bad row." in done
    ada = Contact.get(Contact.email == "ada@example.com")
    assert (ada.company, ada.title) == ("New Co", "CEO")
    assert Contact.select().count() == 3, "no contact is doubled"

    other = Accounts(client.application.test_client())
    other.sign_up(email="eve@evil.test", team_name="Evil")
    theirs = Contact.create(team=team_of("eve@evil.test"), email="new@example.com",
                            first_name="Theirs")
    upload(client, "email,first_name\nnew@example.com,Nia 2\n")
    run_to_the_end(client, ContactImport.select().order_by(ContactImport.id.desc()).get())
    assert Contact.get_by_id(theirs.id).first_name == "Theirs", "another team's is untouched"


def test_a_contact_added_between_preview_and_import_is_updated_not_doubled(accounts, client):
    accounts.sign_up()
    upload(client, "email,first_name\nlate@example.com,Late\n")
    Contact.create(team=team_of(), email="late@example.com")   # someone adds it meanwhile
    done = import_next_chunk(ContactImport.get())
    assert (done.imported, done.updated, done.unchanged) == (0, 1, 0)
    assert Contact.get().first_name == "Late" and Contact.select().count() == 1


def test_10000_rows_with_3000_existing_report_counts_that_match_the_rows(accounts, client):
    accounts.sign_up()
    team, now = team_of(), clock.now()
    # 3,000 already there: 2,000 that the file changes (a new company), 1,000 it leaves alone.
    existing = [{"team": team, "email": f"p{i:05d}@example.com", "first_name": f"P{i}",
                 "company": "Same" if i < 1000 else "Before", "created_at": now}
                for i in range(3000)]
    for start in range(0, 3000, 1000):
        Contact.insert_many(existing[start:start + 1000]).execute()
    rows = [f"p{i:05d}@example.com,P{i},{'Same' if i < 1000 else 'After'}" for i in range(10_000)]
    rows[9_990:] = [f"bad-{i}" + ",X,Y" for i in range(10)]     # 10 bad rows
    upload(client, "email,first_name,company\n" + "\n".join(rows) + "\n")
    contact_import = ContactImport.get()
    assert (contact_import.good_count, contact_import.update_count, contact_import.unchanged,
            contact_import.bad_count) == (8_990, 2_000, 1_000, 10)

    done = run_to_the_end(client, contact_import).get_data(as_text=True)
    assert "6,990 new, 2,000 updated, 1,010 skipped." in done
    assert Contact.select().count() == 3_000 + 6_990
    assert Contact.select().where(Contact.company == "After").count() == 2_000 + 6_990
    assert Contact.select().where(Contact.company == "Same").count() == 1_000
