"""Warnings before a token dies of a known limit, and the last week of checks at a glance."""

from datetime import timedelta

import clock
from models import check_history, expiry
from models.mailboxes import DISABLED
from tests import factories


def test_a_google_app_in_testing_warns_two_days_before_the_seventh(accounts):
    accounts.sign_up()
    now = clock.now()
    box = factories.mailbox(consented_at=now - timedelta(days=4), refreshed_at=now)
    assert expiry.warning(box, now=now, google_testing=True) is None
    box.consented_at = now - timedelta(days=5, hours=12)
    text = expiry.warning(box, now=now, google_testing=True)
    assert "expires around" in text and "Testing status" in text
    assert expiry.warning(box, now=now, google_testing=False) is None


def test_an_unchecked_microsoft_mailbox_warns_before_ninety_idle_days(accounts):
    accounts.sign_up()
    now = clock.now()
    box = factories.mailbox(provider="microsoft-sandbox", status=DISABLED,
                            refreshed_at=now - timedelta(days=80))
    assert "unused for 90 days" in expiry.warning(box, now=now, google_testing=False)
    box.refreshed_at = now - timedelta(days=30)
    assert expiry.warning(box, now=now, google_testing=False) is None


def test_the_email_accounts_row_shows_the_warning(accounts, client, app):
    accounts.sign_up()
    factories.mailbox(consented_at=clock.now() - timedelta(days=6))
    app.config["GOOGLE_TESTING_MODE"] = True
    try:
        page = client.get("/settings/email-accounts").get_data(as_text=True)
    finally:
        app.config["GOOGLE_TESTING_MODE"] = False
    assert "This connection expires around" in page


def test_the_detail_page_pictures_the_last_week_of_checks(accounts, client):
    accounts.sign_up()
    box = factories.mailbox()
    for outcome in ("passed", "passed", "transient", "refused"):
        check_history.record(box.id, outcome)
    page = client.get(f"/settings/email-accounts/{box.id}").get_data(as_text=True)
    assert "2 passed, 1 met an outage, 1 refused the token or password." in page
    week = page[page.index('<svg class="week"'):]
    assert week[:week.index("</svg>")].count("<rect") == 168 and 'class="refused"' in week
    assert len(check_history.week(box.id)) == 168
