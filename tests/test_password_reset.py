"""A forgotten password: an emailed link, through a real SMTP relay, that works once, for an
hour, ends every other session and signs the person in — and tells nobody whether an address
has an account."""

import logging
import re

import pytest

import clock
from models.accounts import User
from tests.smtp_relay import use_relay
from tests.support import Accounts, post_form

NEW = "brand-new-password-7"
SENT = "If an account exists for that address, we sent a link"


def run_queued():
    """Run what the web app queued, here, as the worker would."""
    from tasks import huey

    while (task := huey.dequeue()) is not None:
        huey.execute(task)


@pytest.fixture
def relay(app, monkeypatch, smtp_relay):
    from tasks import huey

    huey.flush()
    started = smtp_relay()
    use_relay(app, monkeypatch, started)
    yield started
    huey.flush()


def _forgot(client, email, **environ):
    return post_form(client, "/password/forgot", {"email": email}, page="/password/forgot",
                     environ_base=environ)


def _link_from(relay, to="owner@acme.test") -> str:
    """The path (with its token) of the newest reset link the relay took for `to`."""
    mine = [m for rcpt, m in relay.messages if rcpt == [to]]
    assert mine, f"no email to {to}"
    assert mine[-1]["Subject"] == "Reset your Tether password"
    body = mine[-1].get_body(("plain",)).get_content()
    return re.search(r"https?://[^/\s]+(/password/reset\?token=\S+)", body).group(1)


def _reset(client, path, password=NEW, again=None):
    token = path.partition("token=")[2]
    return post_form(client, "/password/reset", {"token": token, "password": password,
                                                 "confirm_password": again or password},
                     page="/password/forgot")


def _ask_for_link(client, relay):
    _forgot(client, "Owner@Acme.test ")
    run_queued()
    return _link_from(relay)


def test_the_link_changes_the_password_ends_other_sessions_and_signs_in(
        accounts, client, app, relay, caplog):
    accounts.sign_up()
    phone = app.test_client()
    Accounts(phone).log_in()
    accounts.log_out()
    assert "Forgot your password?" in client.get("/login").get_data(as_text=True)

    caplog.set_level(logging.INFO, logger="tether.access")
    answer = _forgot(client, "owner@acme.test")
    assert answer.status_code == 200 and SENT in answer.get_data(as_text=True)
    run_queued()
    path = _link_from(relay)
    token = path.partition("token=")[2]

    page = client.get(path)
    assert page.status_code == 200 and "owner@acme.test" in page.get_data(as_text=True)
    differ = _reset(client, path, again="something-else-9")
    assert differ.status_code == 422 and "The two new passwords differ" in differ.get_data(True)
    weak = _reset(client, path, password="short")
    assert weak.status_code == 422 and "at least 10" in weak.get_data(as_text=True)
    assert User.get().check_password("correct-horse-9")

    done = _reset(client, path)
    assert done.status_code == 302 and done.location.endswith("/sequences")
    assert client.get("/sequences").status_code == 200  # signed in
    assert phone.get("/sequences").status_code == 302   # every other session ended
    assert Accounts(app.test_client()).log_in().status_code == 401
    assert Accounts(app.test_client()).log_in(password=NEW).status_code == 302

    # The link's token never reaches the access log, nor the queue (it carries the address).
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/password/reset" in logged and token not in logged

    # Used once: the same link, again, changes nothing.
    again = app.test_client()
    assert again.get(path).status_code == 410
    twice = _reset(again, path, password="third-password-5")
    assert twice.status_code == 410 and "used already" in twice.get_data(as_text=True)
    assert Accounts(app.test_client()).log_in(password=NEW).status_code == 302


def test_an_address_without_an_account_gets_the_same_answer_and_no_email(accounts, client,
                                                                         relay):
    accounts.sign_up()
    accounts.log_out()
    known, unknown = _forgot(client, "owner@acme.test"), _forgot(client, "nobody@acme.test")
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: re.sub(r"[\w.-]{60,}", "", r.get_data(as_text=True))  # noqa: E731
    assert strip(known) == strip(unknown) and SENT in strip(unknown)
    run_queued()
    assert [rcpt for rcpt, _ in relay.messages] == [["owner@acme.test"]]


def test_a_bad_address_is_refused_in_words_and_nothing_is_queued(client, relay):
    from tasks import huey

    answer = _forgot(client, "not-an-address")
    assert answer.status_code == 422 and "Enter your email address" in answer.get_data(True)
    assert len(huey.pending()) == 0


def test_an_expired_link_is_refused_and_changes_nothing(accounts, client, app, relay):
    accounts.sign_up()
    accounts.log_out()
    path = _ask_for_link(client, relay)
    clock.set_offset(app.config["TETHER_CLOCK_FILE"], 61 * 60)
    late = client.get(path)
    assert late.status_code == 410 and "expired" in late.get_data(as_text=True)
    assert _reset(client, path).status_code == 410
    assert User.get().check_password("correct-horse-9")


def test_a_link_stops_working_once_the_password_changed_another_way(accounts, client, app,
                                                                    relay):
    accounts.sign_up()
    path = _ask_for_link(app.test_client(), relay)
    post_form(client, "/settings/account", {
        "current_password": "correct-horse-9", "new_password": "changed-in-settings-1",
        "confirm_password": "changed-in-settings-1"}, page="/settings/account")
    stranger = app.test_client()
    refused = _reset(stranger, path)
    assert refused.status_code == 410 and "your password changed" in refused.get_data(True)
    assert User.get().check_password("changed-in-settings-1")


def test_a_tampered_link_is_refused_and_changes_nothing(accounts, client, app, relay):
    accounts.sign_up()
    accounts.log_out()
    path = _ask_for_link(client, relay)
    for forged in (path[:-3] + "abc", "/password/reset?token=", "/password/reset"):
        page = client.get(forged)
        assert page.status_code == 404 and "not valid" in page.get_data(as_text=True), forged
    assert _reset(client, path[:-3] + "abc").status_code == 404
    assert User.get().check_password("correct-horse-9")


def test_asking_for_links_is_rate_limited_per_address_and_per_ip(accounts, client, relay):
    accounts.sign_up()
    accounts.log_out()
    codes = [_forgot(client, "owner@acme.test", REMOTE_ADDR=f"10.0.0.{i}").status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]
    codes = [_forgot(client, f"p{i}@acme.test", REMOTE_ADDR="10.0.1.1").status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]


def test_without_a_mailer_the_page_says_the_same_and_nothing_is_sent(accounts, client, app,
                                                                     monkeypatch, relay):
    accounts.sign_up()
    accounts.log_out()
    use_relay(app, monkeypatch, None)
    answer = _forgot(client, "owner@acme.test")
    assert SENT in answer.get_data(as_text=True)
    run_queued()
    assert relay.messages == []


def test_someone_who_left_the_team_gets_no_link(accounts, client, app, relay):
    accounts.sign_up()
    accounts.log_out()
    User.update(active=False).execute()
    assert SENT in _forgot(client, "owner@acme.test").get_data(as_text=True)
    run_queued()
    assert relay.messages == []
