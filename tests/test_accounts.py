"""Sign up, sign in, sign out, change password: the doors into Tether."""

import re

from models.accounts import Team, User
from tests.support import post_form


def test_sign_up_creates_a_team_owned_by_the_new_user(accounts, client):
    response = accounts.sign_up()
    assert response.status_code == 302
    user = User.get(User.email == "owner@acme.test")
    assert user.role == "owner" and user.team.name == "Acme"
    assert "argon2" in user.password_hash and "correct-horse" not in user.password_hash
    assert client.get("/settings/email-accounts").status_code == 200


def _sign_up_form(client, email, password="another-horse-8", team_name="Second", **environ):
    data = {"email": email, "password": password, "team_name": team_name, "name": "Someone"}
    page = client.get("/signup", environ_base=environ).get_data(as_text=True)
    data["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/signup", data=data, environ_base=environ)


def test_a_later_sign_up_answers_the_same_whether_or_not_the_address_has_an_account(
        accounts, client):
    from models.signups import PendingSignup
    from tasks import huey

    accounts.sign_up()
    accounts.log_out()
    huey.flush()

    taken = _sign_up_form(client, "OWNER@acme.test ")
    free = _sign_up_form(client, "kim@globex.test")

    assert taken.status_code == free.status_code == 200
    assert "Check your inbox" in free.get_data(as_text=True)
    same = lambda r: _without_csrf(r.get_data(as_text=True).replace("kim@globex.test", "ADDRESS")  # noqa: E731
                                   .replace("owner@acme.test", "ADDRESS"))
    assert same(taken) == same(free)
    # Nothing is created until the emailed link is used; the password is kept only hashed.
    assert Team.select().count() == User.select().count() == 1
    pending = PendingSignup.get()
    assert pending.email == "kim@globex.test" and pending.password_hash.startswith("$argon2")
    assert "another-horse" not in str(pending.__data__)
    # Each answer is an email the worker sends; its task carries ids, never the password.
    assert len(huey.pending()) == 2
    assert all(b"another-horse" not in raw for raw in huey.storage.enqueued_items())
    huey.flush()


def test_sign_up_with_bad_input_says_why_the_same_way_for_any_address(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    for email in ("owner@acme.test", "kim@globex.test"):
        response = _sign_up_form(client, email, password="short")
        assert response.status_code == 422
        assert "at least 10" in response.get_data(as_text=True)
    assert User.select().count() == 1


def test_a_later_sign_up_becomes_a_team_through_the_confirmation_link(accounts, client, app):
    from models.signups import PendingSignup, issue_link

    accounts.sign_up()
    accounts.log_out()
    _sign_up_form(client, "kim@globex.test", team_name="Globex")
    token = _token_of(issue_link(_pending_id("kim@globex.test")))
    stored = PendingSignup.get()  # only a digest of the link's random part is kept
    assert re.fullmatch(r"[0-9a-f]{64}", stored.token_digest)
    assert stored.token_digest not in token and token not in str(stored.__data__)

    # The link alone signs nobody in: it asks for the password chosen at sign-up.
    stranger = app.test_client()
    page = stranger.get(f"/signup/confirm?token={token}")
    assert page.status_code == 200 and "kim@globex.test" in page.get_data(as_text=True)
    wrong = post_form(stranger, "/signup/confirm", {"token": token, "password": "guess-guess-1"},
                      page=f"/signup/confirm?token={token}")
    assert wrong.status_code == 422 and User.select().count() == 1

    done = post_form(client, "/signup/confirm", {"token": token, "password": "another-horse-8"},
                     page=f"/signup/confirm?token={token}")
    assert done.status_code == 302
    kim = User.get(User.email == "kim@globex.test")
    assert kim.role == "owner" and kim.team.name == "Globex" and kim.name == "Someone"
    assert client.get("/settings/email-accounts").status_code == 200

    # Single use: the same link, again, creates nothing.
    again = app.test_client().get(f"/signup/confirm?token={token}")
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    assert Team.select().count() == 2


def test_a_confirmation_link_expires_and_a_tampered_one_is_refused(accounts, client, app):
    import clock
    from models.signups import issue_link

    accounts.sign_up()
    accounts.log_out()
    _sign_up_form(client, "kim@globex.test")
    token = _token_of(issue_link(_pending_id("kim@globex.test")))

    forged = client.get(f"/signup/confirm?token={token[:-3]}abc")
    assert forged.status_code == 404 and "not valid" in forged.get_data(as_text=True)

    clock.set_offset(app.config["TETHER_CLOCK_FILE"], 25 * 3600)
    late = client.get(f"/signup/confirm?token={token}")
    assert late.status_code == 410 and "expired" in late.get_data(as_text=True)
    assert User.select().count() == 1


def test_sign_up_attempts_are_rate_limited_per_address_and_per_ip(accounts, client):
    accounts.sign_up()
    accounts.log_out()
    # One address from many places…
    codes = [_sign_up_form(client, "kim@globex.test", REMOTE_ADDR=f"10.0.0.{i}").status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]
    # …and many addresses from one place.
    codes = [_sign_up_form(client, f"p{i}@globex.test", REMOTE_ADDR="10.0.1.1").status_code
             for i in range(6)]
    assert codes == [200] * 5 + [429]


def _pending_id(email):
    from models.signups import PendingSignup

    return PendingSignup.get(PendingSignup.email == email).id


def _token_of(link):
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query)["token"][0]


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
