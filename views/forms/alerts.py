"""The Alerts page's forms: a chat destination (an Apprise URL) and a webhook (a URL); each
with the event types it gets. A URL is refused in words when saved — an Apprise typo, a host
Tether does not post to — and nothing is stored."""

from wtforms import SelectMultipleField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from mail import chat, webhook
from models import alert_delivery
from models.alerts import EVENT_TYPES
from models.text import has_control_chars
from views.forms import Form, strip

MAX_URL = 2000


class EventsField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _events():
    return EventsField("Events", choices=list(EVENT_TYPES.items()), default=list(EVENT_TYPES))


def _one_line(url: str) -> None:
    if not url:
        raise ValidationError("Enter the URL.")
    if has_control_chars(url) or len(url) > MAX_URL or " " in url:
        raise ValidationError(f"The URL must be one line of at most {MAX_URL} characters, "
                              "without spaces.")


class _DestinationForm(Form):
    def validate_events(self, field):
        if not field.data:
            raise ValidationError("Choose at least one event.")
        if any(e not in EVENT_TYPES for e in field.data):
            raise ValidationError("Choose events from the list.")


class ChatForm(_DestinationForm):
    url = StringField("Apprise URL", filters=[strip])
    events = _events()
    checked = None  # mail.chat.Checked once the URL passed

    def validate_url(self, field):
        _one_line(field.data)
        result = chat.check(field.data)
        if isinstance(result, str):
            raise ValidationError(result)
        if problem := chat.host_problem(field.data, alert_delivery.policy()):
            raise ValidationError(problem)
        self.checked = result


class WebhookForm(_DestinationForm):
    url = StringField("Endpoint URL", filters=[strip])
    events = _events()

    def validate_url(self, field):
        _one_line(field.data)
        if problem := webhook.url_problem(field.data):
            raise ValidationError(problem)
        if problem := webhook.host_problem(field.data, alert_delivery.policy()):
            raise ValidationError(problem)
