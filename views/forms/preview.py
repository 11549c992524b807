"""The preview's one form: send a step, as a chosen contact would get it, to yourself."""

from wtforms.validators import InputRequired

from views.forms import Form, WholeNumberField


class TestSendForm(Form):
    contact = WholeNumberField("Contact", low=1, message="Choose a contact to preview.",
                               validators=[InputRequired("Choose a contact to preview.")])
