"""The alerts channel: a team's chat and webhook destinations, told of a transition's
occasions (decide.alerts_for_event) and of the two that are no transition — an expiring
connection, an email whose outcome is unknown. Telling one is queueing it: the worker posts
it (models/alert_delivery.py), and the queue's unique (destination, key) makes it once."""

from datetime import datetime

from models import alert_delivery
from models.notices import bell, decide
from models.notices.channels import channel


@channel("alerts", wants=decide.alert_wants, audience=decide.alerts_for_event, reminders=False)
def alerts(destination, alert: decide.Alert, key: str) -> bool:
    return alert_delivery.enqueue(destination, alert.type, key, alert.title, alert.data) is not None


def _tell(team_id: int, alert: decide.Alert) -> int:
    return sum(alerts(d, a, decide.dedupe_key(a.key, "alerts", d))
               for d, a in decide.team_alert(team_id, alert))


def expiring_soon(mailbox, deadline: datetime, warning: str) -> int:
    return _tell(mailbox.team_id, decide.expiring_alert(mailbox, deadline, warning))


def outcome_unknown(row, mailbox, cause: str) -> int:
    return _tell(mailbox.team_id, decide.outcome_unknown_alert(row, mailbox, cause))


def destination_paused(destination) -> int:
    """The team's admins hear in the app that a destination was paused."""
    return sum(bell.bell(person, notice, decide.dedupe_key(notice.key, "bell", person))
               for person, notice in decide.destination_paused(destination))
