"""Signing out really ends a session: a cookie copied before, from this browser or another,
no longer signs anyone in afterwards."""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from models.accounts import User
from tests.support import post_form

PASSWORD = "correct-horse-9"


def _copy(client, name):
    """The cookie's value, as someone with access to the browser (or its disk) could copy it."""
    cookie = client.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    return cookie.value


def _browser_with(app, name, value):
    """Another browser that holds nothing but the copied cookie."""
    browser = app.test_client()
    browser.set_cookie(name, value)
    return browser


def _signed_in(browser) -> bool:
    return browser.get("/sequences").status_code == 200


def _sign_in_remembered(client):
    return post_form(client, "/login", {"email": "owner@acme.test", "password": PASSWORD,
                                        "remember": "1"})


def test_a_session_cookie_copied_before_sign_out_no_longer_signs_in(accounts, client, app):
    accounts.sign_up()
    copied = _copy(client, "tether_session")
    assert _signed_in(_browser_with(app, "tether_session", copied))  # the copy works, for now

    accounts.log_out()

    assert not _signed_in(_browser_with(app, "tether_session", copied))
    assert not _signed_in(client)


def test_a_remember_me_cookie_copied_before_sign_out_no_longer_signs_in(accounts, client, app):
    accounts.sign_up()
    accounts.log_out()
    _sign_in_remembered(client)
    copied = _copy(client, "tether_remember")
    assert _signed_in(_browser_with(app, "tether_remember", copied))

    accounts.log_out()

    assert not _signed_in(_browser_with(app, "tether_remember", copied))


def test_sign_out_everywhere_ends_the_sessions_of_every_other_browser(accounts, client, app):
    accounts.sign_up()
    laptop = app.test_client()
    _sign_in_remembered(laptop)
    session, remember = _copy(laptop, "tether_session"), _copy(laptop, "tether_remember")

    page = client.get("/settings/account").get_data(as_text=True)
    assert "Sign out everywhere" in page
    response = post_form(client, "/settings/account/sign-out-everywhere",
                         page="/settings/account")

    assert response.status_code == 302 and response.location.endswith("/login")
    assert "signed out everywhere" in client.get("/login").get_data(as_text=True)
    assert not _signed_in(laptop)
    assert not _signed_in(_browser_with(app, "tether_session", session))
    assert not _signed_in(_browser_with(app, "tether_remember", remember))
    assert not _signed_in(client)
    assert accounts.log_in().status_code == 302  # the password still works, of course


def test_sign_out_everywhere_needs_the_forms_csrf_token_and_a_post(accounts, client, app):
    accounts.sign_up()
    laptop = app.test_client()
    _sign_in_remembered(laptop)

    assert client.get("/settings/account/sign-out-everywhere").status_code == 405
    assert client.post("/settings/account/sign-out-everywhere").status_code == 403

    assert _signed_in(laptop) and _signed_in(client)


def test_changing_password_ends_other_sessions_but_keeps_this_one_remembered(accounts, client,
                                                                             app):
    accounts.sign_up()
    accounts.log_out()
    _sign_in_remembered(client)
    old_remember = _copy(client, "tether_remember")
    laptop = app.test_client()
    _sign_in_remembered(laptop)

    response = post_form(client, "/settings/account", {
        "current_password": PASSWORD, "new_password": "battery-staple-7",
        "confirm_password": "battery-staple-7"}, page="/settings/account")

    assert response.status_code == 302
    assert not _signed_in(laptop)
    assert not _signed_in(_browser_with(app, "tether_remember", old_remember))
    # This browser stays signed in, and "Keep me signed in" still holds for it.
    assert _signed_in(client)
    assert _signed_in(_browser_with(app, "tether_remember", _copy(client, "tether_remember")))


def test_keep_me_signed_in_lasts_thirty_days_at_most(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    response = _sign_in_remembered(client)
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("tether_remember="))
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_person_who_left_the_team_is_signed_out_at_once(accounts, client):
    accounts.sign_up()
    User.update(active=False).execute()
    assert not _signed_in(client)
