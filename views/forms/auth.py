"""The forms of signing up, signing in, joining a team, changing and resetting a password."""

from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, ValidationError

from models.accounts import password_problem
from models.text import name_problem
from views.forms import EmailAddress, Form, Rule, strip


class SignupForm(Form):
    name = StringField("Your name", filters=[strip], validators=[Rule(name_problem, "name")])
    team_name = StringField("Team name", filters=[strip],
                            validators=[Rule(name_problem, "team name")])
    email = EmailField("Work email", validators=[EmailAddress("Enter your email address.")])
    password = PasswordField("Password", validators=[Rule(password_problem, required=True)])


class LoginForm(Form):
    """No rules of its own: whatever is typed is looked up, and a miss says the same as a
    wrong password, whether or not the address has an account."""

    email = EmailField("Email", render_kw={"required": True})
    password = PasswordField("Password", render_kw={"required": True})
    remember = BooleanField("Keep me signed in")
    next = HiddenField()


class ConfirmSignupForm(Form):
    """The emailed link's page: the password chosen at sign-up, typed again."""

    token = HiddenField()
    password = PasswordField("Password", render_kw={"required": True})


class JoinForm(Form):
    """Accepting an invite: the address is the invite's, so only a name and a password."""

    token = HiddenField()
    name = StringField("Your name", filters=[strip], validators=[Rule(name_problem, "name")])
    password = PasswordField("Choose a password",
                             validators=[Rule(password_problem, required=True)])


class PasswordChangeForm(Form):
    current_password = PasswordField("Current password", render_kw={"required": True})
    new_password = PasswordField("New password", validators=[Rule(password_problem, required=True)])
    confirm_password = PasswordField("New password again", render_kw={"required": True},
                                     validators=[EqualTo("new_password",
                                                         "The two new passwords differ.")])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def validate_current_password(self, field):
        if not self.user.check_password(field.data or ""):
            raise ValidationError("Your current password is not right.")


class ForgotPasswordForm(Form):
    """Asking for a reset link: only an address, checked as every address is (a bad one says
    so; a good one gets the same answer whether or not it has an account)."""

    email = EmailField("Your email", validators=[EmailAddress("Enter your email address.")])


class ResetPasswordForm(Form):
    """The reset link's page: the new password, twice."""

    token = HiddenField()
    password = PasswordField("New password", validators=[Rule(password_problem, required=True)])
    confirm_password = PasswordField("New password again", render_kw={"required": True},
                                     validators=[EqualTo("password",
                                                         "The two new passwords differ.")])
