"""Mailboxes: the team's connected email accounts and their connection state.

A mailbox is never hard-deleted: deleting erases its credentials and sets `deleted_at`, so its
history stays and re-adding the same address in the team brings back what used it.
"""

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

import clock
from mail.token_identifiers import token_identifier
from models.accounts import Team, User
from models.base import Timestamped
from models.crypto import EncryptedField

# The connection state machine's states (DESIGN §3); transitions live in models/health.py.
CHECKING, CONNECTED, DEGRADED, RECONNECT_REQUIRED, DISABLED = (
    "checking", "connected", "degraded", "reconnect_required", "disabled")
STATUS_LABELS = {
    CHECKING: "Checking",
    CONNECTED: "Connected",
    DEGRADED: "Degraded",
    RECONNECT_REQUIRED: "Reconnect required",
    DISABLED: "Disabled",
}
OTHER = "other"  # the provider key of IMAP/SMTP mailboxes with a password


class Mailbox(Timestamped):
    team = ForeignKeyField(Team, backref="mailboxes", on_delete="CASCADE")
    connected_by = ForeignKeyField(User, null=True, backref="mailboxes", on_delete="SET NULL")
    email = CharField()
    display_name = CharField(default="")
    provider = CharField()  # a key of mail.providers (google, microsoft, …, other)

    status = CharField(default=CHECKING, index=True)
    status_since = DateTimeField(default=clock.now)
    status_cause = TextField(default="")   # plain words, for the owner
    status_code = CharField(default="")    # the provider's code, e.g. invalid_grant / 700082
    last_success_at = DateTimeField(null=True)
    last_check_at = DateTimeField(null=True)
    next_check_at = DateTimeField(null=True, index=True)
    daily_limit = IntegerField(default=50)  # emails a UTC day, across its sequences
    # Warm-up: a new mailbox starts at `warmup_start` emails a day and adds `warmup_step` each
    # day from `warmup_since` until it reaches `daily_limit` (see limit_on).
    warmup_start = IntegerField(null=True)
    warmup_step = IntegerField(default=0)
    warmup_since = DateTimeField(null=True)
    deleted_at = DateTimeField(null=True)
    status_where = CharField(default="")   # token endpoint / IMAP / SMTP: decides re-checks
    failures_in_a_row = IntegerField(default=0)  # for backoff while degraded
    lease_owner = CharField(default="")    # a check, or a token refresh (models/credentials.py)
    lease_until = DateTimeField(null=True)
    smtp_proven_at = DateTimeField(null=True)  # SMTP last accepted its login (models/checks.py)

    # OAuth mailboxes
    access_token = EncryptedField(null=True)
    refresh_token = EncryptedField(null=True)
    # Google's identifier of that refresh token (a token-revoked signal names it so). Stored
    # in clear, indexed: it is a SHA-512 of a SHA-512 of a long random token, so it cannot be
    # turned back into the token nor used in its place, and Google itself sends it in clear.
    refresh_token_identifier = CharField(default="", index=True)
    access_expires_at = DateTimeField(null=True)
    scopes = TextField(default="")
    consented_at = DateTimeField(null=True)   # when the person last granted access
    refreshed_at = DateTimeField(null=True)
    # Who the provider says consented (the ID token's iss + sub): push signals name them.
    openid_iss = CharField(default="")
    openid_sub = CharField(default="", index=True)
    # A signal-forced check is queued since then / the last one began then (models/signals.py).
    signal_pending_since = DateTimeField(null=True)
    signal_checked_from = DateTimeField(null=True)

    # Other Provider mailboxes
    imap_host = CharField(default="")
    imap_port = IntegerField(default=993)
    imap_security = CharField(default="ssl")   # ssl | starttls | none
    smtp_host = CharField(default="")
    smtp_port = IntegerField(default=587)
    smtp_security = CharField(default="starttls")
    username = CharField(default="")
    password = EncryptedField(null=True)

    class Meta:
        indexes = ((("team", "email"), True),)

    @property
    def is_oauth(self) -> bool:
        return self.provider != OTHER

    @property
    def status_label(self) -> str:
        return "Removed" if self.deleted_at else STATUS_LABELS[self.status]

    @property
    def blocks_sequences(self) -> bool:
        """Sequences that send from this mailbox are blocked (the orange toggle). A degraded
        mailbox blocks nothing: sending just waits."""
        return self.deleted_at is not None or self.status in (RECONNECT_REQUIRED, DISABLED)

    @property
    def can_send(self) -> bool:
        return self.deleted_at is None and self.status == CONNECTED

    def managed_by(self, user) -> bool:
        """Members manage the mailboxes they connected; owners and admins manage all (DESIGN §2)."""
        return user.is_admin or self.connected_by_id == user.id

    def limit_on(self, now) -> int:
        """How many emails it may send on `now`'s UTC day: the daily limit, or less while
        warming up."""
        return limit_on(self.daily_limit, self.warmup_start, self.warmup_step,
                        self.warmup_since, now)

    @classmethod
    def live(cls):
        """Mailboxes that are not deleted."""
        return cls.select().where(cls.deleted_at.is_null())

    def erase_credentials(self) -> None:
        for field, value in refresh_token_fields(None).items():
            setattr(self, field.name, value)
        self.access_token = self.password = None
        self.access_expires_at = None
        self.scopes = ""


