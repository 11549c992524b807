"""Settings: Email Accounts (the mailboxes), and the signed-in person's account."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user

from models import signals
from views import mailbox_rows
from views.auth import stay_signed_in
from views.common import providers
from views.forms.auth import PasswordChangeForm
from views.inputs import object_id, page_number
from views.live import live_page, render_live

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.route("/")
@login_required
def index():
    return redirect(url_for("settings.email_accounts"))


@bp.route("/email-accounts")
@login_required
@live_page
def email_accounts():
    """Email Accounts: a page of mailboxes (`?page=N`, or `?mailbox=<id>` for the page that
    mailbox is on), kept live by one poll for the whole page."""
    page = page_number()
    if "mailbox" in request.args:
        mailbox_id = object_id(request.args["mailbox"])
        page = mailbox_rows.page_of(current_user.team_id, mailbox_id) if mailbox_id else abort(404)
    listing = mailbox_rows.listing(current_user, page, providers().all(),
                                   current_app.config["GOOGLE_TESTING_MODE"])
    push = signals.push_detection(providers().all()) if current_user.is_admin else []
    return render_live("mailboxes/index.html", "mailboxes/_list.html", listing=listing,
                       rows=listing.rows, push=push)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """Change the signed-in person's password."""
    user = current_user._get_current_object()
    form = PasswordChangeForm(user)
    if form.validate_on_submit():
        user.change_password(form.new_password.data)
        stay_signed_in(user)  # every other session ends; this one stays
        flash("Your password is changed. Other devices are signed out.", "success")
        return redirect(url_for("settings.account"))
    return render_template("settings/account.html", form=form), 422 if form.errors else 200


@bp.route("/account/sign-out-everywhere", methods=["POST"])
@login_required
def sign_out_everywhere():
    """End every session and "Keep me signed in" of this person, this browser's included:
    for a lost phone or a shared computer left signed in."""
    current_user.end_sessions()
    logout_user()
    flash("You are signed out everywhere: on this device and on every other.", "info")
    return redirect(url_for("auth.login"))
