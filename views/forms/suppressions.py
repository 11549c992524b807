"""The suppression list's form: an address a person adds by hand."""

from wtforms import EmailField

from views.forms import EmailAddress, Form


class SuppressionForm(Form):
    email = EmailField("Email", validators=[EmailAddress("Enter the address to suppress.")])
