"""Unsubscribing as the people Tether writes to do it: the headers every outreach email
carries, the link's confirm page, a mail app's one-click POST (no cookies, no CSRF token), an
email to the mailto — and the suppression list that keeps them out afterwards, one team at a
time. The sending itself, into a real INBOX, is tests/integration/test_unsubscribe.py's."""

import email
import io
import re
from datetime import timedelta
from email import policy

import pytest

import clock
from mail.inbox import Incoming
from mail.send import compose
from models import outbox, replies
from models.accounts import User
from models.contacts import Contact, ContactImport
from models.sequences import Enrollment, SequenceLog, enroll
from models.suppressions import Suppression
from models.unsubscribes import UnsubscribeLink, token_for
from tests import factories
from tests.support import post_form
from tests.test_outbox import MONDAY_10, running, set_now

ADA = "ada@client.test"


@pytest.fixture
def owner(accounts):
    accounts.sign_up()
    set_now(MONDAY_10)
    return User.get()


@pytest.fixture
def box(owner):
    return factories.mailbox(daily_limit=50)


def _first_email(box):
    """The first email of the mailbox's outbox, composed as it goes on the wire."""
    outbox.plan(box, clock.now())
    (row, *_) = outbox.claim(box, "s", clock.now())
    return email.message_from_bytes(compose(outbox.outgoing(row, box, clock.now())),
                                    policy=policy.default)


def _link_of(message) -> str:
    """The path of the https link in List-Unsubscribe: what a mail app POSTs to."""
    return re.search(r"<https?://[^/>]+(/u/[^>]+)>", str(message["List-Unsubscribe"])).group(1)


def _enrollments(address=ADA, team_id=None):
    query = Enrollment.select().join(Contact).where(Contact.email == address)
    if team_id is not None:
        query = query.where(Contact.team == team_id)
    return list(query)


def _second_team(client, address=ADA):
    """Another team, with the same address enrolled in a sequence of its own."""
    from tests.support import Accounts

    Accounts(client).sign_up(email="owner@beta.test", team_name="Beta")
    other = User.get(User.email == "owner@beta.test")
    other_box = factories.mailbox(owner_email="owner@beta.test", email="sam@beta.test")
    running(other, other_box, name="Beta outreach", contacts=(address,))
    return other


# ---- What every outreach email carries ---------------------------------------------------------

def test_every_outreach_email_carries_both_headers_and_the_link_in_its_text(owner, box):
    sequence = running(owner, box, steps=(("Hi", "Hello.\nNo more? {{unsubscribe_url}}", 0),))
    sequence.unsubscribe_footer = "Not for you? Unsubscribe: {{unsubscribe_url}}"
    sequence.save()
    message = _first_email(box)
    header = str(message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"<(https?://[^>]+)>", header).group(1)
    mailto = re.search(r"<mailto:([^>]+)>", header).group(1)
    assert mailto.startswith(f"{box.email}?subject=Unsubscribe%20")
    body = message.get_content()
    assert body.count(link) == 2  # {{unsubscribe_url}} in the text, and in the footer
    assert body.rstrip().endswith(f"Not for you? Unsubscribe: {link}")
    # The link names no internal id and not the address: an opaque, signed handle.
    token = link.rsplit("/u/", 1)[1]
    assert ADA not in token and "ada" not in token
    handle = UnsubscribeLink.get().handle
    assert handle not in link  # inside a signed token: an edited one is refused (below)


def test_the_token_is_one_per_team_and_address_and_stays_the_same(owner, box):
    first = token_for(owner.team_id, ADA)
    assert token_for(owner.team_id, ADA) == first
    assert token_for(owner.team_id, "bob@client.test") != first
    assert UnsubscribeLink.select().count() == 2


# ---- The link ----------------------------------------------------------------------------------

def test_the_link_asks_to_confirm_so_a_link_scanner_unsubscribes_nobody(owner, box, app):
    running(owner, box)
    path = _link_of(_first_email(box))
    stranger = app.test_client()  # the recipient's browser: never signed in to Tether
    page = stranger.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Unsubscribe?" in html and ADA in html and 'method="post"' in html
    assert "Set-Cookie" not in page.headers
    assert [e.status for e in _enrollments()] == ["active"]
    assert Suppression.select().count() == 0


