"""A sequence's preview: each step as a chosen contact will get it (subject, headers, plain
text and HTML, fields filled and flagged), what keeps the sequence from starting, and the
test send of a step to the signed-in person through the sequence's mailbox.

Everyone in the team may preview and test-send the team's sequences (as they may edit them).
Another team's sequence, step or contact is a 404.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from models import preview as previews
from models.contacts import Contact
from models.sequences import Enrollment, Sequence
from models.test_send import TestSend, mailbox_refusal, request_test
from views.common import render, step_or_404, team_object_or_404
from views.extensions import htmx
from views.forms.preview import TestSendForm
from views.inputs import object_id

bp = Blueprint("preview", __name__)
CHOICES = 200  # contacts offered in the chooser; any other of the team's by ?contact=


def _choices(sequence) -> list:
    """The contacts to preview for: the sequence's, else the team's (by address)."""
    enrolled = (Contact.select().join(Enrollment).where(Enrollment.sequence == sequence)
                .order_by(Contact.email).limit(CHOICES))
    found = list(enrolled)
    if not found:
        found = list(Contact.select().where(Contact.team == sequence.team_id)
                     .order_by(Contact.email).limit(CHOICES))
    return found


def _chosen(sequence, choices):
    """The contact named by ?contact= (the team's, or 404), else the first choice."""
    wanted = request.args.get("contact") or request.form.get("contact")
    if wanted:
        return team_object_or_404(Contact, wanted)
    return choices[0] if choices else None


@bp.route("/sequences/<id:sequence_id>/preview")
@login_required
def show(sequence_id):
    """Every step rendered for one contact, and what would keep the sequence from starting."""
    sequence = team_object_or_404(Sequence, sequence_id)
    choices = _choices(sequence)
    contact = _chosen(sequence, choices)
    if contact is not None and contact not in choices:
        choices.insert(0, contact)
    problems, total = previews.start_problems(sequence)
    return render("sequences/preview.html", sequence=sequence, choices=choices, contact=contact,
                  emails=previews.preview(sequence, contact) if contact else [],
                  problems=problems, problem_total=total,
                  mailbox_problem=mailbox_refusal(sequence.mailbox),
                  recent=_recent_tests(sequence))


def _recent_tests(sequence) -> dict:
    """Each step's latest test send by this person, for its card."""
    latest = {}
    for test in (TestSend.select().where((TestSend.sequence == sequence)
                                         & (TestSend.user == current_user.id))
                 .order_by(TestSend.id.desc()).limit(50)):
        latest.setdefault(test.step_id, test)
    return latest


@bp.route("/sequences/<id:sequence_id>/steps/<id:step_id>/test-send", methods=["POST"])
@login_required
def test_send(sequence_id, step_id):
    """Queue a test of one step, rendered for the chosen contact, to the signed-in person."""
    sequence = team_object_or_404(Sequence, sequence_id)
    step = step_or_404(sequence, step_id)
    form = TestSendForm()
    if not form.validate():
        problem, test = next(iter(form.first_errors().values())), None
    else:
        contact = team_object_or_404(Contact, form.contact.data)
        test, problem = request_test(sequence, step, contact, current_user)
    if test is not None:
        from tasks.test_sends import send_test

        send_test(test.id)  # the worker sends it; the task takes the id only
    if not htmx:
        if problem:
            flash(problem, "error")
        else:
            flash(f"Test of email {step.position + 1} is on its way to {current_user.email}.",
                  "success")
        return redirect(url_for("preview.show", sequence_id=sequence.id,
                                contact=form.contact.data or None))
    return render_template("sequences/_test_send.html", sequence=sequence, step=step,
                           test=test, refusal=problem), 200 if test else 422


@bp.route("/sequences/<id:sequence_id>/test-sends/<id:test_id>")
@login_required
def test_status(sequence_id, test_id):
    """A test send's outcome; the partial polls itself until it is sent or refused."""
    sequence = team_object_or_404(Sequence, sequence_id)
    test = TestSend.get_or_none((TestSend.id == object_id(test_id))
                                & (TestSend.sequence == sequence))
    if test is None:
        abort(404)
    return render_template("sequences/_test_send.html", sequence=sequence, step=test.step,
                           test=test, refusal=None)
