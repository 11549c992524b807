"""Sign up, sign in, sign out, change password: the doors into Tether."""

from models.accounts import Team, User
from tests.support import post_form


def test_sign_up_creates_a_team_owned_by_the_new_user(accounts, client):
    response = accounts.sign_up()
    assert response.status_code == 302
    user = User.get(User.email == "owner@acme.test")
    assert user.role == "owner" and user.team.name == "Acme"
    assert "argon2" in user.password_hash and "correct-horse" not in user.password_hash
    assert client.get("/settings/email-accounts").status_code == 200


def test_duplicate_sign_up_is_refused_and_changes_nothing(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    response = accounts.sign_up(email="OWNER@acme.test ", team_name="Second")
    assert response.status_code == 422
    assert "exists already" in response.get_data(as_text=True)
    assert Team.select().count() == 1


def test_weak_or_empty_password_is_refused(accounts):
    for password, words in (("", "Choose a password"), ("short", "at least 10"),
                            ("aaaaaaaaaaaa", "too easy")):
        response = accounts.sign_up(password=password)
        assert response.status_code == 422
        assert words in response.get_data(as_text=True)
    assert User.select().count() == 0


def test_log_in_and_out(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    assert client.get("/sequences").status_code == 302
    response = accounts.log_in()
    assert response.status_code == 302 and response.location.endswith("/sequences")
    assert client.get("/sequences").status_code == 200
    accounts.log_out()
    assert client.get("/sequences").status_code == 302


def test_failed_log_in_does_not_reveal_whether_the_address_exists(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    wrong_password = accounts.log_in(password="wrong-password-1")
    unknown_address = accounts.log_in(email="nobody@acme.test")
    assert wrong_password.status_code == unknown_address.status_code == 401
    strip = lambda r: r.get_data(as_text=True).replace("nobody@acme.test", "owner@acme.test")  # noqa: E731
    assert _without_csrf(strip(wrong_password)) == _without_csrf(strip(unknown_address))


def _without_csrf(html):
    import re

    # The signed CSRF token carries a timestamp, so it differs between any two responses.
    return re.sub(r"[\w.-]{60,}", "", html)


def test_log_in_follows_a_local_next_but_never_an_off_site_one(accounts):
    accounts.sign_up()
    accounts.log_out()
    assert accounts.log_in(next_url="/settings/team").location.endswith("/settings/team")
    accounts.log_out()
    for evil in ("https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)"):
        response = accounts.log_in(next_url=evil)
        assert response.location.endswith("/sequences"), evil
        accounts.log_out()


def test_login_attempts_are_rate_limited(accounts):
    accounts.sign_up()
    accounts.log_out()
    codes = [accounts.log_in(password=f"wrong-{i}-password").status_code for i in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # The right password does not get through either while the limit holds.
    assert accounts.log_in().status_code == 429


def test_changing_password_signs_out_other_sessions(accounts, client, app):
    accounts.sign_up()
    other = app.test_client()
    post_form(other, "/login", {"email": "owner@acme.test", "password": "correct-horse-9"})
    assert other.get("/sequences").status_code == 200

    response = post_form(client, "/settings/account", {
        "current_password": "correct-horse-9", "new_password": "battery-staple-7",
        "confirm_password": "battery-staple-7"}, page="/settings/account")
    assert response.status_code == 302
    assert client.get("/sequences").status_code == 200  # this session stays
    assert other.get("/sequences").status_code == 302   # the other one is signed out
    accounts.log_out()
    assert accounts.log_in(password="battery-staple-7").status_code == 302


def test_change_password_with_wrong_current_password_changes_nothing(accounts, client):
    accounts.sign_up()
    before = User.get().password_hash
    response = post_form(client, "/settings/account", {
        "current_password": "not-it-at-all", "new_password": "battery-staple-7",
        "confirm_password": "battery-staple-7"}, page="/settings/account")
    assert response.status_code == 422
    assert "current password is not right" in response.get_data(as_text=True)
    assert User.get().password_hash == before
