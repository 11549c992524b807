"""“Reconnect all mine” without a provider: which mailboxes a round visits, in which order, what
Skip and the end of the round do. The round trips themselves: tests/browser/test_reconnect_all.py."""

from models.mailboxes import CONNECTED, RECONNECT_REQUIRED, Mailbox
from tests import factories
from tests.support import post_form

LIST = "/settings/email-accounts"


def _broken(email, provider="google-sandbox", owner="owner@acme.test"):
    return factories.mailbox(owner_email=owner, email=email, provider=provider,
                             status=RECONNECT_REQUIRED)


def test_the_button_counts_only_my_own_broken_mailboxes_and_needs_several(app, accounts, client):
    from tests.test_team import _invite, _join

    accounts.sign_up()
    _broken("ann@acme.test")
    assert "Reconnect all mine" not in client.get(LIST).get_data(as_text=True)  # one: its row
    _broken("ben@acme.test", "microsoft-sandbox")
    factories.mailbox(email="ok@acme.test")
    _, link = _invite(client, email="kim@acme.test", role="member")
    kim, _ = _join(app, link)
    _broken("kim@acme.test", owner="kim@acme.test")
    assert "Reconnect all mine (2)" in client.get(LIST).get_data(as_text=True)
    assert "Reconnect all mine" not in kim.get(LIST).get_data(as_text=True)


def test_a_round_visits_each_in_turn_skip_goes_on_and_the_summary_says_what_is_green(
        accounts, client):
    accounts.sign_up()
    ann = _broken("ann@acme.test")
    ben = _broken("ben@acme.test", "microsoft-sandbox")
    dee = _broken("dee@acme.test", "other")
    started = post_form(client, f"{LIST}/reconnect-all", page=LIST)
    assert started.status_code == 303
    step = client.get(started.location).get_data(as_text=True)
    assert "Reconnecting your mailboxes: <strong>1 of 3</strong>" in step
    assert "Reconnect ann@acme.test" in step
    assert f'action="{LIST}/{ann.id}/reconnect"' in step  # the ordinary reconnect, address check and all
    # ann is reconnected elsewhere meanwhile: the round goes on with ben by itself.
    Mailbox.update(status=CONNECTED).where(Mailbox.id == ann.id).execute()
    assert "Reconnect ben@acme.test" in client.get(f"{LIST}/reconnect-all/step").get_data(as_text=True)
    skipped = post_form(client, f"{LIST}/reconnect-all/skip", page=f"{LIST}/reconnect-all/step")
    # An Other Provider mailbox: its credentials form, with the round's progress on top.
    form = client.get(skipped.location)
    assert form.status_code == 302 and form.location.endswith(f"{LIST}/{dee.id}/credentials")
    html = client.get(form.location).get_data(as_text=True)
    assert "Reconnecting your mailboxes: <strong>3 of 3</strong>" in html
    post_form(client, f"{LIST}/reconnect-all/skip", page=form.location)
    summary = client.get(f"{LIST}/reconnect-all/step", follow_redirects=True).get_data(as_text=True)
    assert "1 of 3 mailboxes connected now" in summary
    assert "Skipped: still needs reconnecting." in summary
    assert Mailbox.get_by_id(ben.id).status == RECONNECT_REQUIRED
    # The round is over: the credentials form no longer steers back to it.
    assert "Reconnecting your mailboxes" not in client.get(form.location).get_data(as_text=True)


def test_with_nothing_to_reconnect_the_button_says_so(accounts, client):
    accounts.sign_up()
    response = post_form(client, f"{LIST}/reconnect-all", page=LIST, follow_redirects=True)
    assert "None of your mailboxes needs reconnecting." in response.get_data(as_text=True)


def test_a_round_left_half_way_stops_steering_after_an_hour(accounts, client):
    from datetime import timedelta

    import clock
    from tests.test_outbox import set_now

    accounts.sign_up()
    ann = _broken("ann@acme.test", "other")
    _broken("ben@acme.test", "other")
    post_form(client, f"{LIST}/reconnect-all", page=LIST)
    assert "1 of 2" in client.get(f"{LIST}/{ann.id}/credentials").get_data(as_text=True)
    set_now(clock.now() + timedelta(hours=2))
    assert "Reconnecting your mailboxes" not in client.get(
        f"{LIST}/{ann.id}/credentials").get_data(as_text=True)
    assert client.get(f"{LIST}/reconnect-all/step").location.endswith("/reconnect-all/done")
