"""The Other Provider form: an IMAP/SMTP mailbox's servers and password, new or updated."""

from flask import current_app
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, ValidationError

from mail.hosts import host_name_problem
from models import connections
from models.text import has_control_chars
from views.forms import EmailAddress, Form, Rule, WholeNumberField, strip

SECURITY_CHOICES = (("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None (local only)"))
SIDES = ("imap", "smtp")
PORT = "Enter a port number between 1 and 65535."


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _host():
    return StringField("Host", filters=[strip, _lower], validators=[Rule(
        host_name_problem, message="Enter the server's host name, like mail.example.com.",
        required=True)])


def _port(default):
    return WholeNumberField("Port", default=default, low=1, high=65535, message=PORT,
                            validators=[InputRequired(PORT)])


def _security(default):
    return SelectField("Security", default=default, validate_choice=False)


def _username_problem(username: str) -> str | None:
    if has_control_chars(username) or len(username) > 254:
        return "The username must be one line of at most 254 characters."
    return None


class OtherProviderForm(Form):
    """`mailbox` given: its settings are being updated, its address stays, and an empty
    password means the stored one — for the servers it was saved for only."""

    mailbox_id = HiddenField()
    email = EmailField("Email address", filters=[strip], validators=[
        EmailAddress("Enter the mailbox's email address, like alex@example.com.")])
    imap_host, imap_port, imap_security = _host(), _port(993), _security("ssl")
    smtp_host, smtp_port, smtp_security = _host(), _port(587), _security("starttls")
    username = StringField("Username", filters=[strip], validators=[Rule(_username_problem)])
    password = PasswordField("Password")

    def __init__(self, *args, mailbox=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mailbox, self.secret = mailbox, None
        if mailbox is not None:
            del self.email
        self.password.flags.required = mailbox is None
        # Plain text to a server is for a server on this machine (the sandbox), nowhere else.
        allowed = current_app.config["ALLOW_LOOPBACK_MAIL_HOSTS"]
        for side in SIDES:
            self[f"{side}_security"].choices = [c for c in SECURITY_CHOICES
                                                if c[0] != "none" or allowed]

    def values(self) -> dict:
        """The settings as the connection test and connections.save_other take them."""
        email = self.mailbox.email if self.mailbox else self.email.data
        values = {"email": email, "username": self.username.data or email}
        for side in SIDES:
            for part in ("host", "port", "security"):
                values[f"{side}_{part}"] = self[f"{side}_{part}"].data
        return values

    def validate_imap_security(self, field):
        self._check_security(field)

    def validate_smtp_security(self, field):
        self._check_security(field)

    def _check_security(self, field):
        if field.data not in dict(field.choices):
            raise ValidationError("Choose SSL/TLS or STARTTLS.")

    def validate_password(self, field):
        """The password typed, or else the stored one (for the servers it was saved for)."""
        password = field.data or ""
        if len(password) > 1024 or any(c in password for c in "\r\n\0"):
            raise ValidationError("That password cannot be sent to a mail server (too long, or "
                                  "a line break).")
        if password:
            self.secret = password
        elif self.mailbox is None:
            raise ValidationError("Enter the mailbox's password (or app password).")
        else:
            self.secret, why_not = connections.stored_password(self.mailbox, self.values())
            if why_not:
                raise ValidationError(why_not)
