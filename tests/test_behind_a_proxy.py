"""Tether behind a reverse proxy, with the headers nginx really sends (deploy/nginx/tether):
`Host $host`, `X-Forwarded-For $proxy_add_x_forwarded_for`, `X-Forwarded-Proto $scheme`,
`X-Forwarded-Host $host`, and the `X-Real-IP` many sites add. The proxy is 127.0.0.1.

Trusted (TETHER_TRUSTED_PROXIES=1), each client has its own sign-in limit and the public
scheme and host are Tether's own; trusted by nobody (the default), a client's own proxy
headers change nothing. A proxy that forgets `Host $host` gets a refusal that says so.
"""

import logging
import re

import pytest

import config

PUBLIC = "https://tether.example.com"
UPSTREAM = "127.0.0.1:5000"  # what gunicorn is bound to, the Host a careless proxy passes on


def nginx_headers(client_ip, host="tether.example.com", sent_xff=None, forgot_host=False):
    """What nginx adds to a browser's request from `client_ip` (who may have sent an
    X-Forwarded-For of its own, `sent_xff`, which nginx appends to)."""
    headers = {"X-Forwarded-For": f"{sent_xff}, {client_ip}" if sent_xff else client_ip,
               "X-Forwarded-Proto": "https", "X-Real-IP": client_ip,
               "Origin": f"https://{host}"}
    if forgot_host:
        headers["Host"] = UPSTREAM
    else:
        headers.update({"Host": host, "X-Forwarded-Host": host})
    return headers


def sign_in_attempt(client, headers, email, password="wrong-password-1"):
    """A browser's sign-in through the proxy: the form (and its CSRF token), then the POST."""
    page = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", headers=headers, data={"email": email, "password": password,
                                                        "csrf_token": token})


@pytest.fixture(scope="module")
def proxied_app(app):
    """The same Tether, started with TETHER_TRUSTED_PROXIES=1 and its public BASE_URL."""
    from app import create_app

    behind = create_app({"TESTING": True, "LOGIN_RATE_LIMIT": "5 per minute",
                         "TRUSTED_PROXIES": 1, "BASE_URL": PUBLIC})
    config.use(app.config)
    return behind


@pytest.fixture
def proxied(proxied_app, app):
    config.use(proxied_app.config)
    yield proxied_app.test_client()
    config.use(app.config)


def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(proxied, caplog):
    with caplog.at_level(logging.INFO, logger="tether.access"):
        first = [sign_in_attempt(proxied, nginx_headers("203.0.113.7"), f"p{i}@acme.test")
                 for i in range(6)]
    assert [r.status_code for r in first] == [401] * 5 + [429]
    assert "Too many attempts" in first[5].get_data(as_text=True)
    # Someone else behind the same proxy is not locked out by the first client's attempts.
    other = sign_in_attempt(proxied, nginx_headers("198.51.100.9"), "q@acme.test")
    assert other.status_code == 401
    # The access log names each client, never the proxy.
    lines = [r.getMessage() for r in caplog.records if r.name == "tether.access"]
    assert any(line.startswith('203.0.113.7 "POST /login" 429') for line in lines), lines
    assert any(line.startswith('198.51.100.9 "POST /login" 401') for line in lines), lines
    assert not any(line.startswith("127.0.0.1 ") for line in lines), lines


