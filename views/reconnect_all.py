"""“Reconnect all mine” (issue 19): one button on Email Accounts, then each of the person's
broken mailboxes in turn — the reconnect page's own confirm-and-sign-in for Google and
Microsoft ones, the credentials form for Other Provider ones — and a summary of what is green
now. The round is models/reconnect_all.py's; this keeps it in the browser session and steers
the ordinary pages back to it (the OAuth callback and the credentials form ask `back_to_round`).
"""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from models.reconnect_all import Round, mine_to_reconnect
from views.common import providers

bp = Blueprint("reconnect_all", __name__, url_prefix="/settings/email-accounts/reconnect-all")
KEY = "reconnect_all"


def _round() -> Round | None:
    return Round.load(session.get(KEY))


def _keep(round_: Round) -> None:
    session[KEY] = round_.dump()


@bp.app_template_global()
def reconnect_all_count() -> int:
    """For the Email Accounts page: how many of the person's mailboxes need reconnecting."""
    return mine_to_reconnect(current_user).count() if current_user.is_authenticated else 0


@bp.app_template_global()
def reconnect_round_for(mailbox):
    """For the credentials form: (position, total) while the round visits `mailbox`."""
    round_ = _round()
    if round_ is None or mailbox is None or not round_.includes(mailbox.id):
        return None
    return round_.position(mailbox), len(round_.ids)


def back_to_round(mailbox_id: int | None, words: str):
    """Called by the pages a round passes through once a mailbox's reconnect ended: note what
    happened and go on with the round; None when no round is visiting that mailbox."""
    round_ = _round()
    if round_ is None or mailbox_id is None or not round_.includes(mailbox_id):
        return None
    round_.note(mailbox_id, words)
    _keep(round_)
    return redirect(url_for("reconnect_all.step"), code=303)


@bp.route("", methods=["POST"])
@login_required
def start():
    """The one button: every mailbox of mine that needs reconnecting, one after another."""
    round_ = Round.start(current_user)
    if round_ is None:
        flash("None of your mailboxes needs reconnecting.", "info")
        return redirect(url_for("settings.email_accounts"), code=303)
    _keep(round_)
    return redirect(url_for("reconnect_all.step"), code=303)


@bp.route("/step")
@login_required
def step():
    """The next mailbox: its reconnect confirmation (Google, Microsoft) or its credentials form
    (Other Provider); the summary once none is left."""
    round_ = _round()
    mailbox = round_.current(current_user) if round_ and not round_.finished else None
    if mailbox is None:
        return redirect(url_for("reconnect_all.done"))
    if not mailbox.is_oauth:
        return redirect(url_for("mailboxes.credentials", mailbox_id=mailbox.id))
    return render_template("mailboxes/reconnect_all.html", mailbox=mailbox,
                           provider=providers().get(mailbox.provider),
                           position=round_.position(mailbox), rows=_rows(round_))


@bp.route("/skip", methods=["POST"])
@login_required
def skip():
    """Leave the current mailbox red for now and go on with the next."""
    round_ = _round()
    if round_ is not None:
        mailbox = round_.current(current_user)
        if mailbox is not None:
            round_.skip(mailbox.id)
            _keep(round_)
    return redirect(url_for("reconnect_all.step"), code=303)


@bp.route("/done")
@login_required
def done():
    """What is green now: every mailbox of the round, its status and what happened to it."""
    round_ = _round()
    if round_ is None:
        return redirect(url_for("settings.email_accounts"))
    if not round_.finished:
        round_.finished = True  # the ordinary pages stop steering back here
        _keep(round_)
    rows = _rows(round_)
    return render_template("mailboxes/reconnect_all_done.html", rows=rows,
                           green=sum(1 for mailbox, _ in rows if mailbox.can_send))


def _rows(round_: Round):
    return [(mailbox, round_.said.get(str(mailbox.id), ""))
            for mailbox in round_.mailboxes(current_user)]
