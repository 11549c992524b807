"""Settings → Alerts: a team's chat destinations (Apprise URLs) and signed webhooks, their
delivery logs, "Send test", resume and remove. Owners and admins only."""

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from mail import webhook
from models import alert_delivery
from models.alerts import CHAT, PENDING, WEBHOOK, AlertDestination
from views.common import admin_required, render, team_object_or_404
from views.forms.alerts import ChatForm, WebhookForm

bp = Blueprint("alerts", __name__, url_prefix="/settings/alerts")


def _page(chat_form=None, webhook_form=None, new_secret=None, status=200):
    destinations = list(AlertDestination.of_team(current_user.team_id))
    logs = {d.id: alert_delivery.recent(d) for d in destinations}
    sending = any(row.status == PENDING and row.attempts == 0 for rows in logs.values()
                  for row in rows)
    return render("settings/alerts.html", "settings/_alerts.html", destinations=destinations,
                  logs=logs, sending=sending, new_secret=new_secret,
                  chat_form=chat_form or ChatForm(formdata=None),
                  webhook_form=webhook_form or WebhookForm(formdata=None)), status


@bp.route("")
@login_required
@admin_required
def index():
    """The team's destinations, each with its recent deliveries; the forms to add one."""
    return _page()


@bp.route("/chat", methods=["POST"])
@login_required
@admin_required
def add_chat():
    """Add a chat destination: its Apprise URL is checked first (a typo is refused)."""
    form = ChatForm()
    if not form.validate_on_submit():
        return _page(chat_form=form, status=422)
    AlertDestination.create(team=current_user.team_id, kind=CHAT, url=form.url.data,
                            shown_as=form.checked.shown_as, service=form.checked.service,
                            events=",".join(form.events.data), created_by=current_user.id)
    flash(f"{form.checked.service} alerts are on. Use “Send test” to see one arrive.", "success")
    return redirect(url_for("alerts.index"))


@bp.route("/webhooks", methods=["POST"])
@login_required
@admin_required
def add_webhook():
    """Add a webhook; its signing secret is shown once, on the answer to this request."""
    form = WebhookForm()
    if not form.validate_on_submit():
        return _page(webhook_form=form, status=422)
    secret = webhook.new_secret()
    AlertDestination.create(team=current_user.team_id, kind=WEBHOOK, url=form.url.data,
                            shown_as=webhook.shown_as(form.url.data), service="Webhook",
                            secret=secret, events=",".join(form.events.data),
                            created_by=current_user.id)
    return _page(new_secret=secret)


@bp.route("/<id:destination_id>/test", methods=["POST"])
@login_required
@admin_required
def send_test(destination_id):
    """Queue a test alert to this destination; its log shows how it went."""
    from tasks.alerts import deliver_alert

    destination = team_object_or_404(AlertDestination, destination_id)
    if destination.paused_at is not None:
        flash("This destination is paused: resume it first.", "error")
    else:
        deliver_alert(alert_delivery.send_test(destination).id)
        flash(f"A test alert is on its way to {destination.shown_as}.", "info")
    return redirect(url_for("alerts.index"))


@bp.route("/<id:destination_id>/resume", methods=["POST"])
@login_required
@admin_required
def resume(destination_id):
    """Resume a paused destination: the alerts still within their day are retried now."""
    from tasks.alerts import send_alerts

    destination = team_object_or_404(AlertDestination, destination_id)
    alert_delivery.resume(destination)
    send_alerts()
    flash(f"Alerts to {destination.shown_as} are resumed.", "success")
    return redirect(url_for("alerts.index"))


@bp.route("/<id:destination_id>/delete", methods=["POST"])
@login_required
@admin_required
def delete(destination_id):
    """Remove a destination and its delivery log."""
    destination = team_object_or_404(AlertDestination, destination_id)
    destination.delete_instance()
    flash(f"{destination.service} destination {destination.shown_as} is removed.", "info")
    return redirect(url_for("alerts.index"))