@pytest.mark.parametrize("as_multipart", [False, True])
def test_a_one_click_post_stops_the_address_in_every_sequence_of_the_team_only(
        owner, box, app, client, as_multipart):
    running(owner, box, name="First")
    running(owner, box, name="Second")
    _second_team(app.test_client())
    path = _link_of(_first_email(box))
    gmail = app.test_client()  # a mail provider's server: no cookies, no token, no Origin
    data = {"List-Unsubscribe": "One-Click"}
    response = gmail.post(path, data=data, content_type="multipart/form-data" if as_multipart
                          else "application/x-www-form-urlencoded")
    assert response.status_code == 200 and "You are unsubscribed" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    assert sorted(e.status for e in _enrollments(team_id=owner.team_id)) == ["unsubscribed"] * 2
    beta = User.get(User.email == "owner@beta.test").team_id
    assert [e.status for e in _enrollments(team_id=beta)] == ["active"]
    (entry,) = Suppression.select()
    assert (entry.team_id, entry.email, entry.reason) == (owner.team_id, ADA, "one_click")
    log = [m for (m,) in SequenceLog.select(SequenceLog.message)
           .where(SequenceLog.kind == "unsubscribed").tuples()]
    assert log == [f"Unsubscribed: {ADA} unsubscribed in one click from their mail app — no "
                   "further steps for this contact"] * 2
    # Replayed (mail providers retry): the same answer, nothing written twice.
    # A webmail's page may send it from its own origin: the Origin check lets this one through.
    again = gmail.post(path, data=data, headers={"Origin": "https://mail.example.net"})
    assert again.status_code == 200
    assert SequenceLog.select().where(SequenceLog.kind == "unsubscribed").count() == 2
    assert Suppression.select().count() == 1
    # The waiting emails of the stopped contact are cancelled, never sent.
    assert outbox.claim(box, "s2", clock.now()) == []


