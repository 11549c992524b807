"""The form that moves a sequence to another mailbox. Its rules are models/sequence_move.py's;
another team's mailbox is a 404, as everywhere."""

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import ValidationError

from models.mailboxes import Mailbox
from models.sequence_move import MAX_REASON, reason_problem, target_problem
from views.common import team_object_or_404
from views.forms import Form, Rule, strip
from views.inputs import object_id


def _label(mailbox) -> str:
    if mailbox.status == "connected":
        return mailbox.email
    return f"{mailbox.email} ({mailbox.status_label.lower()})"


class MoveForm(Form):
    """`mailboxes` are the team's others (models/sequence_move.targets). `from_mailbox` is the
    mailbox the person saw the sequence send from: the move is a compare-and-set on it, so a
    second person moving at the same time is told rather than overriding the first."""

    mailbox = SelectField("Move to", validate_choice=False, render_kw={"required": True})
    reason = StringField("Why", filters=[strip], render_kw={"maxlength": MAX_REASON},
                         validators=[Rule(reason_problem, required=True)])
    from_mailbox = HiddenField()

    def __init__(self, sequence, mailboxes, *args, reason: str = "", **kwargs):
        super().__init__(*args, data={"from_mailbox": str(sequence.mailbox_id),
                                      "reason": reason}, **kwargs)
        self.sequence, self.chosen = sequence, None
        self.mailbox.choices = [("", "Choose a connected mailbox…")] + [
            (str(m.id), _label(m), {} if m.can_send else {"disabled": True}) for m in mailboxes]

    def validate_mailbox(self, field):
        if not field.data:
            raise ValidationError("Choose the mailbox the sequence should send from.")
        mailbox = team_object_or_404(Mailbox, field.data)
        problem = target_problem(self.sequence, mailbox)
        if problem:
            raise ValidationError(problem)
        self.chosen = mailbox

    def validate_from_mailbox(self, field):
        if object_id(field.data) is None:
            raise ValidationError("Open the page again: it did not say which mailbox it showed.")

    @property
    def seen_mailbox_id(self) -> int:
        return object_id(self.from_mailbox.data)
