"""Sequences: the list with each sequence's toggle, a sequence's page, its steps and its log.

Who may do what: everyone in the team sees, creates, edits, starts, pauses and enrolls
contacts in all of the team's sequences, sending from any of the team's mailboxes (the
mailboxes are the team's). Moving a sequence to another mailbox — here in its settings, or
on its Move page — and deleting it are for the person who created it and for owners and
admins. Another team's sequence, step or mailbox is a 404.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import clock
from models import outbox, sequence_move, sequence_pages
from models.contacts import Contact, custom_field_names
from models.mailboxes import Mailbox
from models.outbox import OutboxEmail
from models.preview import start_refusal
from models.sequences import (
    ACTIVE,
    BLOCKED,
    ENROLLMENT_STATUSES,
    PAUSED,
    WEEKDAYS,
    Enrollment,
    Sequence,
    SequenceLog,
    create_sequence,
    default_timezone,
    delete_sequence,
    move_step,
    remove_step,
    save_step,
    update_settings,
)
from models.step_changes import waiting_count
from models.templating import known_fields
from views.common import render, safe_next, step_or_404, team_object_or_404
from views.extensions import htmx
from views.forms.sequences import SettingsForm, StepForm
from views.inputs import object_id, page_number, whole_number
from views.live import render_live, unchanged

bp = Blueprint("sequences", __name__)
PER_PAGE = 50


@bp.route("/")
@login_required
def home():
    return redirect(url_for("sequences.index"))


@bp.route("/sequences")
@login_required
def index():
    """The team's sequences, each with its toggle; live."""
    if unchanged():
        return "", 204
    sequences = list(Sequence.of_team(current_user.team_id))
    return render_live("sequences/index.html", "sequences/_list.html", sequences=sequences,
                       counts=sequence_pages.enrollment_counts([s.id for s in sequences]),
                       has_mailboxes=Mailbox.live().where(
                           Mailbox.team == current_user.team_id).exists())


# ---- Settings ---------------------------------------------------------------------------------

def _mailboxes(sequence) -> list:
    """The mailboxes a sequence may send from: the team's, and its own even once removed."""
    mailboxes = list(Mailbox.live().where(Mailbox.team == current_user.team_id)
                     .order_by(Mailbox.email))
    if sequence.mailbox_id and sequence.mailbox not in mailboxes:
        mailboxes.append(sequence.mailbox)  # its removed mailbox, shown as such
    return mailboxes


_POSTED = object()  # the form reads the request, as Flask-WTF does by default
SETTINGS_REASON = "Changed in the sequence's settings"


def _settings_form(sequence, formdata=_POSTED):
    """The settings form: as posted, or as saved (`formdata=None`)."""
    kwargs = {} if formdata is _POSTED else {"formdata": formdata}
    return SettingsForm(sequence, _mailboxes(sequence),
                        may_move=sequence_move.may_move(current_user, sequence), **kwargs)


def _settings_context(sequence, form=None, **context):
    """What the editor's templates need. Without `form`, the settings as saved; the steps as
    saved, and `new_form` for the email being added unless given."""
    mailboxes = _mailboxes(sequence)
    if form is None:
        form = _settings_form(sequence, formdata=None)
    steps = list(sequence.steps_in_order()) if sequence.id else []
    context.setdefault("new_form", StepForm.blank(len(steps) + 1))
    return dict(sequence=sequence, mailboxes=mailboxes, form=form, weekdays=WEEKDAYS,
                fields=known_fields(custom_field_names(sequence.team_id)), steps=[(step, StepForm.of(step)) for step in steps],
                waiting={step.id: waiting_count(sequence, step) for step in steps},
                waiting_total=waiting_count(sequence) if sequence.id else 0, **context)


def _wake(sequence) -> None:
    """A change made emails due sooner, or later: the sender looks again now, not at the
    wake-up it planned by the old timing."""
    if not sequence.paused:
        from tasks.sending import send_now

        send_now(sequence.mailbox_id)


def _rescheduled(count: int) -> str:
    if not count:
        return ""
    return (" 1 contact waiting for it is rescheduled." if count == 1
            else f" {count:,} contacts waiting for it are rescheduled.")


@bp.route("/sequences/new", methods=["GET", "POST"])
@login_required
def new():
    """Name the sequence and choose its mailbox and sending window; steps come next."""
    draft = Sequence(team=current_user.team_id, timezone=default_timezone(current_user.team_id))
    form = _settings_form(draft)
    if form.validate_on_submit():
        sequence = create_sequence(current_user.team_id, current_user, **form.values())
        flash("Sequence created. Write its first email, then start it.", "success")
        return redirect(url_for("sequences.edit", sequence_id=sequence.id))
    return (render("sequences/new.html", "sequences/_settings.html",
                   **_settings_context(draft, form)), 422 if form.errors else 200)


