"""Helpers that act as a browser would: read the CSRF token from a form, then post."""

import os
import re
import signal
import subprocess

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, page="/login"):
    """The CSRF token a browser would have: read from a rendered form."""
    html = client.get(page).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def post_form(client, url, data=None, page="/login", **kwargs):
    """POST a form the way a browser does, with the page's CSRF token."""
    data = dict(data or {})
    data["csrf_token"] = csrf_token(client, page)
    return client.post(url, data=data, **kwargs)


class Accounts:
    """Sign people up and in, as a user would."""

    def __init__(self, client):
        self.client = client

    def sign_up(self, email="owner@acme.test", password="correct-horse-9", team_name="Acme"):
        """The instance's first sign-up creates its owner at once; a later one finishes
        through the emailed link, followed here as its recipient would."""
        response = post_form(self.client, "/signup", {"email": email, "password": password,
                                                      "team_name": team_name, "name": "Owner"},
                             page="/signup")
        if response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True):
            return self.confirm_sign_up(email, password)
        return response

    def confirm_sign_up(self, email, password):
        """Open the confirmation link the sign-up email carries (made here, as the worker's
        task makes it) and type the password again."""
        from urllib.parse import urlsplit

        from models.accounts import normalize_email
        from models.signups import PendingSignup, issue_link

        pending = (PendingSignup.select().where(PendingSignup.email == normalize_email(email))
                   .order_by(PendingSignup.id.desc()).first())
        parts = urlsplit(issue_link(pending.id))
        page = f"{parts.path}?{parts.query}"
        token = parts.query.partition("token=")[2]
        return post_form(self.client, parts.path, {"token": token, "password": password},
                         page=page)

    def log_in(self, email="owner@acme.test", password="correct-horse-9", next_url=None):
        data = {"email": email, "password": password}
        if next_url is not None:
            data["next"] = next_url
        return post_form(self.client, "/login", data)

    def log_out(self):
        return post_form(self.client, "/logout", page="/settings/account")


def wait_for(condition, what, deadline=30.0, every=0.1):
    """Poll `condition` until it returns something truthy (returned) or `deadline` seconds
    pass (AssertionError naming `what`). For conditions other processes make true."""
    import time

    give_up = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with start_new_session=True and everything it started: TERM,
    then KILL after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
