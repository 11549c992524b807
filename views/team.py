"""The team: its members, and invites that let a teammate join with a role."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from models.accounts import Invite, User
from models.base import db
from views.common import admin_required, render, team_object_or_404
from views.forms.auth import JoinForm
from views.forms.team import InviteForm

bp = Blueprint("team", __name__)


def _invite_link(token: str) -> str:
    return f"{current_app.config['BASE_URL']}{url_for('team.join')}?token={token}"


def _team_page(form=None, new_link=None):
    team = current_user.team
    people = team.users.where(User.active == True).order_by(User.created_at)  # noqa: E712
    invites = team.invites.where(Invite.accepted_at.is_null()).order_by(Invite.created_at.desc())
    return render("settings/team.html", "settings/_team.html", people=people, invites=invites,
                  form=form or InviteForm(current_user, formdata=None), new_link=new_link)


@bp.route("/settings/team")
@login_required
def members():
    """Members of the team and the invites still open."""
    return _team_page()


@bp.route("/settings/team/invites", methods=["POST"])
@login_required
@admin_required
def invite():
    """Create an invite; its link is shown once, to be passed on to the teammate."""
    form = InviteForm(current_user)
    if not form.validate_on_submit():
        return _team_page(form), 422
    _, token = Invite.issue(current_user.team, form.email.data, form.role.data, current_user,
                            current_app.config["INVITE_TTL_HOURS"])
    return _team_page(new_link=_invite_link(token))  # a blank form for the next teammate


@bp.route("/settings/team/invites/<id:invite_id>/revoke", methods=["POST"])
@login_required
@admin_required
def revoke_invite(invite_id):
    """Withdraw an open invite: its link stops working."""
    item = team_object_or_404(Invite, invite_id)
    item.delete_instance()
    flash(f"The invite for {item.email} is withdrawn.", "info")
    return redirect(url_for("team.members"))


@bp.route("/join", methods=["GET", "POST"])
def join():
    """Accept an invite: choose a name and password, and land in the team."""
    token = request.values.get("token", "")
    item = Invite.find(token)
    if item is None or not item.usable:
        reason = ("This invite was used already." if item and item.accepted_at
                  else "This invite has expired. Ask your teammate for a new one."
                  if item else "This invite link is not valid.")
        return render_template("auth/join_invalid.html", reason=reason), 410 if item else 404
    form, taken = JoinForm(token=token), None
    if form.validate_on_submit():
        if User.get_or_none(User.email == item.email):
            taken = "This address already has a Tether account. Sign in instead."
        else:
            with db.atomic():
                if not item.claim():
                    abort(410)
                user = User(email=item.email, name=form.name.data, team=item.team,
                            role=item.role)
                user.set_password(form.password.data)
                user.save()
            if current_user.is_authenticated:
                logout_user()
            login_user(user)
            flash(f"Welcome to {item.team.name}.", "success")
            return redirect(url_for("sequences.index"))
    return (render_template("auth/join.html", invite=item, form=form, taken=taken),
            422 if form.errors or taken else 200)