@bp.route("/sequences/<id:sequence_id>/edit", methods=["GET", "POST"])
@login_required
def edit(sequence_id):
    """A sequence's settings and steps."""
    sequence = team_object_or_404(Sequence, sequence_id)
    form = _settings_form(sequence)
    if form.validate_on_submit():
        values = form.values()
        target = values.pop("mailbox")
        if target.id != sequence.mailbox_id:
            # A new mailbox is a move, by the one rule for moving (who may, to a connected
            # mailbox only, nothing in flight sent twice, a concurrent move refused).
            try:
                sequence_move.move(sequence, current_user, sequence.mailbox_id, target,
                                   SETTINGS_REASON)
            except sequence_move.Refused as e:
                form.mailbox.errors.append(str(e))
                return render("sequences/edit.html", "sequences/_settings.html",
                              **_settings_context(sequence, form)), 409
            sequence = Sequence.get_by_id(sequence.id)
        moved = update_settings(sequence, current_user, **values)
        _wake(sequence)
        flash("Settings saved." + (f" {moved:,} waiting contact{'s' if moved != 1 else ''} "
                                   "now follow the new sending window."
                                   if moved else ""), "success")
        return redirect(url_for("sequences.edit", sequence_id=sequence.id))
    if form.errors:
        return render("sequences/edit.html", "sequences/_settings.html",
                      **_settings_context(sequence, form)), 422
    return render("sequences/edit.html", **_settings_context(sequence, form))


@bp.route("/sequences/<id:sequence_id>/delete", methods=["POST"])
@login_required
def delete(sequence_id):
    """Delete a sequence with its steps, enrollments and log (creator, owners and admins)."""
    sequence = team_object_or_404(Sequence, sequence_id)
    if not (current_user.is_admin or sequence.created_by_id == current_user.id):
        abort(403)
    delete_sequence(sequence)
    flash(f"Sequence “{sequence.name}” deleted.", "info")
    return redirect(url_for("sequences.index"))


# ---- Steps ------------------------------------------------------------------------------------

def _steps_section(sequence, status=200, **context):
    return render("sequences/edit.html", "sequences/_steps.html",
                  **_settings_context(sequence, **context)), status


@bp.route("/sequences/<id:sequence_id>/steps", methods=["POST"])
@login_required
def add_step(sequence_id):
    """Add an email at the end of the sequence."""
    sequence = team_object_or_404(Sequence, sequence_id)
    form = StepForm(first=not sequence.steps.count(), team_id=sequence.team_id)
    if not form.validate():
        return _steps_section(sequence, 422, new_form=form)
    save_step(sequence, current_user, **form.values())
    if not htmx:
        return redirect(url_for("sequences.edit", sequence_id=sequence.id))
    return _steps_section(sequence)


@bp.route("/sequences/<id:sequence_id>/steps/<id:step_id>", methods=["POST"])
@login_required
def update_step(sequence_id, step_id):
    """Save one step; only its card is re-rendered, so other unsaved edits stay."""
    sequence = team_object_or_404(Sequence, sequence_id)
    step = step_or_404(sequence, step_id)
    form = StepForm(first=step.position == 0, team_id=sequence.team_id)
    saved = form.validate()
    rescheduled = 0
    if saved:
        rescheduled = save_step(sequence, current_user, step, **form.values()).rescheduled
        if rescheduled:
            _wake(sequence)
        if not htmx:
            flash(f"Email {step.position + 1} saved.{_rescheduled(rescheduled)}", "success")
            return redirect(url_for("sequences.edit", sequence_id=sequence.id))
    return render("sequences/edit.html", "sequences/_step.html",
                  **_settings_context(sequence), step=step, step_form=form,
                  saved=saved, rescheduled=_rescheduled(rescheduled)), 200 if saved else 422


@bp.route("/sequences/<id:sequence_id>/steps/<id:step_id>/delete", methods=["POST"])
@login_required
def delete_step(sequence_id, step_id):
    """Remove a step; the later ones move up."""
    sequence = team_object_or_404(Sequence, sequence_id)
    problem = remove_step(sequence, current_user, step_or_404(sequence, step_id))
    if not problem:
        _wake(sequence)
    return _after_step_change(sequence, problem)


@bp.route("/sequences/<id:sequence_id>/steps/<id:step_id>/move", methods=["POST"])
@login_required
def move(sequence_id, step_id):
    """Move an email one place up or down (buttons, so the keyboard can do it too), or to
    place `to` (1-based: where it was dropped when dragged, static/step_drag.js)."""
    sequence = team_object_or_404(Sequence, sequence_id)
    step = step_or_404(sequence, step_id)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if "to" in request.form:
        place = whole_number(request.form["to"], 1, 10_000)
        offset = place - 1 - step.position if place else None
    problem = (move_step(sequence, current_user, step, offset) if offset
               else "Choose whether the email moves up or down.")
    if not problem:
        _wake(sequence)
    return _after_step_change(sequence, problem, moved=step.id)


def _after_step_change(sequence, problem, moved=None):
    """The steps again: a redirect for a plain form, the section for htmx (with the moved
    email's button keeping the focus)."""
    if not htmx:
        if problem:
            flash(problem, "error")
        return redirect(url_for("sequences.edit", sequence_id=sequence.id))
    return _steps_section(sequence, 422 if problem else 200, steps_problem=problem,
                          moved=moved)


