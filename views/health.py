"""Mailbox health: every mailbox of the team at a glance (members: their own), how often each
needed reconnecting and how long that took, and "Remind owner" for a broken one."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from models import owner_reminders
from models.mailboxes import Mailbox
from views.common import safe_next, team_object_or_404
from views.forms.health import HealthFilterForm
from views.health_rows import health, people, span
from views.inputs import page_number
from views.live import live_page, render_live

bp = Blueprint("health", __name__, url_prefix="/mailbox-health")


@bp.route("")
@login_required
@live_page
def index():
    """The list with its filters (`?status=`, `?person=`, `?days=7|30|90`, `?page=`), the
    team's figures over 7, 30 and 90 days and the chart; live by one poll for the page."""
    choices = people(current_user)
    form = HealthFilterForm(choices, formdata=request.args)
    valid = form.validate()
    report = health(current_user, status=form.status.data or None,
                    person=int(form.person.data) if form.person.data else None,
                    days=int(form.days.data), page=page_number(), choices=choices)
    return render_live("health/index.html", "health/_health.html", form=form, report=report, span=span,
                       filter_errors=[] if valid else [e for errs in form.errors.values()
                                                       for e in errs]), (200 if valid else 400)


@bp.route("/<id:mailbox_id>/remind-owner", methods=["POST"])
@login_required
def remind_owner(mailbox_id):
    """Send the mailbox's reconnect email again to whoever connected it (owners and admins;
    once an hour per mailbox; nothing for a mailbox that does not need reconnecting)."""
    mailbox = team_object_or_404(Mailbox, mailbox_id)
    if mailbox.deleted_at is not None or not (current_user.is_admin
                                              or mailbox.connected_by_id == current_user.id):
        abort(404)  # a member sees only their own mailboxes: another's does not exist for them
    if not current_user.is_admin:
        abort(403)
    outcome = owner_reminders.remind(mailbox, current_user._get_current_object())
    flash(outcome.message, "success" if outcome.sent else "info")
    return redirect(safe_next(request.form.get("back"), url_for("health.index")), code=303)
