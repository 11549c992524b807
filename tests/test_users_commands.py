"""The operator's `flask --app app users …`: create the first owner, repair a password, list
who has an account — and bad input refused in words, with nothing changed."""

import pytest

from models.accounts import Team, User
from tests.support import Accounts, post_form

PASSWORD = "operator-chosen-pw-1"


@pytest.fixture
def users(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(args=["users", *args], input=input)
    return run


def test_create_owner_makes_a_team_whose_owner_can_sign_in_with_sign_up_closed(
        users, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNUP", "closed")
    done = users("create-owner", " Ops@Acme.test ", "--team", "Acme", "--password-stdin",
                 input=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert "Created ops@acme.test, owner of the team 'Acme'" in done.output
    owner = User.get()
    assert (owner.email, owner.role, owner.team.name) == ("ops@acme.test", "owner", "Acme")
    assert PASSWORD not in owner.password_hash
    assert Accounts(client).log_in("ops@acme.test", PASSWORD).status_code == 302


def test_create_owner_asks_for_the_password_twice(users):
    mismatch = users("create-owner", "ops@acme.test",
                     input=f"{PASSWORD}\nsomething-else-1\n{PASSWORD}\n{PASSWORD}\n")
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output
    assert User.get().check_password(PASSWORD)


@pytest.mark.parametrize("args, stdin, words", [
    (["not-an-address"], PASSWORD, "is not an email address"),
    (["ops@acme.test"], "short", "at least 10"),
    (["ops@acme.test"], "", "Choose a password"),
    (["ops@acme.test"], "aaaaaaaaaaaa", "too easy"),
])
def test_create_owner_refuses_bad_input_and_creates_nothing(users, args, stdin, words):
    done = users("create-owner", *args, "--password-stdin", input=stdin + "\n")
    assert done.exit_code == 1 and words in done.output, done.output
    assert User.select().count() == Team.select().count() == 0


def test_create_owner_refuses_an_address_that_has_an_account(users, accounts):
    accounts.sign_up()
    before = User.get().password_hash
    done = users("create-owner", "OWNER@acme.test", "--password-stdin", input=PASSWORD + "\n")
    assert done.exit_code == 1 and "owner@acme.test has an account already" in done.output
    assert Team.select().count() == 1 and User.get().password_hash == before


def test_reset_password_sets_a_new_one_and_ends_every_session(users, accounts, client, app):
    accounts.sign_up()
    other = app.test_client()
    Accounts(other).log_in()
    assert client.get("/sequences").status_code == other.get("/sequences").status_code == 200

    done = users("reset-password", "owner@acme.test", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert "every session of theirs has ended" in done.output
    assert client.get("/sequences").status_code == other.get("/sequences").status_code == 302
    assert Accounts(app.test_client()).log_in(password="correct-horse-9").status_code == 401
    assert Accounts(app.test_client()).log_in(password=PASSWORD).status_code == 302


def test_reset_password_refuses_an_unknown_person_or_a_weak_password(users, accounts):
    accounts.sign_up()
    before = User.get().password_hash
    unknown = users("reset-password", "nobody@acme.test", "--password-stdin",
                    input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "No account has the address" in unknown.output
    weak = users("reset-password", "owner@acme.test", "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "at least 10" in weak.output
    assert User.get().password_hash == before


def test_list_shows_teams_and_people_with_roles_and_no_secrets(users, accounts, client, app):
    assert "No teams yet" in users("list").output
    accounts.sign_up()
    from models.accounts import Invite

    owner = User.get()
    _, token = Invite.issue(owner.team, "kim@acme.test", "admin", owner, ttl_hours=72)
    post_form(app.test_client(), "/join", {"token": token, "name": "Kim",
                                           "password": "kims-password-1"},
              page=f"/join?token={token}")
    Accounts(app.test_client()).sign_up(email="eve@other.test", team_name="Other")

    listed = users("list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].startswith("Acme (team ")
    assert "  owner@acme.test  owner  Owner" in lines
    assert "  kim@acme.test  admin  Kim" in lines
    assert any(line.startswith("Other (team ") for line in lines)
    assert "  eve@other.test  owner  Owner" in lines
    assert "argon2" not in listed.output and "correct-horse" not in listed.output


def test_bad_usage_is_click_s_own_exit_code(users):
    assert users("create-owner").exit_code == 2
    assert users("reset-password").exit_code == 2