def test_behind_a_trusted_proxy_a_client_cannot_choose_its_own_address(proxied):
    # nginx appends the real peer to whatever X-Forwarded-For the client made up: Tether reads
    # the one its proxy wrote, so a new made-up address per attempt escapes nothing.
    codes = [sign_in_attempt(proxied, nginx_headers("203.0.113.7", sent_xff=f"10.9.9.{i}"),
                             f"p{i}@acme.test").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_with_no_trusted_proxy_spoofed_headers_change_nothing(accounts, client, caplog):
    accounts.sign_up()
    accounts.log_out()
    # Every attempt claims another client; all come from one socket peer: one count.
    with caplog.at_level(logging.INFO, logger="tether.access"):
        codes = [sign_in_attempt(client, {"X-Forwarded-For": f"10.0.0.{i}",
                                          "X-Real-IP": f"10.0.1.{i}"},
                                 f"p{i}@acme.test").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    lines = [r.getMessage() for r in caplog.records if r.name == "tether.access"]
    assert lines and all(line.startswith("127.0.0.1 ") for line in lines), lines


def test_with_no_trusted_proxy_a_forged_host_does_not_make_a_foreign_page_ours(accounts, client):
    from models.accounts import Invite
    from tests.support import csrf_token

    accounts.sign_up()
    token = csrf_token(client, "/settings/team")
    response = client.post("/settings/team/invites", data={
        "email": "sam@acme.test", "role": "member", "csrf_token": token},
        headers={"Origin": "https://evil.test", "X-Forwarded-Host": "evil.test",
                 "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 403
    assert Invite.select().count() == 0


def test_behind_a_trusted_proxy_sign_in_works_and_links_are_public(proxied, proxied_app):
    from flask import url_for

    sign_up = _sign_up_first_owner(proxied)
    assert sign_up.status_code == 302, sign_up.get_data(as_text=True)[:300]
    # Links the app builds from the request use the public scheme and host…
    environ = _through_the_proxy(proxied_app, nginx_headers("203.0.113.7"))
    with proxied_app.request_context(environ):
        assert url_for("auth.login", _external=True) == PUBLIC + "/login"
    # …and an invite link is BASE_URL's whatever Host the proxy passed on.
    team = proxied.get("/settings/team", headers=nginx_headers("203.0.113.7")).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', team).group(1)
    page = proxied.post("/settings/team/invites", headers=nginx_headers("203.0.113.7"), data={
        "email": "sam@acme.test", "role": "member", "csrf_token": token}).get_data(as_text=True)
    assert f"{PUBLIC}/join?token=" in page


def test_a_proxy_that_forgot_host_still_signs_people_in_when_base_url_is_right(
        accounts, client, app, monkeypatch):
    # Issue #16's nginx site: X-Forwarded-Proto https but no `Host $host`, nothing trusted.
    # The browser's Origin is the public address, which BASE_URL names: accepted.
    accounts.sign_up()
    accounts.log_out()
    monkeypatch.setitem(app.config, "BASE_URL", PUBLIC)
    response = sign_in_attempt(client, nginx_headers("203.0.113.7", forgot_host=True),
                               "owner@acme.test", password="correct-horse-9")
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_a_proxy_that_forgot_host_with_base_url_unset_is_told_what_to_fix(accounts, client,
                                                                           caplog):
    from models.accounts import User

    accounts.sign_up()
    accounts.log_out()
    with caplog.at_level(logging.WARNING, logger="views.origin"):
        response = sign_in_attempt(client, nginx_headers("203.0.113.7", forgot_host=True),
                                   "owner@acme.test", password="correct-horse-9")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Nothing was changed" in page
    for what_to_set in ("BASE_URL", "TETHER_TRUSTED_PROXIES", "proxy_set_header Host $host;"):
        assert what_to_set in page, what_to_set
    assert "https://tether.example.com" in page and "http://127.0.0.1:5000" in page
    # One line, with what came and what was expected, and why the proxy headers did not help.
    lines = [r.getMessage() for r in caplog.records if r.name == "views.origin"]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "Refused POST /login" in line
    assert "its Origin is https://tether.example.com" in line
    assert "BASE_URL is http://127.0.0.1:5000" in line
    assert f"Host: {UPSTREAM}" in line and "TETHER_TRUSTED_PROXIES=0" in line
    assert client.get("/sequences").status_code == 302  # not signed in
    assert User.select().count() == 1


def _sign_up_first_owner(client):
    headers = nginx_headers("203.0.113.7")
    page = client.get("/signup", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/signup", headers=headers, data={
        "email": "owner@acme.test", "password": "correct-horse-9", "team_name": "Acme",
        "name": "Owner", "csrf_token": token})


def _through_the_proxy(app, headers):
    """A request's WSGI environ as the app sees it once ProxyFix (app.wsgi_app) has read the
    proxy's headers."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path="/healthz", headers=headers,
                             environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
    body = app.wsgi_app(environ, lambda status, headers, exc_info=None: None)
    getattr(body, "close", lambda: None)()
    return environ
