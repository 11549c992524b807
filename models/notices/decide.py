"""Who is told what, for which occasion, under which dedupe key — decided here only.

An occasion is an incident (a mailbox entered reconnect_required), its reminder, its
recovery, or an operator alert (the deployment's own problem, once per provider, cause and
day for the whole instance). Each occasion has a key; each (occasion, channel, person) has the
dedupe key that channel stores uniquely.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta

import clock
import config
from models.alerts import AlertDestination
from models.connections import REMOVED
from models.health import MailboxEvent, open_incident
from models.mailboxes import CONNECTED, DEGRADED, RECONNECT_REQUIRED, Mailbox
from models.notices import people, wording
from models.sequence_log import transition_kind
from models.sequences import Sequence

INCIDENT, REMINDER, RECOVERED, OPERATOR = "reconnect_required", "reminder", "recovered", "operator"


@dataclass(frozen=True)
class Notice:
    kind: str       # INCIDENT | REMINDER | RECOVERED | OPERATOR (also the bell's kind)
    key: str        # the occasion's key; channels add themselves and the person (dedupe_key)
    title: str
    summary: str
    subject: str
    text: str
    mailbox_id: int | None = None
    incident: int | None = None
    code: str = ""  # an operator alert's cause code


# --- the occasions a transition makes ----------------------------------------------------------

def is_incident(event: MailboxEvent) -> bool:
    return event.to_status == RECONNECT_REQUIRED


def is_recovery(event: MailboxEvent) -> bool:
    return event.to_status == CONNECTED and event.from_status == RECONNECT_REQUIRED


def is_app_problem(event: MailboxEvent) -> bool:
    return event.to_status == DEGRADED and event.kind == "app_misconfigured"


def wants(event: MailboxEvent) -> bool:
    """Does this transition tell anyone anything?"""
    return is_incident(event) or is_recovery(event) or is_app_problem(event)


# --- the keys ----------------------------------------------------------------------------------

def incident_key(incident: int) -> str:
    return f"incident:{incident}"


def nudge_key(reminder_id: int) -> str:
    """A person's "Remind owner" (models/owner_reminders.py): each is an occasion of its own;
    its row, not this key, keeps it to one an hour."""
    return f"nudge:{reminder_id}"


def occasion_key(event: MailboxEvent, mailbox, reminder: bool = False,
                 nudge: int | None = None) -> str:
    if nudge is not None:
        return nudge_key(nudge)
    if is_app_problem(event):  # one alert for the instance, however many teams hit it
        return f"app:{mailbox.provider}:{event.code}:{event.at:%Y-%m-%d}"
    if reminder:
        return f"reminder:{event.incident}"
    return incident_key(event.incident) if is_incident(event) else f"recovered:{event.id}"


def dedupe_key(occasion: str, channel: str, person) -> str:
    """The key a channel stores uniquely: this occasion, told this person, this way."""
    return f"{occasion}:{channel}:{person.id}"


# --- who is told what ------------------------------------------------------------------------

def for_event(event: MailboxEvent, mailbox, *, reminder: bool = False,
              nudge: int | None = None) -> list[tuple]:
    """[(person, Notice)] for a transition event — an incident, a recovery or an operator
    alert — or, with `reminder`, for the reminder of the incident `event` opened (`nudge`: the
    one a person asked for with "Remind owner", under its own key)."""
    key = occasion_key(event, mailbox, reminder, nudge)
    facts = {"mailbox_id": mailbox.id, "incident": event.incident}
    if is_app_problem(event):
        notice = Notice(OPERATOR, key, **asdict(wording.operator_alert(mailbox, event)),
                        mailbox_id=mailbox.id, code=event.code)
        return [(person, notice) for person in people.operators(_listed_operators())]
    if reminder:
        # The cause as the mailbox shows it now: a later check may have put it more exactly.
        notice = Notice(REMINDER, key, **asdict(wording.incident(mailbox, mailbox.status_cause,
                                                               reminder=True)), **facts)
    elif is_incident(event):
        notice = Notice(INCIDENT, key, **asdict(wording.incident(mailbox, event.cause)), **facts)
    else:
        notice = Notice(RECOVERED, key, **asdict(wording.recovery(mailbox)), **facts)
    return [(person, notice) for person in people.recipients(mailbox)]


def _listed_operators() -> str:
    return config.current().get("OPERATOR_EMAILS", "")


def due_reminders(after: timedelta) -> list[MailboxEvent]:
    """The events that opened incidents still open `after` their start."""
    cutoff = clock.now() - after
    opened = (MailboxEvent.select()
              .join(Mailbox, on=(MailboxEvent.mailbox == Mailbox.id))
              .where((MailboxEvent.to_status == RECONNECT_REQUIRED) & (MailboxEvent.at <= cutoff)
                     & (Mailbox.status == RECONNECT_REQUIRED) & Mailbox.deleted_at.is_null()))
    return [e for e in opened if e.incident == e.id and still_open(e.mailbox_id, e.incident)]


def still_open(mailbox_id: int, incident: int) -> bool:
    """Is this the incident the mailbox is in now?"""
    return (open_incident(mailbox_id) == incident
            and Mailbox.select().where((Mailbox.id == mailbox_id) & Mailbox.deleted_at.is_null()
                                       & (Mailbox.status == RECONNECT_REQUIRED)).exists())


# --- alerts: a team's chat and webhook destinations (models/alerts.py) ---------------------------
# The same occasions, worded as typed events; one alert per occasion per destination (its
# dedupe key: `<type>:<occasion>:alerts:<destination>`). No reminders: a team's channel saw it.

@dataclass(frozen=True)
class Alert:
    type: str    # an event type of models/alerts.EVENT_TYPES
    key: str     # the occasion's key
    title: str   # the chat message's title
    data: dict   # the payload's data: names the mailbox, the cause, the reconnect URL; no secret


def mailbox_alert_type(event: MailboxEvent) -> str | None:
    if is_incident(event):
        return "mailbox.reconnect_required"
    if event.to_status == DEGRADED:
        return "mailbox.degraded"
    if event.to_status == CONNECTED and event.from_status in (RECONNECT_REQUIRED, DEGRADED):
        return "mailbox.recovered"
    return None


def sequence_alert_type(event: MailboxEvent) -> str | None:
    """sequence.blocked / sequence.unblocked when this transition blocks or unblocks the
    sequences that send from the mailbox (the same rule as their log: models/sequence_log)."""
    kind = transition_kind(event.from_status, REMOVED if event.kind == REMOVED else event.to_status)
    return {"mailbox_blocked": "sequence.blocked",
            "mailbox_unblocked": "sequence.unblocked"}.get(kind or "")


def alert_wants(event: MailboxEvent) -> bool:
    """An alert's occasion, in a team that has somewhere to send it."""
    return (bool(mailbox_alert_type(event) or sequence_alert_type(event))
            and AlertDestination.of_team(event.team_id).exists())


