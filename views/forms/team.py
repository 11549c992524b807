"""The invite form: a teammate's address and the role they get."""

from wtforms import EmailField, SelectField
from wtforms.validators import ValidationError

from models.accounts import ROLES, User
from views.forms import EmailAddress, Form


class InviteForm(Form):
    email = EmailField("Email", validators=[EmailAddress("Enter the teammate's email address.")])
    role = SelectField("Role", default="member", validate_choice=False)

    def __init__(self, inviter, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Nobody hands out more than they have: only an owner makes another owner.
        self.role.choices = [(r, r.capitalize()) for r in ROLES
                             if r != "owner" or inviter.role == "owner"]

    def validate_email(self, field):
        if User.get_or_none(User.email == field.data):
            raise ValidationError("This address already has a Tether account.")

    def validate_role(self, field):
        if field.data not in dict(self.role.choices):
            raise ValidationError("Choose a role you are allowed to give.")
