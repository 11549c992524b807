"""Settings: Email Accounts (the mailboxes), and the signed-in person's account."""

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user

import clock
from models import expiry, outbox
from models.mailboxes import LIST_FIELDS, Mailbox
from views import mailbox_rows
from views.auth import stay_signed_in
from views.common import providers
from views.forms.auth import PasswordChangeForm
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
    """Email Accounts: one row per mailbox, kept live by one poll for the whole page."""
    mailboxes = (Mailbox.select(*LIST_FIELDS)
                 .where((Mailbox.team == current_user.team_id) & Mailbox.deleted_at.is_null())
                 .order_by(Mailbox.email))
    mailboxes, now = list(mailboxes), clock.now()
    testing = current_app.config["GOOGLE_TESTING_MODE"]
    warnings = {m.id: w for m in mailboxes
                if (w := expiry.warning(m, now=now, google_testing=testing))}
    table = mailbox_rows.rows(mailboxes, current_user, providers().all(), warnings,
                              outbox.sends_today([m.id for m in mailboxes]))
    return render_live("mailboxes/index.html", "mailboxes/_list.html", rows=table)


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
