"""What every form shares: the base form, and the project's own rules as WTForms validators.

The rules themselves stay where tasks and models use them too (models/text.py for names and
addresses, models/accounts.py for passwords, views/inputs.py for numbers); a form only calls
them, so a value is refused in the same words by a form, a CSV import and a model.
"""

from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import NumberInput

from models.text import email_address
from views.inputs import MAX_ID, whole_number


class Form(FlaskForm):
    """A form without a CSRF field of its own: CSRFProtect (views/extensions.py) has checked
    every POST before the view runs — the hidden field of a plain form and the header of an
    htmx request alike — so a second check here would only be a second place to keep right."""

    class Meta:
        csrf = False

    def first_errors(self) -> dict[str, str]:
        """Each field's first error by field name: what a summary (the connection test's
        "fix the highlighted fields") lists."""
        return {name: errors[0] for name, errors in self.errors.items() if errors}


def strip(value):
    """The filter for one-line text: surrounding spaces are never part of a value, and a
    field missing from the request (WTForms leaves it None) is an empty one."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


class Rule:
    """A rule as a validator: `rule(value, *args)` returns what is wrong in words (None when
    nothing is) or raises ValueError with them. The error is the rule's own words, or the
    form's `message`. `required` marks the input required for the browser too."""

    def __init__(self, rule, *args, message: str | None = None, required: bool = False):
        self.rule, self.args, self.message = rule, args, message
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form, field):
        try:
            problem = self.rule(field.data if field.data is not None else "", *self.args)
        except ValueError as refusal:
            problem = str(refusal)
        if problem:
            raise ValidationError(self.message or problem)


def check(rule, *args) -> None:
    """Run a rule that raises ValueError, inside a form's own validator: its words become the
    field's error."""
    try:
        rule(*args)
    except ValueError as refusal:
        raise ValidationError(str(refusal)) from refusal


class EmailAddress:
    """An address checked by models.text.email_address; the field then holds it normalised.
    `message` is the form's own words for a bad or missing address (the rule's otherwise)."""

    def __init__(self, message: str | None = None):
        self.message = message
        self.field_flags = {"required": True}

    def __call__(self, form, field):
        try:
            field.data = email_address(field.data)
        except ValueError as e:  # the rule's words start a sentence under the field
            raise StopValidation(self.message or _sentence(str(e))) from e


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:] + ("" if words.endswith(".") else ".")


class WholeNumberField(IntegerField):
    """A number typed in a form: ASCII digits between `low` and `high` (views/inputs.py), so
    "²", "1_000" or a number no column can hold never ends in a 500. A bad value is refused in
    `message`, or — without one — left as None for the field's rule to word; it is shown back
    as typed. `blank` is the number an empty input stands for (None: empty is bad too)."""

    widget = NumberInput()

    def __init__(self, label=None, validators=None, *, low=0, high=MAX_ID, message=None,
                 blank=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.low, self.high, self.message, self.blank = low, high, message, blank

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        if self.blank is not None and not valuelist[0].strip():
            self.data = self.blank
            return
        self.data = whole_number(valuelist[0], self.low, self.high)
        if self.data is None and self.message:
            raise ValueError(self.message)
