"""Who may sign up (TETHER_SIGNUP), and no demo login on a production instance."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import config
from models.accounts import Team, User
from models.signups import PendingSignup
from tests.support import Accounts, post_form

ROOT = Path(__file__).resolve().parent.parent
CLOSED = "Sign-up is by invitation"


@pytest.fixture
def policy(app, monkeypatch):
    """Set TETHER_SIGNUP for one test; the queue starts and ends empty, so a test can tell
    that nothing was sent."""
    from tasks import huey

    def use(mode):
        monkeypatch.setitem(app.config, "SIGNUP", mode)

    huey.flush()
    yield use
    huey.flush()


def _without_csrf(response) -> str:
    """A page with its CSRF tokens blanked: two requests a second apart get different ones."""
    return re.sub(r'("X-CSRFToken": "|name="csrf_token" value=")[^"]*', r"\1", response.get_data(as_text=True))


def _sign_up(client, email, password="another-horse-8"):
    return post_form(client, "/signup", {"email": email, "password": password,
                                         "team_name": "Second", "name": "Kim"}, page="/login")


def _nothing_queued():
    from tasks import huey

    return len(huey.pending()) == 0


def test_by_default_only_the_first_person_signs_up_and_owns_the_instance(
        policy, accounts, client, app):
    from tasks import huey

    policy("first")
    assert "Create a team" in client.get("/login").get_data(as_text=True)
    first = accounts.sign_up()
    assert first.status_code == 302 and User.get().role == "owner"
    accounts.log_out()
    huey.flush()

    page = client.get("/signup")
    assert page.status_code == 200 and CLOSED in page.get_data(as_text=True)
    assert 'name="password"' not in page.get_data(as_text=True)
    assert "Create a team" not in client.get("/login").get_data(as_text=True)
    # A POST is refused alike for a new address and one with an account: nothing is created,
    # no email is queued, and the two answers are the same.
    new, taken = _sign_up(client, "kim@globex.test"), _sign_up(client, "owner@acme.test")
    assert new.status_code == taken.status_code == 403
    # (Their CSRF tokens carry the second they were signed in: the rest is byte for byte.)
    assert _without_csrf(new) == _without_csrf(taken) and CLOSED in new.get_data(as_text=True)
    assert User.select().count() == Team.select().count() == 1
    assert PendingSignup.select().count() == 0 and _nothing_queued()


def test_open_sign_up_lets_anyone_create_a_team_through_the_emailed_link(policy, accounts,
                                                                         client):
    policy("open")
    accounts.sign_up()
    accounts.log_out()
    assert "Create a team" in client.get("/login").get_data(as_text=True)
    answer = _sign_up(client, "kim@globex.test")
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    assert Accounts(client).confirm_sign_up("kim@globex.test", "another-horse-8").status_code == 302
    assert Team.select().count() == 2


def test_closed_sign_up_takes_nobody_not_even_the_first(policy, client):
    policy("closed")
    page = client.get("/signup")
    assert page.status_code == 200 and CLOSED in page.get_data(as_text=True)
    assert "Create a team" not in client.get("/login").get_data(as_text=True)
    refused = _sign_up(client, "owner@acme.test")
    assert refused.status_code == 403 and CLOSED in refused.get_data(as_text=True)
    assert User.select().count() == Team.select().count() == 0 and _nothing_queued()


def test_a_confirmation_link_sent_while_open_stops_working_once_sign_up_closes(
        policy, accounts, client, app):
    from models.signups import issue_link

    policy("open")
    accounts.sign_up()
    accounts.log_out()
    _sign_up(client, "kim@globex.test")
    link = issue_link(PendingSignup.get().id)
    path = link[link.index("/signup/confirm"):]
    token = path.partition("token=")[2]
    policy("first")
    assert CLOSED in client.get(path).get_data(as_text=True)
    done = post_form(client, "/signup/confirm", {"token": token, "password": "another-horse-8"},
                     page="/login")
    assert done.status_code == 403 and Team.select().count() == 1


@pytest.mark.parametrize("mode", ["first", "closed"])
def test_invites_work_whatever_the_policy(policy, accounts, client, app, mode):
    from models.accounts import Invite

    policy("open")
    accounts.sign_up()
    owner = User.get()
    policy(mode)
    _, token = Invite.issue(owner.team, "kim@acme.test", "member", owner, ttl_hours=72)
    kim = app.test_client()
    joined = post_form(kim, "/join", {"token": token, "name": "Kim",
                                      "password": "kims-password-1"}, page=f"/join?token={token}")
    assert joined.status_code == 302
    assert User.get(User.email == "kim@acme.test").team_id == owner.team_id


def test_a_bad_policy_is_refused_at_start_in_words():
    with pytest.raises(config.ConfigError, match="TETHER_SIGNUP must be first, open or closed"):
        config.load({"SIGNUP": "invite-only"})


def _flask(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("TETHER_ENV", "BASE_URL")}
    clean.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                          env=clean, capture_output=True, text=True, timeout=120)


def test_seed_demo_refuses_in_production_and_creates_nothing(app):
    done = _flask("seed-demo", TETHER_ENV="production", SECRET_KEY="s" * 48,
                  TETHER_ENCRYPTION_KEYS="k1:" + Fernet.generate_key().decode())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "seed-demo refuses to run in production" in done.stderr
    assert "users create-owner" in done.stderr and "tether-demo" not in done.stdout
    assert User.select().count() == Team.select().count() == 0


def test_seed_demo_still_makes_the_demo_login_outside_production(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo login: demo@tether.test / tether-demo" in result.output
    assert User.get().email == "demo@tether.test"
    from tasks import huey

    huey.flush()  # the demo mailboxes' task: no sandbox here
