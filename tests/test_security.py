"""Cross-cutting protections: CSRF on every state change, headers, cookies, redaction."""

import logging

from models.accounts import User


def test_a_plain_post_without_csrf_token_is_refused_in_words_and_changes_nothing(client):
    response = client.post("/signup", data={"email": "a@acme.test", "password": "long-enough-pw"})
    assert response.status_code == 403
    assert "This form has expired" in response.get_data(as_text=True)
    assert User.select().count() == 0


def test_a_post_with_a_bad_csrf_token_is_refused(client):
    response = client.post("/signup", data={"email": "a@acme.test", "password": "long-enough-pw",
                                            "csrf_token": "made-up"})
    assert response.status_code == 403
    assert User.select().count() == 0


def _invite_with(client, headers):
    """Create an invite with this page's valid CSRF token, plus the given headers."""
    from tests.support import csrf_token

    token = csrf_token(client, "/settings/team")
    return client.post("/settings/team/invites", headers=headers,
                       data={"email": "sam@acme.test", "role": "member", "csrf_token": token})


def test_a_valid_token_from_a_foreign_origin_is_refused_and_changes_nothing(accounts, client,
                                                                          caplog):
    from models.accounts import Invite

    accounts.sign_up()
    for headers in ({"Origin": "https://evil.test"},
                    {"Referer": "https://evil.test/page"},
                    {"Origin": "null"},
                    {"Origin": "http://localhost:666", "Referer": "http://localhost/settings"}):
        with caplog.at_level(logging.WARNING):
            response = _invite_with(client, headers)
        assert response.status_code == 403, headers
        assert "another site" in response.get_data(as_text=True)
    assert Invite.select().count() == 0
    # The log names what came and what was expected, so an operator can fix a proxy.
    assert "https://evil.test" in caplog.text and "http://localhost" in caplog.text


def test_same_origin_requests_are_accepted_with_or_without_origin_headers(accounts, client, app):
    from models.accounts import Invite

    accounts.sign_up()
    for headers in ({"Origin": "http://localhost"},
                    {"Referer": "http://localhost/settings/team"},
                    {"Origin": "HTTP://LOCALHOST:80"},
                    {},  # privacy settings strip both: the token alone decides
                    {"Origin": app.config["BASE_URL"]}):  # behind a proxy: the public address
        Invite.delete().execute()
        assert _invite_with(client, headers).status_code == 200, headers
        assert Invite.select().count() == 1


def test_over_https_a_same_origin_post_without_referer_still_works(accounts, client):
    from models.accounts import Invite
    from tests.support import csrf_token

    accounts.sign_up()
    token = csrf_token(client, "/settings/team")
    response = client.post("/settings/team/invites", base_url="https://localhost",
                           data={"email": "sam@acme.test", "role": "member", "csrf_token": token})
    assert response.status_code == 200 and Invite.select().count() == 1


def test_sign_in_from_a_foreign_origin_is_refused(client):
    from tests.support import csrf_token

    token = csrf_token(client, "/login")
    response = client.post("/login", headers={"Origin": "https://evil.test"},
                           data={"email": "a@acme.test", "password": "x", "csrf_token": token})
    assert response.status_code == 403


def test_an_htmx_post_without_the_csrf_header_is_rejected(accounts, client):
    accounts.sign_up()
    response = client.post("/settings/team/invites", data={"email": "s@acme.test"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 403


def test_an_htmx_post_with_the_csrf_header_from_the_page_is_accepted(accounts, client):
    import re

    accounts.sign_up()
    html = client.get("/settings/team").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
    response = client.post("/settings/team/invites", data={"email": "s@acme.test", "role": "member"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    # htmx got the partial, not a whole page, and caches are told the two differ.
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="team"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_logout_is_not_a_get(accounts, client):
    accounts.sign_up()
    assert client.get("/logout").status_code == 405
    assert client.get("/sequences").status_code == 200


def test_session_cookie_has_its_own_name_and_safe_flags(accounts, client):
    response = accounts.sign_up()
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("tether_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers_are_sent(client):
    headers = client.get("/login").headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_access_log_lines_never_show_oauth_codes_or_tokens(caplog):
    from app import RedactSecrets

    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('%s - "GET %s HTTP/1.1" 302', "127.0.0.1",
                    "/oauth/callback?code=SECRETCODE&state=SECRETSTATE&iss=x")
        logger.info("GET /join?token=SECRETTOKEN")
    text = caplog.text
    assert "SECRET" not in text and "[redacted]" in text
    assert any(isinstance(f, RedactSecrets) for f in logger.filters)


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["ok"] is True


def test_templates_carry_no_inline_script_or_style_that_the_csp_would_block():
    import re
    from pathlib import Path

    pattern = re.compile(r"""\sstyle=["']|\son[a-z]+=["']|<script(?![^>]*\ssrc=)""")
    offenders = [str(p) for p in Path("templates").rglob("*.html") if pattern.search(p.read_text())]
    assert offenders == []