# ---- The toggle, the sequence's page, its log ------------------------------------------------

@bp.route("/sequences/<id:sequence_id>/toggle", methods=["POST"])
@login_required
def toggle(sequence_id):
    """Pause an active sequence or start a paused one. A blocked one is not started: the
    answer explains what blocks it and where to fix it."""
    sequence = team_object_or_404(Sequence, sequence_id)
    state, problem = sequence.state, None
    if request.form.get("action") == "pause" or state not in (PAUSED, BLOCKED):
        sequence.pause(current_user)
    elif state == PAUSED:
        # Not while a step would go out broken to an enrolled contact (models/preview.py).
        problem = start_refusal(sequence) or sequence.resume(current_user)
    sequence = Sequence.get_by_id(sequence.id)
    if state == PAUSED and sequence.state == ACTIVE:
        from tasks.sending import send_now

        send_now(sequence.mailbox_id)  # its due emails go now, not at the next sweep
    # Pressed while orange, or started but still held by its mailbox: say why, and where to fix.
    explain = sequence.state == BLOCKED and request.form.get("action") != "pause"
    if not htmx:
        if problem or explain:
            flash(problem or f"Blocked: {sequence.mailbox_problem}.", "error")
        return redirect(safe_next(request.form.get("next"),
                                  url_for("sequences.show", sequence_id=sequence.id)))
    return render_template("sequences/_toggle.html", sequence=sequence, explain=explain,
                           refusal=problem)


@bp.route("/sequences/<id:sequence_id>")
@login_required
def show(sequence_id):
    """A sequence: its toggle, mailbox, steps at a glance, and its contacts' status; live."""
    sequence = team_object_or_404(Sequence, sequence_id)
    if unchanged():
        return "", 204
    status = request.args.get("status", "")
    page = page_number()
    enrollments = (Enrollment.select(Enrollment, Contact).join(Contact)
                   .where(Enrollment.sequence == sequence)
                   .order_by(Enrollment.created_at.desc(), Enrollment.id.desc()))
    if status in ENROLLMENT_STATUSES:
        enrollments = enrollments.where(Enrollment.status == status)
    enrollments = list(enrollments.paginate(page, PER_PAGE))
    emails, now = sequence_pages.pending_by_enrollment([e.id for e in enrollments]), clock.now()
    return render_live("sequences/show.html", "sequences/_overview.html", sequence=sequence,
                       steps=list(sequence.steps_in_order()), status=status, current_page=page,
                       counts=sequence_pages.enrollment_counts([sequence.id])[sequence.id],
                       enrollments=enrollments, next_emails={e.id: sequence_pages.next_email(
                           sequence, e, emails.get(e.id), now) for e in enrollments},
                       attention=sequence_pages.attention_count(sequence.id),
                       per_page=PER_PAGE, statuses=ENROLLMENT_STATUSES)


@bp.route("/sequences/<id:sequence_id>/log")
@login_required
def log(sequence_id):
    """Everything that happened to the sequence, newest first; live."""
    sequence = team_object_or_404(Sequence, sequence_id)
    if unchanged():
        return "", 204
    # Newest first by the time things happened (an entry written late by a retried handler
    # carries its event's time); `before` names the last entry of the previous page.
    entries = sequence.log.order_by(SequenceLog.created_at.desc(), SequenceLog.id.desc())
    before = object_id(request.args.get("before"))
    anchor = before and SequenceLog.get_or_none((SequenceLog.id == before)
                                                & (SequenceLog.sequence == sequence))
    if anchor:
        entries = entries.where((SequenceLog.created_at < anchor.created_at)
                                | ((SequenceLog.created_at == anchor.created_at)
                                   & (SequenceLog.id < anchor.id)))
    entries = list(entries.limit(PER_PAGE + 1))
    return render_live("sequences/log.html", "sequences/_log.html", sequence=sequence,
                       entries=entries[:PER_PAGE], more=len(entries) > PER_PAGE, before=before,
                       attention=[] if before else sequence_pages.needing_attention(sequence))


@bp.route("/sequences/<id:sequence_id>/emails/<id:email_id>/send-again", methods=["POST"])
@login_required
def send_again(sequence_id, email_id):
    """The one click for an email whose outcome is unknown or that was not sent: it goes
    back to the queue (never resent by Tether on its own)."""
    sequence = team_object_or_404(Sequence, sequence_id)
    email = OutboxEmail.get_or_none((OutboxEmail.id == email_id)
                                    & (OutboxEmail.sequence == sequence))
    if email is None:
        abort(404)
    problem = outbox.send_again(email, current_user)
    if problem:
        flash(problem, "error")
    else:
        from tasks.sending import send_now

        send_now(sequence.mailbox_id)  # now, not at the next sweep
        flash(f"Email {email.number} to {email.to_email or email.contact.email} is sent again "
              "as soon as the mailbox and the sending window allow.", "success")
    return redirect(url_for("sequences.log", sequence_id=sequence.id))
