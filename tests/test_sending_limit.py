"""A mailbox's sending limit, set on its page: a daily limit and an optional warm-up ramp.
Owners, admins and whoever connected the mailbox may change it; bad numbers are refused in
words and change nothing; another team's mailbox is a 404."""

import pytest

from models.mailboxes import Mailbox
from tests import factories
from tests.support import Accounts, post_form


def _save(client, box, **form):
    data = {"daily_limit": "50", **form}
    return post_form(client, f"/settings/email-accounts/{box.id}/limit", data,
                     page=f"/settings/email-accounts/{box.id}")


def test_an_owner_sets_a_limit_and_a_warm_up_and_the_page_shows_todays_limit(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    response = _save(client, box, daily_limit="120", warmup="on", warmup_start="20",
                     warmup_step="10")
    assert response.status_code == 303
    stored = Mailbox.get_by_id(box.id)
    assert (stored.daily_limit, stored.warmup_start, stored.warmup_step) == (120, 20, 10)
    page = client.get(f"/settings/email-accounts/{box.id}").get_data(as_text=True)
    assert "Today: up to <strong>20</strong> emails" in page
    assert "Warming up: 20 on its first day, 10 more each day, up to 120." in page
    rows = client.get("/settings/email-accounts").get_data(as_text=True)
    assert "0 / 20 today" in rows
    # Turning the warm-up off: the whole limit from now on.
    _save(client, box, daily_limit="120")
    stored = Mailbox.get_by_id(box.id)
    assert (stored.warmup_start, stored.warmup_since) == (None, None)


@pytest.mark.parametrize("form,words", [
    ({"daily_limit": "²"}, "Enter a whole number of emails a day"),
    ({"daily_limit": "0"}, "Enter a whole number of emails a day"),
    ({"daily_limit": "10001"}, "Enter a whole number of emails a day"),
    ({"daily_limit": "9223372036854775808"}, "Enter a whole number of emails a day"),
    ({"daily_limit": "30", "warmup": "on", "warmup_start": "40", "warmup_step": "5"},
     "at most the daily limit"),
    ({"daily_limit": "30", "warmup": "on", "warmup_start": "5", "warmup_step": ""},
     "Add at least 1 email a day"),
])
def test_bad_numbers_are_refused_in_words_and_change_nothing(accounts, client, form, words):
    accounts.sign_up()
    box = factories.mailbox()
    response = _save(client, box, **form)
    assert response.status_code == 422 and words in response.get_data(as_text=True)
    stored = Mailbox.get_by_id(box.id)
    assert (stored.daily_limit, stored.warmup_start) == (50, None)


def test_a_member_may_change_only_the_mailboxes_they_connected(app, accounts, client):
    from tests.test_team import _invite, _join

    accounts.sign_up()
    theirs = factories.mailbox()
    _, link = _invite(client, email="mia@acme.test", role="member")
    member, _ = _join(app, link)
    mine = factories.mailbox(owner_email="mia@acme.test", email="mia@acme.test")
    assert _save(member, theirs, daily_limit="10").status_code == 403
    assert _save(member, mine, daily_limit="10").status_code == 303
    assert [Mailbox.get_by_id(b.id).daily_limit for b in (theirs, mine)] == [50, 10]


def test_another_teams_mailbox_is_a_404(app, accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    from models.accounts import User

    User.sign_up("eve@evil.test", "correct-horse-9", team_name="Evil")
    stranger = app.test_client()
    Accounts(stranger).log_in(email="eve@evil.test")
    assert _save(stranger, box, daily_limit="9999").status_code == 404
    assert Mailbox.get_by_id(box.id).daily_limit == 50