def alerts_for_event(event: MailboxEvent, mailbox, *, reminder: bool = False) -> list[tuple]:
    """[(destination, Alert)] for a transition: each destination of the mailbox's team that
    wants the alert's type."""
    if reminder:
        return []
    alerts = []
    if kind := mailbox_alert_type(event):
        occasion = (incident_key(event.incident) if kind == "mailbox.reconnect_required"
                    else f"event:{event.id}")
        words = wording.mailbox_alert(mailbox, kind, event.cause)
        alerts.append(Alert(kind, f"{kind}:{occasion}", words.title, words.data))
    if kind := sequence_alert_type(event):
        for sequence in Sequence.using_mailbox(mailbox):
            words = wording.sequence_alert(sequence, mailbox, kind, event.cause)
            alerts.append(Alert(kind, f"{kind}:event:{event.id}:{sequence.id}", words.title,
                                words.data))
    destinations = list(AlertDestination.of_team(mailbox.team_id))
    return [(d, a) for a in alerts for d in destinations if d.wants(a.type)]


def expiring_alert(mailbox, deadline, warning: str) -> Alert:
    """mailbox.expiring_soon: once per mailbox and deadline."""
    words = wording.mailbox_alert(mailbox, "mailbox.expiring_soon", warning)
    return Alert("mailbox.expiring_soon", f"mailbox.expiring_soon:{mailbox.id}:{deadline:%Y-%m-%d}",
                 words.title, words.data)


def outcome_unknown_alert(row, mailbox, cause: str) -> Alert:
    """outbox.outcome_unknown: once per email."""
    words = wording.outcome_unknown(row, mailbox, cause)
    return Alert("outbox.outcome_unknown", f"outbox.outcome_unknown:{row.id}", words.title,
                 words.data)


def team_alert(team_id: int, alert: Alert) -> list[tuple]:
    """[(destination, alert)] for an occasion that is no transition (an expiring connection,
    an email whose outcome is unknown)."""
    return [(d, alert) for d in AlertDestination.of_team(team_id) if d.wants(alert.type)]


def destination_paused(destination) -> list[tuple]:
    """[(admin, Notice)] when a destination was paused after failing again and again."""
    words = wording.destination_paused(destination)
    notice = Notice("alert_paused", f"alert-paused:{destination.id}:{destination.paused_at:%Y%m%d%H%M%S}",
                    **asdict(words))
    return [(person, notice) for person in people.admins(destination.team_id)]
