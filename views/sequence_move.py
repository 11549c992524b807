"""Moving a sequence to another mailbox of the team (issue 19): the page that says what will
happen, and the move. Owners, admins and the sequence's creator; another team's sequence or
mailbox is a 404. The rules are models/sequence_move.py's."""

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required

from models import sequence_move
from models.sequences import Sequence
from views.common import render, team_object_or_404
from views.forms.sequence_move import MoveForm

bp = Blueprint("sequence_move", __name__)


@bp.app_template_global()
def may_move(sequence) -> bool:
    """For the sequence's page: whether to offer "Move to another mailbox"."""
    return sequence_move.may_move(current_user, sequence)


@bp.route("/sequences/<id:sequence_id>/move", methods=["GET", "POST"])
@login_required
def move(sequence_id):
    """Choose a connected mailbox and say why; the page says what happens before confirming."""
    sequence = team_object_or_404(Sequence, sequence_id)
    if not sequence_move.may_move(current_user, sequence):
        abort(403)
    mailboxes = sequence_move.targets(sequence)
    form = MoveForm(sequence, mailboxes)
    refusal = None
    if form.validate_on_submit():
        try:
            moved = sequence_move.move(sequence, current_user, form.seen_mailbox_id, form.chosen,
                                       form.reason.data)
        except sequence_move.Refused as e:
            refusal = str(e)
        else:
            from tasks.sending import send_now

            send_now(moved.new.id)  # its waiting emails go now, not at the next sweep
            flash(f"“{sequence.name}” now sends from {moved.new.email}.", "success")
            return redirect(url_for("sequences.show", sequence_id=sequence.id))
        sequence = Sequence.get_by_id(sequence.id)  # as it is now: someone else may have moved it
        mailboxes = sequence_move.targets(sequence)
        form = MoveForm(sequence, mailboxes, formdata=None, reason=form.reason.data)
    status = 409 if refusal else 422 if form.errors else 200
    return render("sequences/move.html", sequence=sequence, form=form, refusal=refusal,
                  preview=sequence_move.preview(sequence),
                  connected=[m for m in mailboxes if m.can_send]), status
