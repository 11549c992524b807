"""Email Accounts with many mailboxes: a hundred a page, every one reachable through the page
links, the poll live for the page shown, one shared CSRF-protected form for the row actions,
and another team's mailbox a 404 wherever its id is given."""

import re
import time

from models.base import db
from models.health import transition
from models.mailboxes import DISABLED, RECONNECT_REQUIRED, Mailbox
from tests import factories
from tests.support import Accounts, csrf_token

URL = "/settings/email-accounts"


def _many(count):
    with db.atomic():
        return [factories.mailbox(email=f"m{n:04}@acme.test", access_token=None,
                                  refresh_token=None) for n in range(1, count + 1)]


def _ids(html):
    return [int(i) for i in re.findall(r'data-mailbox-id="(\d+)"', html)]


def _next(html):
    link = re.search(r'href="([^"]+)" rel="next"', html)
    return link.group(1).replace("&amp;", "&") if link else None


def test_page_links_reach_every_one_of_a_thousand_mailboxes(accounts, client):
    accounts.sign_up()
    boxes = _many(1000)
    seen, url, pages = [], URL, 0
    while url:
        html = client.get(url).get_data(as_text=True)
        assert len(_ids(html)) <= 100 and len(html) < 300_000
        seen += _ids(html)
        pages, url = pages + 1, _next(html)
    assert pages == 10 and sorted(seen) == sorted(b.id for b in boxes)
    last = client.get(f"{URL}?page=10").get_data(as_text=True)
    assert "m1000@acme.test" in last and "Mailboxes 901–1000 of 1,000" in last
    assert 'aria-current="page"' in last and 'rel="next"' not in last
    assert _ids(client.get(f"{URL}?page=99").get_data(as_text=True)) == _ids(last)  # past the end
    assert _ids(client.get(f"{URL}?page=nope").get_data(as_text=True))[0] == boxes[0].id
    jump = client.get(URL, query_string={"mailbox": boxes[456].id}).get_data(as_text=True)
    assert "Mailboxes 401–500" in jump and boxes[456].id in _ids(jump)


def test_the_page_of_another_teams_mailbox_is_a_404(accounts, client, app):
    accounts.sign_up()
    theirs = factories.mailbox()
    rival = app.test_client()
    Accounts(rival).sign_up(email="boss@rival.test", team_name="Rival")
    assert client.get(URL, query_string={"mailbox": theirs.id}).status_code == 200
    for bad in (theirs.id, "abc", "0", str(2**70)):
        assert rival.get(URL, query_string={"mailbox": bad}).status_code == 404, bad
    token = csrf_token(rival, URL)
    answer = rival.post(f"{URL}/{theirs.id}/disable", data={"csrf_token": token})
    assert answer.status_code == 404 and Mailbox.get_by_id(theirs.id).status == "connected"


def test_row_actions_submit_one_shared_csrf_form_and_come_back_to_the_mailboxs_page(accounts,
                                                                                     client):
    accounts.sign_up()
    boxes = _many(150)
    html = client.get(f"{URL}?page=2").get_data(as_text=True)
    section = html[html.index('<section id="email-accounts"'):html.index("</section>")]
    assert section.count("<form") == 1 and section.count('name="csrf_token"') == 1
    target = boxes[120]
    assert (f'id="toggle-{target.id}" form="mailbox-action" '
            f'formaction="{URL}/{target.id}/disable"') in html
    refused = client.post(f"{URL}/{target.id}/disable")  # no token: refused, nothing changes
    assert refused.status_code == 403 and Mailbox.get_by_id(target.id).status == "connected"
    token = re.search(r'<form id="mailbox-action"[^>]*><input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', html).group(1)
    done = client.post(f"{URL}/{target.id}/disable", data={"csrf_token": token})
    assert done.status_code == 303 and Mailbox.get_by_id(target.id).status == DISABLED
    back = client.get(done.location).get_data(as_text=True)
    assert "Mailboxes 101–150 of 150" in back
    assert f'data-mailbox-id="{target.id}" data-status="disabled"' in back
    assert f'formaction="{URL}/{target.id}/enable"' in back


def test_a_status_change_on_the_page_shown_comes_with_the_next_poll(accounts, client):
    accounts.sign_up()
    boxes = _many(130)
    html = client.get(f"{URL}?page=2").get_data(as_text=True)
    assert f'hx-get="{URL}?page=2"' in html
    poll = {"page": "2", "since": re.search(r'data-live-version="(\d+)"', html).group(1),
            "rendered_at": str(int(time.time()))}
    quiet = client.get(URL, query_string=poll, headers={"HX-Request": "true"})
    assert quiet.status_code == 204 and quiet.data == b""
    transition(boxes[125].id, RECONNECT_REQUIRED, cause="Token expired or revoked.")
    fresh = client.get(URL, query_string=poll, headers={"HX-Request": "true"})
    body = fresh.get_data(as_text=True)
    assert fresh.status_code == 200 and "<html" not in body
    assert f'data-mailbox-id="{boxes[125].id}" data-status="reconnect_required"' in body
    assert 'aria-label="Status: Reconnect required"' in body and "Mailboxes 101–130" in body


def test_mailboxes_needing_reconnecting_are_named_on_every_page(accounts, client):
    accounts.sign_up()
    boxes = _many(120)
    transition(boxes[110].id, RECONNECT_REQUIRED, cause="Token expired or revoked.")
    first = client.get(URL).get_data(as_text=True)
    assert boxes[110].id not in _ids(first)
    assert "1 mailbox needs reconnecting:" in first
    link = f'href="{URL}?mailbox={boxes[110].id}">m0111@acme.test</a>'
    assert link in first
    assert f'data-mailbox-id="{boxes[110].id}" data-status="reconnect_required"' in client.get(
        URL, query_string={"mailbox": boxes[110].id}).get_data(as_text=True)
