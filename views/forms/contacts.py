"""The contact forms: one new contact, editing one, acting on many, and the CSV file of an
import."""

from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError

from models.contacts import (
    FIELD_LABELS,
    MAX_BYTES,
    MAX_ROWS,
    field_problem,
    parse_custom_fields,
)
from views.forms import EmailAddress, Form, Rule, strip
from views.inputs import object_id


def _text(name: str) -> StringField:
    return StringField(FIELD_LABELS[name], filters=[strip], validators=[Rule(field_problem, name)])


class ContactForm(Form):
    """The same rules as a CSV row (models/contacts.py), in the same words."""

    email = EmailField(FIELD_LABELS["email"], filters=[strip],
                       validators=[Rule(field_problem, "email"), EmailAddress()])
    first_name = _text("first_name")
    last_name = _text("last_name")
    company = _text("company")
    title = _text("title")


class ImportForm(Form):
    """The file is checked here for being there and not too big; its contents by
    models.contacts.preview_import, whose refusal the view adds to this field."""

    file = FileField("CSV file", validators=[
        FileRequired("Choose a CSV file to import."),
        FileSize(MAX_BYTES, message=f"This file is larger than {MAX_BYTES // 2**20} MB. Split "
                                    f"it into files of at most {MAX_ROWS:,} rows.")])


class EditContactForm(ContactForm):
    """A contact's fields, and its custom fields as `name: value` lines."""

    custom_fields = TextAreaField("Custom fields", description="One per line, like "
                                  "industry: Retail; an email uses it as {{industry}}. Clear "
                                  "a value to remove the field.")

    def validate_custom_fields(self, field):
        parsed, problem = parse_custom_fields(field.data or "")
        if problem:
            raise ValidationError(problem)
        self.custom = parsed


BULK_ACTIONS = {"enroll": "Enroll in a sequence", "remove": "Remove from a sequence",
                "delete": "Delete"}


class BulkForm(Form):
    """Many contacts at once: the ticked ones (`contact`, ids of the page shown) or all that
    match the search `q` (`all` = 1); what to do with them; `confirmed` once the person saw
    how many it takes."""

    action = SelectField("With the selected contacts", choices=list(BULK_ACTIONS))
    sequence = HiddenField()  # the team's sequence is the view's to find (or 404)
    all = HiddenField()
    q = HiddenField(filters=[strip])
    confirmed = HiddenField()

    def validate_sequence(self, field):
        if self.action.data in ("enroll", "remove") and object_id(field.data) is None:
            raise ValidationError("Choose a sequence.")
