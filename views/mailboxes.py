"""Settings → Email Accounts: adding mailboxes, and what can be done to one.

The list itself is the Settings tab (views/settings.py: settings.email_accounts)."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import clock
from mail import oauth
from mail.connect import Login, Server
from mail.hosts import HostPolicy
from mail.presets import guess_servers
from mail.probe import probe
from models import check_history, connections, expiry
from models.connections import SAVED_FOR
from models.health import recent_history
from models.mailboxes import DISABLED, Mailbox, limit_problems, set_sending_limit
from models.sequences import Sequence
from views import oauth as oauth_views
from views import reconnect_all
from views.common import can_manage, providers, render, team_object_or_404
from views.forms.mailboxes import OtherProviderForm
from views.inputs import whole_number

bp = Blueprint("mailboxes", __name__, url_prefix="/settings/email-accounts")

def _mailbox_or_404(mailbox_id) -> Mailbox:
    mailbox = team_object_or_404(Mailbox, mailbox_id)
    if mailbox.deleted_at is not None:
        abort(404)
    return mailbox


def _managed_or_403(mailbox_id) -> Mailbox:
    mailbox = _mailbox_or_404(mailbox_id)
    if not can_manage(mailbox):
        abort(403)
    return mailbox


@bp.route("/add")
@login_required
def add():
    """Choose where the mailbox lives: Google, Microsoft, or another provider."""
    return render_template("mailboxes/add.html", providers=providers().all())


@bp.route("/<id:mailbox_id>")
@login_required
def detail(mailbox_id):
    """What Tether can access, its connection history, its sending limit, and how to remove
    access."""
    return _detail_page(_mailbox_or_404(mailbox_id))


def _detail_page(mailbox, limit_errors=None, limit_form=None, status=200):
    cells = check_history.week(mailbox.id)
    totals = {k: sum(c[k] for c in cells) for k in ("passed", "transient", "refused")}
    now = clock.now()
    return render_template("mailboxes/detail.html", mailbox=mailbox,
                           provider=providers().get(mailbox.provider),
                           history=list(recent_history(mailbox, days=30)),
                           can_manage=can_manage(mailbox), week=cells, totals=totals,
                           today_limit=mailbox.limit_on(now), limit_errors=limit_errors or {},
                           limit_form=limit_form,
                           warning=expiry.warning(mailbox, now=now,
                                                  google_testing=current_app.config["GOOGLE_TESTING_MODE"])), status


@bp.route("/<id:mailbox_id>/limit", methods=["POST"])
@login_required
def sending_limit(mailbox_id):
    """The daily limit and an optional warm-up ramp (owners, admins, whoever connected it)."""
    mailbox = _managed_or_403(mailbox_id)
    form = request.form
    daily_limit = whole_number(form.get("daily_limit"))
    warmup = form.get("warmup") == "on"
    start, step = whole_number(form.get("warmup_start")), whole_number(form.get("warmup_step"))
    errors = limit_problems(daily_limit, warmup, start, step)
    if errors:
        return _detail_page(mailbox, errors, form, 422)
    set_sending_limit(mailbox.id, daily_limit, start if warmup else None,
                      step if warmup else 0, clock.now())
    from tasks.sending import send_now

    send_now(mailbox.id)  # a higher limit may let waiting emails go today
    flash(f"{mailbox.email}: sending limit saved.", "success")
    return redirect(url_for("mailboxes.detail", mailbox_id=mailbox.id) + "#limit", code=303)


# --- Other Provider ----------------------------------------------------------------------

def _probe_other(values, password):
    """The connection test, with the hosts vetted against this deployment's host settings."""
    policy = HostPolicy.from_settings(current_app.config)
    login = Login(address=values["email"], username=values["username"], password=password)
    return probe(Server(values["imap_host"], values["imap_port"], values["imap_security"], policy),
                 Server(values["smtp_host"], values["smtp_port"], values["smtp_security"], policy),
                 login)


def _other_form(form, result=None, status=200):
    return render("mailboxes/other.html", None, form=form, result=result,
                  mailbox=form.mailbox), status


@bp.route("/other/new", methods=["GET", "POST"])
@login_required
def other_new():
    """Add an IMAP/SMTP mailbox with a password; saving runs the connection test first."""
    form = OtherProviderForm()
    if not form.validate_on_submit():
        return _other_form(form, status=422 if form.errors else 200)
    values = form.values()
    if Mailbox.live().where((Mailbox.team == current_user.team_id)
                            & (Mailbox.email == values["email"])).exists():
        form.email.errors.append("This mailbox is already connected in your team.")
        return _other_form(form, status=422)
    result = _probe_other(values, form.secret)
    if not result.ok:  # a new mailbox is saved only once both servers said yes
        return _other_form(form, result, status=422)
    mailbox = connections.save_other(current_user.team, current_user._get_current_object(),
                                     values["email"], values, form.secret)
    _after_connect(mailbox.id)
    flash(f"{values['email']} is connected.", "success")
    return redirect(url_for("settings.email_accounts"))


