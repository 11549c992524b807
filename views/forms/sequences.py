"""The sequence forms: its settings (name, mailbox, sender name, sending window, time zone)
and one of its emails (a step). Their rules are models/sequence_rules.py's."""

from wtforms import Field, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError
from wtforms.widgets import TimeInput

from models.contacts import custom_field_names
from models.mailboxes import Mailbox
from models.sequence_rules import (
    DELAY_UNITS,
    MAX_FOOTER,
    MAX_NAME,
    MAX_SENDER_NAME,
    MAX_SUBJECT,
    TIMEZONES,
    check_body,
    check_delay,
    check_footer,
    check_mailbox,
    check_name,
    check_sender_name,
    check_subject,
    check_timezone,
    check_window,
    delay_as_typed,
    delay_minutes,
    minutes,
)
from models.templating import FIELDS, names_used
from views.common import team_object_or_404
from views.forms import Form, Rule, WholeNumberField, check, strip
from views.inputs import whole_number


class WeekdaysField(Field):
    """The sending days' checkboxes (0 = Monday), rendered by the template: the days ticked,
    in order. A value that is no day of the week is refused, never stored."""

    def process_formdata(self, valuelist):
        days = {whole_number(value, 0, 6) for value in valuelist}
        if None in days or len(days) != len(set(valuelist)):  # "1" and "01" are one day
            raise ValueError("Choose days of the week from the list.")
        self.data = sorted(days)


def team_fields(team_id, *texts: str) -> set[str]:
    """The team's custom field names, for the template rules: asked of the database only
    when a text uses a field beyond the built-in ones (most emails do not)."""
    if team_id is None or not any(names_used(text or "") - set(FIELDS) for text in texts):
        return set()
    return custom_field_names(team_id)


def _hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def _mailbox_label(mailbox) -> str:
    if mailbox.deleted_at:
        return f"{mailbox.email} (removed)"
    if mailbox.status != "connected":
        return f"{mailbox.email} ({mailbox.status_label.lower()})"
    return mailbox.email


LOCKED = ("Only an owner, an admin or the person who created this sequence can move it to "
          "another mailbox. Nothing was changed.")