def test_the_confirm_button_unsubscribes_and_a_year_old_link_still_works(owner, box, app):
    running(owner, box)
    path = _link_of(_first_email(box))
    set_now(MONDAY_10 + timedelta(days=400))
    browser = app.test_client()
    assert browser.get(path).status_code == 200
    done = browser.post(path, data={})  # the confirm page's button: no token, no body
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert Suppression.get().reason == "link"
    assert [e.status for e in _enrollments()] == ["unsubscribed"]


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),   # signature edited
    lambda t: t.split(".")[0] + ".x" + t.split(".", 1)[1][1:],     # signature edited
    lambda t: t[:10],                                             # cut short by a mail app
    lambda t: "forged.token",
])
def test_a_tampered_or_forged_token_gets_a_clear_page_and_changes_nothing(owner, box, app,
                                                                          mangle):
    running(owner, box)
    path = _link_of(_first_email(box))
    bad = "/u/" + mangle(path.removeprefix("/u/"))
    for method in ("get", "post"):
        response = getattr(app.test_client(), method)(bad, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.get_data(as_text=True)
    assert [e.status for e in _enrollments()] == ["active"]
    assert Suppression.select().count() == 0


def test_a_token_signed_with_another_key_is_refused(owner, box, app):
    from itsdangerous import URLSafeSerializer

    running(owner, box)
    _first_email(box)
    forged = URLSafeSerializer("not-our-secret", salt="unsubscribe-link").dumps(
        UnsubscribeLink.get().handle)
    assert app.test_client().post(f"/u/{forged}").status_code == 400
    assert Suppression.select().count() == 0


# ---- The mailto --------------------------------------------------------------------------------

def test_an_email_to_the_mailto_unsubscribes_and_another_teams_token_is_ignored(owner, box, app):
    running(owner, box, contacts=(ADA, "bob@client.test"))
    message = _first_email(box)
    subject = re.search(r"subject=([^>]+)>", str(message["List-Unsubscribe"])).group(1)
    from urllib.parse import unquote

    other = _second_team(app.test_client(), address="bob@client.test")
    foreign = token_for(other.team_id, "bob@client.test")
    counts = replies.handle(box.id, [
        Incoming(uid=1, message_id="<u1@client.test>", from_address="someone@alias.test",
                 subject=unquote(subject)),
        Incoming(uid=2, message_id="<u2@client.test>", from_address="someone@alias.test",
                 subject=f"Unsubscribe {foreign}")])
    assert counts["unsubscribe"] == 1
    assert Enrollment.get(Enrollment.contact == Contact.get(
        (Contact.email == ADA) & (Contact.team == owner.team_id))).status == "unsubscribed"
    assert Suppression.get().reason == "mailto"
    assert {e.status for e in _enrollments("bob@client.test")} == {"active"}
    (line,) = SequenceLog.select().where(SequenceLog.kind == "unsubscribed")
    assert line.message.startswith(f"Unsubscribed: {ADA} unsubscribed by email")


def test_a_reply_that_only_says_unsubscribe_unsubscribes_its_sender(owner, box):
    running(owner, box)
    replies.handle(box.id, [Incoming(uid=1, message_id="<r@client.test>", from_address=ADA,
                                     subject="Re: Unsubscribe")])
    assert [e.status for e in _enrollments()] == ["unsubscribed"]
    assert Suppression.get().email == ADA


# ---- Suppressed addresses stay out -------------------------------------------------------------

def test_enrolling_skips_suppressed_addresses_and_says_so(owner, box, client):
    sequence = running(owner, box, contacts=())
    for address in (ADA, "bob@client.test"):
        Contact.create(team=owner.team_id, email=address)
    Suppression.create(team=owner.team_id, email=ADA, reason="link")
    response = post_form(client, f"/sequences/{sequence.id}/enroll", {"all": "1"},
                         page=f"/sequences/{sequence.id}/enroll", follow_redirects=True)
    assert ("1 contact enrolled (1 skipped: on the suppression list (unsubscribed))"
            in response.get_data(as_text=True))
    assert [e.contact.email for e in Enrollment.select()] == ["bob@client.test"]
    assert enroll(sequence, Contact.select(), owner) == (0, 1, 1)


def test_importing_skips_suppressed_addresses_and_says_so(owner, client):
    Suppression.create(team=owner.team_id, email=ADA, reason="one_click")
    data = b"email,first_name\nADA@client.test,Ada\nbob@client.test,Bob\n"
    post_form(client, "/contacts/import", {"file": (io.BytesIO(data), "c.csv")},
              page="/contacts/import", content_type="multipart/form-data")
    contact_import = ContactImport.get()
    assert contact_import.good_count == 1
    assert contact_import.bad == [{"line": 2, "email": ADA,
                                   "reason": "on the suppression list (unsubscribed)"}]


# ---- The suppression list page ------------------------------------------------------------------

def test_the_suppression_list_is_searchable_pageable_and_exportable(owner, client):
    for n in range(60):
        Suppression.create(team=owner.team_id, email=f"p{n:02d}@client.test", reason="link",
                           created_at=MONDAY_10 + timedelta(minutes=n))
    Suppression.create(team=owner.team_id, email="=cmd@client.test", reason="by_hand",
                       created_at=MONDAY_10 + timedelta(hours=2))
    page = client.get("/settings/suppression-list/").get_data(as_text=True)
    assert "61 addresses" in page and "Page 1 of 2" in page and "Unsubscribed by the link" in page
    assert "p00@client.test" in client.get("/settings/suppression-list/?page=2").get_data(
        as_text=True)
    found = client.get("/settings/suppression-list/?q=P07").get_data(as_text=True)
    assert "1 address matching" in found and "p07@client.test" in found
    exported = client.get("/settings/suppression-list/export.csv")
    assert exported.mimetype == "text/csv"
    lines = exported.get_data(as_text=True).splitlines()
    assert lines[0] == "email,reason,added_at_utc" and len(lines) == 62
    assert lines[-1].startswith("'=cmd@client.test,Added by hand")  # no formula in a spreadsheet


def test_a_person_adds_an_address_by_hand_and_bad_input_changes_nothing(owner, client):
    page = "/settings/suppression-list/"
    added = post_form(client, page, {"email": " Pat@Client.test "}, page=page)
    assert added.status_code == 302 and Suppression.get().email == "pat@client.test"
    assert Suppression.get().reason == "by_hand"
    again = post_form(client, page, {"email": "pat@client.test"}, page=page)
    assert again.status_code == 422 and "is on the list already" in again.get_data(as_text=True)
    bad = post_form(client, page, {"email": "pat@"}, page=page)
    assert bad.status_code == 422 and Suppression.select().count() == 1
    no_token = client.post(page, data={"email": "x@client.test"})
    assert no_token.status_code == 403 and Suppression.select().count() == 1


def test_only_owners_and_admins_remove_and_another_teams_entry_is_a_404(owner, client, app,
                                                                        accounts):
    mine = Suppression.create(team=owner.team_id, email=ADA, reason="link")
    other = _second_team(app.test_client())
    theirs = Suppression.create(team=other.team_id, email=ADA, reason="link")
    page = "/settings/suppression-list/"
    assert ADA in client.get(page).get_data(as_text=True)
    gone = post_form(client, f"{page}{theirs.id}/remove", {}, page=page)
    assert gone.status_code == 404 and Suppression.get_or_none(id=theirs.id)
    removed = post_form(client, f"{page}{mine.id}/remove", {}, page=page)
    assert removed.status_code == 302 and Suppression.get_or_none(id=mine.id) is None
    # A member sees the list but may not remove from it.
    kept = Suppression.create(team=owner.team_id, email="bob@client.test", reason="link")
    User.update(role="member").where(User.id == owner.id).execute()
    html = client.get(page).get_data(as_text=True)
    assert "bob@client.test" in html and "Remove" not in html
    refused = post_form(client, f"{page}{kept.id}/remove", {}, page=page)
    assert refused.status_code == 403 and Suppression.get_or_none(id=kept.id)


# ---- The sequence's footer ---------------------------------------------------------------------

def test_the_footer_is_a_sequence_setting_checked_like_a_template(owner, box, client):
    sequence = running(owner, box)
    url = f"/sequences/{sequence.id}/edit"
    settings = {"name": sequence.name, "mailbox": box.id, "sender_name": "",
                "days": ["0", "1", "2", "3", "4"], "window_start": "09:00",
                "window_end": "17:00", "timezone": "UTC"}
    bad = post_form(client, url, {**settings, "unsubscribe_footer": "Bye {{unsub}}"}, page=url)
    assert bad.status_code == 422 and "Unknown field {{unsub}}" in bad.get_data(as_text=True)
    good = post_form(client, url, {**settings,
                                   "unsubscribe_footer": "Not for you? {{unsubscribe_url}}"},
                     page=url)
    assert good.status_code == 302
    from models.sequences import Sequence

    assert Sequence.get_by_id(sequence.id).unsubscribe_footer == "Not for you? {{unsubscribe_url}}"