def refresh_token_fields(token: str | None) -> dict:
    """What storing (or erasing) a mailbox's refresh token writes: the token, encrypted, and
    its identifier beside it. Every place that stores one — a consent, a rotation, erasing —
    writes these together, so a token-revoked signal always finds the token held now."""
    return {Mailbox.refresh_token: token,
            Mailbox.refresh_token_identifier: token_identifier(token) if token else ""}


def limit_on(daily_limit, warmup_start, warmup_step, warmup_since, now) -> int:
    """The warm-up ramp: N on the first UTC day, N + M the next, … never above the limit."""
    if warmup_start is None or warmup_since is None:
        return daily_limit
    days = max((now.date() - warmup_since.date()).days, 0)
    return min(daily_limit, warmup_start + days * (warmup_step or 0))


MAX_DAILY_LIMIT = 10_000


def limit_problems(daily_limit, warmup: bool, start, step) -> dict:
    """What is wrong with a sending limit, per field, in the person's words. Numbers are
    already parsed (None: not a whole number)."""
    errors = {}
    if daily_limit is None or not 1 <= daily_limit <= MAX_DAILY_LIMIT:
        errors["daily_limit"] = f"Enter a whole number of emails a day, 1 to {MAX_DAILY_LIMIT:,}."
    if warmup:
        if start is None or start < 1 or (daily_limit and start > daily_limit):
            errors["warmup_start"] = "Start at 1 or more emails a day, at most the daily limit."
        if step is None or step < 1 or step > MAX_DAILY_LIMIT:
            errors["warmup_step"] = "Add at least 1 email a day."
    return errors


def set_sending_limit(mailbox_id: int, daily_limit: int, warmup_start, warmup_step, now) -> None:
    """Save the limit; a warm-up that is new (or starts from another number) begins today."""
    current = Mailbox.get_by_id(mailbox_id)
    fields = {Mailbox.daily_limit: daily_limit, Mailbox.warmup_start: warmup_start,
              Mailbox.warmup_step: warmup_step or 0}
    if warmup_start is None:
        fields[Mailbox.warmup_since] = None
    elif current.warmup_start != warmup_start or current.warmup_since is None:
        fields[Mailbox.warmup_since] = now
    Mailbox.update(fields).where(Mailbox.id == mailbox_id).execute()


# What the Email Accounts list shows: selecting only these keeps a 1,000-row page fast.
LIST_FIELDS = (Mailbox.id, Mailbox.email, Mailbox.provider, Mailbox.status, Mailbox.status_since,
               Mailbox.status_cause, Mailbox.last_success_at, Mailbox.daily_limit,
               Mailbox.warmup_start, Mailbox.warmup_step, Mailbox.warmup_since,
               Mailbox.connected_by, Mailbox.deleted_at, Mailbox.consented_at,
               Mailbox.refreshed_at)
