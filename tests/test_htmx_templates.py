"""Which template an htmx request gets: the whole page for a normal visit, a boosted link or a
history restore (all three replace the page), and only the partial for a swap inside a page.

The templates are read from Flask's `template_rendered` signal, so a test fails when a view
hands a boosted navigation a bare partial (a page without its layout) or a swap a whole page
(the layout nested inside itself) — even where both would contain the words a test looks for.
"""

import pytest
from flask import template_rendered

from models.contacts import Contact, ContactImport
from models.sequences import Sequence
from tests import factories
from tests.support import csrf_token
from tests.test_sequences import new_sequence, team_of

PLAIN = {}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}
HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
SWAP = {"HX-Request": "true"}


@pytest.fixture
def rendered(app):
    """The names of the templates rendered while the test runs, in order (an included
    partial is part of its page, not a template of its own)."""
    names = []

    def record(sender, template, context, **extra):
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def _get(client, rendered, url, headers):
    rendered.clear()
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, headers, response.status_code)
    assert "HX-Request" in response.headers.get("Vary", ""), "caches must keep both answers apart"
    return response, list(rendered)


def _assert_page_or_partial(client, rendered, url, page, partial):
    for headers in (PLAIN, BOOSTED, HISTORY_RESTORE):
        response, names = _get(client, rendered, url, headers)
        assert names[0] == page, (url, headers, names)
        assert "<html" in response.get_data(as_text=True)
    response, names = _get(client, rendered, url, SWAP)
    assert names[0] == partial, (url, names)
    assert page not in names and "<html" not in response.get_data(as_text=True)


@pytest.fixture
def story(accounts, client):
    """A team with a mailbox, a sequence, a contact and a previewed import."""
    accounts.sign_up()
    mailbox = factories.mailbox()
    new_sequence(client, mailbox)
    Contact.create(team=team_of(), email="ada@example.com", first_name="Ada")
    contact_import = ContactImport.create(team=team_of(), filename="people.csv", total_rows=0)
    return Sequence.get(), contact_import


def test_the_mailboxes_list_is_a_page_for_a_visit_and_a_partial_for_a_swap(story, client,
                                                                            rendered):
    _assert_page_or_partial(client, rendered, "/settings/email-accounts",
                            "mailboxes/index.html", "mailboxes/_list.html")


def test_the_sequences_pages_are_pages_for_a_visit_and_partials_for_a_swap(story, client,
                                                                           rendered):
    sequence, _ = story
    for url, page, partial in (
            ("/sequences", "sequences/index.html", "sequences/_list.html"),
            ("/sequences/new", "sequences/new.html", "sequences/_settings.html"),
            (f"/sequences/{sequence.id}", "sequences/show.html", "sequences/_overview.html"),
            (f"/sequences/{sequence.id}/log", "sequences/log.html", "sequences/_log.html")):
        _assert_page_or_partial(client, rendered, url, page, partial)


def test_the_sequence_editor_is_always_the_whole_page(story, client, rendered):
    """It has no partial of its own to GET: even an htmx swap asking for it gets the page."""
    sequence, _ = story
    for headers in (PLAIN, BOOSTED, SWAP):
        _, names = _get(client, rendered, f"/sequences/{sequence.id}/edit", headers)
        assert names[0] == "sequences/edit.html", (headers, names)


def test_the_contacts_pages_are_pages_for_a_visit_and_partials_for_a_swap(story, client,
                                                                          rendered):
    sequence, contact_import = story
    for url, page, partial in (
            ("/contacts", "contacts/index.html", "contacts/_table.html"),
            ("/contacts?q=ada&page=1", "contacts/index.html", "contacts/_table.html"),
            (f"/contacts/imports/{contact_import.id}", "contacts/import_status.html",
             "contacts/_import.html"),
            (f"/sequences/{sequence.id}/enroll", "contacts/enroll.html",
             "contacts/_enroll_table.html")):
        _assert_page_or_partial(client, rendered, url, page, partial)


def test_the_team_page_is_a_page_for_a_visit_and_a_partial_for_a_swap(story, client, rendered):
    _assert_page_or_partial(client, rendered, "/settings/team", "settings/team.html",
                            "settings/_team.html")


def test_a_form_posted_by_htmx_gets_its_partial_back_and_a_plain_post_the_page(story, client,
                                                                                 rendered):
    """The invite form: htmx swaps the team section; without JavaScript the page comes back."""
    token = csrf_token(client, "/settings/team")
    for headers, expected in ((SWAP, "settings/_team.html"), (PLAIN, "settings/team.html")):
        rendered.clear()
        response = client.post("/settings/team/invites", headers=headers,
                               data={"email": "", "role": "member", "csrf_token": token})
        assert response.status_code == 422
        assert rendered == [expected], headers
