"""A team's alert destinations (chat by Apprise URL, signed webhooks) and the delivery log.

An AlertDelivery row is one alert for one destination, unique by (destination, key): the key
is the occasion's (models/notices/decide.py), so each occasion reaches each destination once
however many workers see it. The row is also the log the Alerts page shows: status, attempts,
last error. Delivering them is models/alert_delivery.py's business.
"""

import uuid

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

import clock
from models.accounts import Team, User
from models.base import BaseModel
from models.crypto import EncryptedField

CHAT, WEBHOOK = "chat", "webhook"
EVENT_TYPES = {
    "mailbox.reconnect_required": "A mailbox needs reconnecting",
    "mailbox.degraded": "A mailbox is degraded (the provider or network is failing)",
    "mailbox.recovered": "A mailbox works again",
    "mailbox.expiring_soon": "A mailbox's connection expires soon",
    "sequence.blocked": "A sequence is blocked by its mailbox",
    "sequence.unblocked": "A sequence is unblocked",
    "outbox.outcome_unknown": "An email's outcome is unknown",
}
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
STATUS_LABELS = {PENDING: "Retrying", SENT: "Delivered", FAILED: "Gave up",
                 SKIPPED: "Not sent (paused)"}


class AlertDestination(BaseModel):
    team = ForeignKeyField(Team, backref="alert_destinations", on_delete="CASCADE")
    kind = CharField()                     # CHAT | WEBHOOK
    url = EncryptedField()                 # an Apprise URL holds tokens; a webhook's query may
    shown_as = CharField()                 # the URL with its secrets masked: what pages show
    service = CharField(default="")        # "Slack", "JSON"…; "Webhook"
    secret = EncryptedField(null=True)     # a webhook's signing secret (whsec_…)
    events = TextField(default="")         # the event types it gets, comma-separated
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=clock.now)
    failures_in_row = IntegerField(default=0)
    paused_at = DateTimeField(null=True)   # set after PAUSE_AFTER failures in a row
    last_success_at = DateTimeField(null=True)

    @property
    def event_types(self) -> list[str]:
        return [e for e in self.events.split(",") if e in EVENT_TYPES]

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types

    @classmethod
    def of_team(cls, team_id: int):
        return cls.select().where(cls.team == team_id).order_by(cls.id)


class AlertDelivery(BaseModel):
    destination = ForeignKeyField(AlertDestination, backref="deliveries", on_delete="CASCADE")
    key = CharField()                      # the occasion's dedupe key
    event_type = CharField()
    message_id = CharField(default=lambda: f"msg_{uuid.uuid4().hex}")  # webhook-id, kept on retry
    title = CharField()
    payload = TextField()                  # JSON; names the mailbox and cause, never a secret
    status = CharField(default=PENDING, index=True)
    attempts = IntegerField(default=0)
    last_error = TextField(default="")
    created_at = DateTimeField(default=clock.now)
    next_attempt_at = DateTimeField(default=clock.now, index=True)
    claimed_until = DateTimeField(null=True)
    delivered_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("destination", "key"), True),)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)