@bp.route("/other/test", methods=["POST"])
@login_required
def other_test():
    """The live connection test: IMAP and SMTP reported separately. Stores nothing."""
    mailbox = None
    if request.form.get("mailbox_id"):
        mailbox = _managed_or_403(request.form["mailbox_id"])
    form = OtherProviderForm(mailbox=mailbox)
    if not form.validate():
        return render_template("mailboxes/_probe.html", result=None,
                               errors=form.first_errors()), 422
    return render_template("mailboxes/_probe.html", result=_probe_other(form.values(), form.secret),
                           errors={})


@bp.route("/other/guess")
@login_required
def other_guess():
    """Server settings guessed from the address, for the form to fill in (htmx)."""
    email = request.args.get("email", "").strip().lower()
    form = OtherProviderForm(formdata=None, data=guess_servers(email))
    return render_template("mailboxes/_other_servers.html", form=form)


@bp.route("/<id:mailbox_id>/credentials", methods=["GET", "POST"])
@login_required
def credentials(mailbox_id):
    """Update an Other Provider mailbox's settings or password in place (keeps its history)."""
    mailbox = _managed_or_403(mailbox_id)
    if mailbox.is_oauth:
        abort(404)
    form = OtherProviderForm(mailbox=mailbox, data={f: getattr(mailbox, f) for f in SAVED_FOR})
    if not form.validate_on_submit():
        return _other_form(form, status=422 if form.errors else 200)
    result = _probe_other(form.values(), form.secret)
    if not result.ok:
        return _other_form(form, result, status=422)
    connections.save_other(current_user.team, current_user._get_current_object(), mailbox.email,
                           form.values(), form.secret, mailbox_id=mailbox.id)
    _after_connect(mailbox.id)
    flash(f"{mailbox.email}: new settings saved and connected.", "success")
    return (reconnect_all.back_to_round(mailbox.id, "New settings saved and connected.")
            or redirect(url_for("settings.email_accounts")))


def _after_connect(mailbox_id: int) -> None:
    """Its checks start on their own schedule; notices and sequence logs follow now."""
    from tasks.checks import schedule_next
    from tasks.notices import dispatch_events

    schedule_next(mailbox_id)
    dispatch_events()


# --- Reconnect, disable, delete ----------------------------------------------------------

@bp.route("/<id:mailbox_id>/reconnect", methods=["GET", "POST"])
@login_required
def reconnect(mailbox_id):
    """Confirm the address, then off to the provider's sign-in, pre-filled with it."""
    mailbox = _managed_or_403(mailbox_id)
    if not mailbox.is_oauth:
        return redirect(url_for("mailboxes.credentials", mailbox_id=mailbox.id))
    provider = providers().get(mailbox.provider)
    if provider is None:
        abort(404)
    if request.method == "POST":
        return oauth_views.start(provider, mailbox)
    return render_template("mailboxes/reconnect.html", mailbox=mailbox, provider=provider)


@bp.route("/<id:mailbox_id>/disable", methods=["POST"])
@login_required
def disable(mailbox_id):
    mailbox = _managed_or_403(mailbox_id)
    connections.disable(mailbox, current_user._get_current_object())
    return _back_to_list(f"{mailbox.email} is disabled; its sequences are blocked.", mailbox.id)


@bp.route("/<id:mailbox_id>/enable", methods=["POST"])
@login_required
def enable(mailbox_id):
    mailbox = _managed_or_403(mailbox_id)
    if mailbox.status == DISABLED:
        from tasks.checks import request_check

        connections.enable(mailbox, current_user._get_current_object())
        request_check(mailbox.id)
    return _back_to_list(f"{mailbox.email} is enabled; Tether is checking it now.", mailbox.id)


def _back_to_list(message, mailbox_id=None):
    """Back to the list: to the page the mailbox is on, when it is still listed."""
    from tasks.notices import dispatch_events

    dispatch_events()  # sequence logs and notices follow the change at once
    flash(message, "info")
    return redirect(url_for("settings.email_accounts", mailbox=mailbox_id), code=303)


@bp.route("/<id:mailbox_id>/delete", methods=["GET", "POST"])
@login_required
def delete(mailbox_id):
    """Confirm (naming the sequences that use it), then remove: revoke, erase, keep history."""
    mailbox = _managed_or_403(mailbox_id)
    if request.method == "GET":
        return render_template("mailboxes/delete.html", mailbox=mailbox,
                               sequences=list(Sequence.using_mailbox(mailbox)))
    tokens = connections.delete(mailbox, current_user._get_current_object())
    provider = providers().get(mailbox.provider)
    if provider is not None:
        for token in tokens:  # best effort: the credentials are erased either way
            if oauth.revoke(provider, token):
                break
    return _back_to_list(f"{mailbox.email} is removed. Add it again to re-attach its sequences.")
