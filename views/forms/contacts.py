"""The contact forms: one new contact, and the CSV file of an import."""

from flask_wtf.file import FileField, FileRequired, FileSize
from wtforms import EmailField, StringField

from models.contacts import FIELD_LABELS, MAX_BYTES, MAX_ROWS, field_problem
from views.forms import EmailAddress, Form, Rule, strip


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
