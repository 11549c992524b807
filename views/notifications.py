"""The bell: in-app notifications, and the reconnect link that notice emails carry."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from models import notices
from models.mailboxes import Mailbox
from models.notifications import Notification, mark_read
from views.common import can_manage
from views.live import live_page, render_live

bp = Blueprint("notifications", __name__)


@bp.route("/notifications")
@login_required
@live_page
def index():
    """The signed-in person's notifications, newest first."""
    items = list(Notification.select().where(Notification.user == current_user.id)
                 .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(100))
    return render_live("notifications/index.html", "notifications/_list.html", items=items)


@bp.route("/notifications/<id:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id):
    if not mark_read(current_user, notification_id):
        if not Notification.select().where((Notification.id == notification_id)
                                           & (Notification.user == current_user.id)).exists():
            abort(404)
    return redirect(url_for("notifications.index"), code=303)


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    mark_read(current_user)
    return redirect(url_for("notifications.index"), code=303)


@bp.route("/reconnect/<token>")
@login_required
def reconnect_link(token):
    """The link in a notice email. It only says which mailbox: the signed-in session decides
    what may be done, and an expired link still leads a signed-in member to the right place."""
    mailbox_id, expired = notices.read_reconnect_link(token)
    mailbox = Mailbox.get_or_none((Mailbox.id == (mailbox_id or 0))
                                  & (Mailbox.team == current_user.team_id))
    if mailbox is None:
        return render_template("errors/error.html", code=404, title="This link is not valid",
                               message="It may have been changed or cut off. Open Settings → "
                                       "Email Accounts to reconnect a mailbox."), 404
    if mailbox.deleted_at is not None:
        flash(f"{mailbox.email} was removed. Add it again to reconnect it.", "info")
        return redirect(url_for("mailboxes.add"))
    if expired:
        flash("That email link has expired, but you are signed in, so here is the mailbox.", "info")
    if not can_manage(mailbox):
        flash(f"Only the person who connected {mailbox.email} or an admin can reconnect it.", "info")
        return redirect(url_for("mailboxes.detail", mailbox_id=mailbox.id))
    if mailbox.is_oauth:
        return redirect(url_for("mailboxes.reconnect", mailbox_id=mailbox.id))
    return redirect(url_for("mailboxes.credentials", mailbox_id=mailbox.id))
