"""Invites and roles: how a teammate joins, and who may do what."""

import os
import re
from datetime import timedelta

import clock
from models.accounts import Invite, Team, User
from tests.support import post_form


def _invite(client, email="sam@acme.test", role="member"):
    response = post_form(client, "/settings/team/invites", {"email": email, "role": role},
                         page="/settings/team")
    match = re.search(r'value="(http[^"]+/join\?token=[^"]+)"', response.get_data(as_text=True))
    return response, (match.group(1) if match else None)


def _join(app, link, password="teammate-pass-1"):
    client = app.test_client()
    path = link.split("127.0.0.1:5000", 1)[-1]
    page = client.get(path)
    if page.status_code != 200:
        return client, page
    return client, post_form(client, "/join", {"token": path.split("token=")[1],
                                               "name": "Sam", "password": password}, page=path)


def test_owner_invites_a_teammate_who_joins_with_the_role(accounts, client, app):
    accounts.sign_up()
    response, link = _invite(client, role="admin")
    assert response.status_code == 200 and link
    sam, joined = _join(app, link)
    assert joined.status_code == 302
    sam_user = User.get(User.email == "sam@acme.test")
    assert sam_user.role == "admin" and sam_user.team == User.get(User.email == "owner@acme.test").team
    assert sam.get("/settings/team").status_code == 200


def test_an_invite_link_works_once(accounts, client, app):
    accounts.sign_up()
    _, link = _invite(client)
    _join(app, link)
    _, again = _join(app, link, password="someone-else-2")
    assert again.status_code == 410
    assert "used already" in again.get_data(as_text=True)
    assert User.select().count() == 2


def test_an_expired_invite_is_refused(accounts, client, app):
    accounts.sign_up()
    _, link = _invite(client)
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], timedelta(hours=73).total_seconds())
    _, page = _join(app, link)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert User.select().count() == 1


def test_a_tampered_invite_link_is_refused(accounts, client, app):
    accounts.sign_up()
    _, link = _invite(client)
    _, page = _join(app, link[:-3] + "xyz")
    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)


def test_members_cannot_invite_and_nobody_hands_out_more_than_they_have(accounts, client, app):
    accounts.sign_up()
    _, link = _invite(client, role="member")
    member, _ = _join(app, link)
    response, _ = _invite(member, email="eve@acme.test")
    assert response.status_code == 403
    _, admin_link = _invite(client, email="ada@acme.test", role="admin")
    admin, _ = _join(app, admin_link)
    response, link = _invite(admin, email="mal@acme.test", role="owner")
    assert response.status_code == 422 and link is None
    assert Invite.select().where(Invite.email.in_(["eve@acme.test", "mal@acme.test"])).count() == 0


def test_another_teams_invite_is_a_404_not_a_403(accounts, client, app):
    accounts.sign_up()
    _invite(client, email="x@acme.test")
    theirs = Invite.get(Invite.email == "x@acme.test")
    other = app.test_client()
    from tests.support import Accounts

    Accounts(other).sign_up(email="boss@rival.test", team_name="Rival")
    response = post_form(other, f"/settings/team/invites/{theirs.id}/revoke", page="/settings/team")
    assert response.status_code == 404
    assert Invite.get_or_none(Invite.id == theirs.id) is not None
    assert Team.select().count() == 2
    # Their own invite they can withdraw.
    own = post_form(client, f"/settings/team/invites/{theirs.id}/revoke", page="/settings/team")
    assert own.status_code == 302 and Invite.get_or_none(Invite.id == theirs.id) is None