class SettingsForm(Form):
    """`sequence` is the one being edited, or an unsaved draft with the defaults; `mailboxes`
    the team's to choose from (with the sequence's own, even once removed)."""

    name = StringField("Name", filters=[strip], render_kw={"maxlength": MAX_NAME},
                       validators=[Rule(check_name, required=True)])
    mailbox = SelectField("Send from", validate_choice=False, render_kw={"required": True})
    sender_name = StringField("Sender name", filters=[strip],
                              render_kw={"maxlength": MAX_SENDER_NAME},
                              validators=[Rule(check_sender_name)])
    # The sending window's errors — days and hours together — are this field's.
    days = WeekdaysField("Sending window")
    window_start = StringField("Between", widget=TimeInput(), render_kw={"required": True})
    window_end = StringField("and", widget=TimeInput(), render_kw={"required": True})
    timezone = SelectField("Time zone", choices=TIMEZONES,
                           validate_choice=False, validators=[Rule(check_timezone)])
    unsubscribe_footer = TextAreaField("Unsubscribe footer", filters=[strip],
                                       render_kw={"maxlength": MAX_FOOTER, "rows": 3})

    def __init__(self, sequence, mailboxes, *args, may_move: bool = True, **kwargs):
        saved = dict(name=sequence.name or "", sender_name=sequence.sender_name,
                     mailbox=str(sequence.mailbox_id or ""), days=sequence.days,
                     window_start=_hhmm(sequence.window_start),
                     window_end=_hhmm(sequence.window_end), timezone=sequence.timezone,
                     unsubscribe_footer=sequence.unsubscribe_footer)
        super().__init__(*args, data=saved, **kwargs)
        self.sequence, self.chosen_mailbox = sequence, None
        self.mailbox.choices = [("", "Choose a mailbox…")] + [
            (str(m.id), _mailbox_label(m)) for m in mailboxes]
        # Moving a sequence is for owners, admins and its creator (models/sequence_move.py):
        # anyone else sees the mailbox, greyed out, and a changed one posted is refused.
        self.mailbox_locked = not may_move and sequence.id is not None
        if self.mailbox_locked:
            self.mailbox.render_kw = {**self.mailbox.render_kw, "disabled": True}

    def validate_mailbox(self, field):
        """Another team's mailbox is a 404; a removed one only stays the sequence's own."""
        if self.mailbox_locked:
            if field.data and field.data != str(self.sequence.mailbox_id):
                field.data = str(self.sequence.mailbox_id)
                raise ValidationError(LOCKED)
            field.data = str(self.sequence.mailbox_id)  # a disabled select is not posted
        mailbox = team_object_or_404(Mailbox, field.data) if field.data else None
        if mailbox and mailbox.deleted_at and mailbox.id != self.sequence.mailbox_id:
            raise ValidationError("That mailbox was removed. Choose another one.")
        check(check_mailbox, mailbox)
        self.chosen_mailbox = mailbox

    def validate_unsubscribe_footer(self, field):
        check(check_footer, field.data or "", team_fields(self.sequence.team_id, field.data))

    def validate_days(self, field):
        if not field.errors:  # a day outside the week says so first
            check(check_window, field.data, *self._window())

    def _window(self) -> tuple[int | None, int | None]:
        return minutes(self.window_start.data), minutes(self.window_end.data)

    def values(self) -> dict:
        """The settings as create_sequence and update_settings take them."""
        start, end = self._window()
        return dict(name=self.name.data, mailbox=self.chosen_mailbox,
                    sender_name=self.sender_name.data,
                    window_days=",".join(map(str, self.days.data)), window_start=start,
                    window_end=end, timezone=self.timezone.data,
                    unsubscribe_footer=self.unsubscribe_footer.data or "")


class StepForm(Form):
    """One email; `first` is whether it is the sequence's first (which needs a subject)."""

    delay_amount = WholeNumberField("Wait", blank=0)
    delay_unit = SelectField("Unit", choices=list(DELAY_UNITS), default="days",
                             validate_choice=False)
    # Only blanks are trimmed: a line break must reach the rule that refuses it.
    subject = StringField("Subject", filters=[lambda s: s.strip(" \t") if s else s],
                          render_kw={"maxlength": MAX_SUBJECT})
    body = TextAreaField("Email")

    def __init__(self, *args, first: bool, team_id=None, **kwargs):
        """`team_id`: the sequence's team, whose contacts' custom fields a step may use."""
        super().__init__(*args, **kwargs)
        self.first, self.team_id = first, team_id
        self.subject.flags.required = first
        self.body.flags.required = True

    @classmethod
    def of(cls, step):
        """The form of a saved step, filled in with it."""
        amount, unit = delay_as_typed(step.delay_minutes)
        return cls(formdata=None, first=step.position == 0,
                   data={"subject": step.subject, "body": step.body, "delay_amount": amount,
                         "delay_unit": unit})

    @classmethod
    def blank(cls, number: int):
        """The form for email `number` (1 for the first), not yet written."""
        return cls(formdata=None, first=number == 1,
                   data={"delay_amount": 0 if number == 1 else 3, "delay_unit": "days"})

    def validate_subject(self, field):
        check(check_subject, field.data or "", self.first,
              team_fields(self.team_id, field.data))

    def validate_body(self, field):
        check(check_body, field.data or "", team_fields(self.team_id, field.data))

    # The wait's errors are the amount's: the unit is a choice from the list.
    def validate_delay_amount(self, field):
        check(check_delay, field.data, self.delay_unit.data)

    def values(self) -> dict:
        return dict(subject=self.subject.data or "", body=self.body.data or "",
                    delay_minutes=delay_minutes(self.delay_amount.data, self.delay_unit.data))
