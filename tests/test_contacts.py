"""Contacts as a person brings them in: one by one, or a CSV file checked before anything is
imported, then enrolled in a sequence where each one's status shows."""

import io
import re

from models.contacts import CHUNK, MAX_ROWS, Contact, ContactImport, import_next_chunk
from models.sequences import Enrollment, Sequence, SequenceLog
from tests.support import Accounts, post_form
from tests.test_sequences import add_mailbox, running_sequence, team_of


def upload(client, text, name="contacts.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return post_form(client, "/contacts/import", {"file": (io.BytesIO(data), name)},
                     page="/contacts/import", content_type="multipart/form-data")


def run_to_the_end(client, contact_import):
    """What the progress bar does: ask for the next chunk until the import is done."""
    url = f"/contacts/imports/{contact_import.id}/run"
    for _ in range(100):
        response = post_form(client, url, {}, page="/contacts", headers={"HX-Request": "true"})
        if "import-done" in response.get_data(as_text=True):
            return response
    raise AssertionError("the import never finished")


def test_add_one_contact_and_refuse_a_bad_address_or_a_duplicate(accounts, client):
    accounts.sign_up()
    added = post_form(client, "/contacts/new", {"email": " Pat@Example.com ", "first_name": "Pat"},
                      page="/contacts/new")
    assert added.status_code == 302
    assert Contact.get().email == "pat@example.com"
    again = post_form(client, "/contacts/new", {"email": "pat@example.com"}, page="/contacts/new")
    assert again.status_code == 422 and "already in your contacts" in again.get_data(as_text=True)
    bad = post_form(client, "/contacts/new", {"email": "pat@"}, page="/contacts/new")
    assert bad.status_code == 422 and "Not a valid email address." in bad.get_data(as_text=True)
    injected = post_form(client, "/contacts/new", {"email": "sam@example.com",
                                                   "first_name": "Sam\r\nBcc: x@example.com"},
                         page="/contacts/new")
    assert injected.status_code == 422 and "line break" in injected.get_data(as_text=True)
    assert Contact.select().count() == 1
    assert "pat@example.com" in client.get("/contacts?q=pat").get_data(as_text=True)


