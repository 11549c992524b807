"""The Mailbox health page's filters: status, person and period, read from the query string.
A value the page does not offer is refused in words, and the page shows everything instead."""

from wtforms import SelectField
from wtforms.validators import ValidationError

from models.mailbox_health import PERIODS
from models.mailboxes import STATUS_LABELS
from views.forms import Form


class HealthFilterForm(Form):
    status = SelectField("Status", default="", validate_choice=False)
    person = SelectField("Connected by", default="", validate_choice=False)
    days = SelectField("Period", default=str(PERIODS[1]), validate_choice=False)

    def __init__(self, people, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [("", "Any status"), *STATUS_LABELS.items()]
        self.person.choices = [("", "Anyone")] + [(str(i), name) for i, name in people]
        self.days.choices = [(str(d), f"Last {d} days") for d in PERIODS]

    def validate_status(self, field):
        if field.data not in dict(self.status.choices):
            field.data = ""
            raise ValidationError("Choose a status from the list.")

    def validate_person(self, field):
        if field.data not in dict(self.person.choices):
            field.data = ""
            raise ValidationError("Choose someone from the list: that person connected none of "
                             "the mailboxes you can see.")

    def validate_days(self, field):
        if field.data not in dict(self.days.choices):
            field.data = str(PERIODS[1])
            raise ValidationError(f"Choose a period of {', '.join(map(str, PERIODS))} days.")