def test_csv_import_reports_bad_rows_and_imports_good_ones(accounts, client):
    accounts.sign_up()
    Contact.create(team=team_of(), email="known@example.com")
    csv_text = ("Email,First Name,Last Name,Company,Phone\n"
                "ada@example.com,Ada,Lovelace,Analytical,555\n"
                "not-an-address,Bob,,,\n"
                "ADA@example.com,Ada,Again,,\n"
                "known@example.com,Known,,,\n"
                "grace@example.com,Grace\n"
                ",Nobody,,,\n"
                "linus@example.com,Linus,Torvalds,Linux,\n")
    preview = upload(client, csv_text)
    assert preview.status_code == 302
    contact_import = ContactImport.get()
    page = client.get(preview.location).get_data(as_text=True)
    assert ("3</strong> contacts ready to import: <strong>2</strong> new, <strong>1</strong> "
            "already in your contacts will be updated") in page
    assert "4</strong> rows will be skipped" in page
    assert "Columns ignored: Phone." in page
    reasons = dict(re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td></tr>", page))
    assert reasons == {"3": "Not a valid email address", "4": "Duplicate of line 2",
                       "6": "Missing column: last_name, company", "7": "No email address"}
    assert Contact.select().count() == 1, "nothing is imported before the person says so"

    done = run_to_the_end(client, contact_import)
    assert "2 new, 1 updated, 4 skipped." in done.get_data(as_text=True)
    assert Contact.get(Contact.email == "known@example.com").first_name == "Known"
    assert sorted(c.email for c in Contact.select()) == [
        "ada@example.com", "known@example.com", "linus@example.com"]
    ada = Contact.get(Contact.email == "ada@example.com")
    assert (ada.first_name, ada.last_name, ada.company) == ("Ada", "Lovelace", "Analytical")


def test_a_csv_that_is_not_utf8_is_refused_and_nothing_imported(accounts, client):
    accounts.sign_up()
    latin1 = "email,first_name\nzoe@example.com,Zoë\n".encode("latin-1")
    response = upload(client, latin1)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "not UTF-8" in html and "line 2" in html
    assert ContactImport.select().count() == 0 and Contact.select().count() == 0


def test_a_csv_without_a_header_is_refused(accounts, client):
    accounts.sign_up()
    response = upload(client, "zoe@example.com,Zoe\nada@example.com,Ada\n")
    assert response.status_code == 422
    assert "holds a contact, not column names" in response.get_data(as_text=True)
    response = upload(client, "name,phone\nZoe,555\n")
    assert response.status_code == 422 and "No email column" in response.get_data(as_text=True)
    for empty in ("", "email\n"):
        response = upload(client, empty)
        assert response.status_code == 422
    assert upload(client, b"PK\x03\x04 spreadsheet").status_code == 422
    assert ContactImport.select().count() == 0


def test_a_csv_with_too_many_rows_is_refused_whole(accounts, client):
    accounts.sign_up()
    rows = "".join(f"p{i}@example.com\n" for i in range(100_000))
    response = upload(client, "email\n" + rows)
    assert response.status_code == 422
    assert f"more than {MAX_ROWS:,} rows" in response.get_data(as_text=True)
    assert ContactImport.select().count() == 0 and Contact.select().count() == 0


def test_a_semicolon_csv_from_a_european_excel_is_read(accounts, client):
    accounts.sign_up()
    upload(client, "\ufeffemail;first_name\nzoe@example.com;Zoë\n")
    run_to_the_end(client, ContactImport.get())
    assert Contact.get().first_name == "Zoë"


def test_a_large_import_shows_progress_and_continues_where_it_stopped(accounts, client):
    accounts.sign_up()
    total = CHUNK * 2 + 10
    upload(client, "email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(total)))
    contact_import = ContactImport.get()
    url = f"/contacts/imports/{contact_import.id}/run"

    first = post_form(client, url, {}, page="/contacts", headers={"HX-Request": "true"})
    html = first.get_data(as_text=True)
    assert f'<progress id="import-progress" max="{total}" value="{CHUNK}">' in html
    assert 'hx-trigger="load' in html, "the bar asks for the next chunk by itself"
    assert Contact.select().count() == CHUNK

    # The person closed the tab; coming back to the page carries on from there.
    page = client.get(f"/contacts/imports/{contact_import.id}").get_data(as_text=True)
    assert "Importing… 49%" in page
    done = run_to_the_end(client, contact_import)
    assert f"{total:,} new, 0 updated, 0 skipped." in done.get_data(as_text=True)
    assert Contact.select().count() == total
    assert 'hx-trigger="load' not in done.get_data(as_text=True), "the polling stops"


def test_a_chunk_asked_for_twice_is_written_once(accounts, client):
    accounts.sign_up()
    upload(client, "email\n" + "".join(f"p{i}@example.com\n" for i in range(CHUNK + 5)))
    stale = ContactImport.get()            # two tabs loaded the same state…
    import_next_chunk(stale)
    import_next_chunk(stale)               # …and both ask for the first chunk
    fresh = ContactImport.get()
    assert fresh.done_rows == CHUNK and Contact.select().count() == CHUNK
    import_next_chunk(fresh)
    assert ContactImport.get().status == "done" and Contact.select().count() == CHUNK + 5


def test_cancelling_a_preview_imports_nothing(accounts, client):
    accounts.sign_up()
    upload(client, "email\nzoe@example.com\n")
    contact_import = ContactImport.get()
    post_form(client, f"/contacts/imports/{contact_import.id}/cancel", {}, page="/contacts")
    run_to_the_end_attempt = post_form(client, f"/contacts/imports/{contact_import.id}/run", {},
                                       page="/contacts", headers={"HX-Request": "true"})
    assert "cancelled" in run_to_the_end_attempt.get_data(as_text=True)
    assert Contact.select().count() == 0


def test_enroll_picked_contacts_then_all_of_an_import(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    pat = Contact.create(team=team_of(), email="pat@example.com", first_name="Pat")
    upload(client, "email\nada@example.com\ngrace@example.com\n")
    contact_import = ContactImport.get()
    run_to_the_end(client, contact_import)

    url = f"/sequences/{sequence.id}/enroll"
    picked = post_form(client, url, {"contact": [str(pat.id)]}, page=url)
    assert picked.status_code == 302
    everyone_imported = post_form(client, f"{url}?import={contact_import.id}", {"all": "1"}, page=url)
    assert everyone_imported.status_code == 302
    again = post_form(client, url, {"all": "1"}, page=url)
    assert again.status_code == 302
    enrolled = {e.contact.email for e in Enrollment.select().where(Enrollment.sequence == sequence)}
    assert enrolled == {"pat@example.com", "ada@example.com", "grace@example.com"}
    messages = [e.message for e in SequenceLog.select().where(SequenceLog.kind == "enrolled")]
    assert messages == ["1 contact enrolled by Owner", "2 contacts enrolled by Owner"]
    assert all(e.status == "active" and e.step_index == 0 and e.next_due_at
               for e in Enrollment.select())


def test_each_contacts_status_shows_on_the_sequence_page(accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    for status in ("active", "finished", "replied", "bounced", "unsubscribed"):
        contact = Contact.create(team=team_of(), email=f"{status}@example.com")
        Enrollment.create(sequence=sequence, contact=contact, status=status)
    html = client.get(f"/sequences/{sequence.id}").get_data(as_text=True)
    for status in ("Active", "Finished", "Replied", "Bounced", "Unsubscribed"):
        assert f'">{status}</span>' in html
    replied = client.get(f"/sequences/{sequence.id}?status=replied").get_data(as_text=True)
    assert "replied@example.com" in replied and "bounced@example.com" not in replied
    listing = client.get("/sequences").get_data(as_text=True)
    assert "<strong>1</strong> replied" in listing


def test_another_teams_contacts_and_imports_stay_out_of_reach(app, accounts, client):
    accounts.sign_up()
    sequence = running_sequence(client, add_mailbox(team_of()))
    upload(client, "email\nada@example.com\n")
    contact_import = ContactImport.get()
    other = app.test_client()
    Accounts(other).sign_up(email="eve@evil.test", team_name="Evil")
    assert other.get(f"/contacts/imports/{contact_import.id}").status_code == 404
    assert post_form(other, f"/contacts/imports/{contact_import.id}/run", {},
                     page="/contacts").status_code == 404
    theirs = Contact.create(team=team_of("eve@evil.test"), email="victim@evil.test")
    url = f"/sequences/{sequence.id}/enroll"
    post_form(client, url, {"contact": [str(theirs.id)]}, page=url)
    assert Enrollment.select().count() == 0, "another team's contact is never enrolled"
    assert "ada@example.com" not in other.get("/contacts").get_data(as_text=True)
    assert Sequence.select().count() == 1


def test_an_unclosed_quote_spoils_only_its_own_line_and_each_broken_line_is_named(accounts, client):
    accounts.sign_up()
    csv_text = ("email,first_name,company\n"
                "ada@example.com,Ada,Analytical\n"
                'bob@example.com,"Bob,Builders\n'
                "cy@example.com,Cy,Acme\n"
                'dee@example.com,Dee,"Dee & Co\n'
                "eve@example.com,Eve,Evil\n")
    preview = upload(client, csv_text)
    assert preview.status_code == 302
    page = client.get(preview.location).get_data(as_text=True)
    assert "3</strong> contacts ready to import" in page
    reasons = dict(re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td></tr>", page))
    assert reasons == {"3": "A quote is opened and not closed", "5": "A quote is opened and not closed"}
    run_to_the_end(client, ContactImport.get())
    assert sorted(c.email for c in Contact.select()) == [
        "ada@example.com", "cy@example.com", "eve@example.com"]


def test_a_header_with_an_unclosed_quote_is_refused_in_words(accounts, client):
    accounts.sign_up()
    response = upload(client, 'email,"first_name\nada@example.com,Ada\n')
    assert response.status_code == 422
    assert "Line 1, the header, cannot be read as CSV" in response.get_data(as_text=True)
    assert ContactImport.select().count() == 0
