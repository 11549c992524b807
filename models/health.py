"""The connection state machine (DESIGN §3): the one place a mailbox's status changes.

A transition is one compare-and-set on the mailbox row that, in the same transaction, writes a
history row (what the person sees on the detail page) and a durable event row (what the
notification, blocking and logging handlers consume). However many workers see the same
failure, only one of them wins the compare-and-set, so there is one event per transition.
"""

import logging
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

import clock
from mail.failures import Failure, Kind
from models import changes
from models.base import BaseModel, write_transaction
from models.mailboxes import CHECKING, CONNECTED, DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox

# to-state → the states it may be entered from (DESIGN §3's table).
ALLOWED_FROM = {
    CONNECTED: {CHECKING, DEGRADED, RECONNECT_REQUIRED, DISABLED},
    DEGRADED: {CHECKING, CONNECTED},
    RECONNECT_REQUIRED: {CHECKING, CONNECTED, DEGRADED, DISABLED},
    DISABLED: {CHECKING, CONNECTED, DEGRADED, RECONNECT_REQUIRED},
    CHECKING: {DISABLED},  # enabling a disabled mailbox re-checks it
}
# A reconnect-needed failure from a disabled/deleted mailbox changes nothing: people disabled it.
_FAILURE_TARGET = {Kind.RECONNECT: RECONNECT_REQUIRED, Kind.APP: DEGRADED, Kind.TRANSIENT: DEGRADED}
log = logging.getLogger(__name__)


class MailboxHistory(BaseModel):
    """Every status change, for the mailbox detail page."""

    mailbox = ForeignKeyField(Mailbox, backref="history", on_delete="CASCADE")
    at = DateTimeField(default=clock.now, index=True)
    from_status = CharField()
    to_status = CharField()
    kind = CharField(default="")       # reconnect / app_misconfigured / transient / person
    cause = TextField(default="")      # plain words
    code = CharField(default="")       # the provider's code


class MailboxEvent(BaseModel):
    """A durable record of a transition, consumed by handlers at most once per channel."""

    mailbox = ForeignKeyField(Mailbox, backref="events", on_delete="CASCADE")
    team_id = IntegerField()
    at = DateTimeField(default=clock.now)
    from_status = CharField()
    to_status = CharField()
    kind = CharField(default="")
    cause = TextField(default="")
    code = CharField(default="")
    # The incident an event belongs to: entering reconnect_required opens one (its own id);
    # the recovery that closes it carries the same number.
    incident = IntegerField(null=True, index=True)
    actor_id = IntegerField(null=True)  # the person who caused it, if any
    dispatched_at = DateTimeField(null=True, index=True)  # every handler has run (events.py)


def transition(mailbox_id: int, to: str, *, failure: Failure | None = None, cause: str = "",
               actor=None, only_from: set[str] | None = None, kind: str = "") -> MailboxEvent | None:
    """Move the mailbox to `to` if the table allows it from its current status.

    `kind` labels a person's action where it matters to handlers ("removed" for a deletion).
    Returns the event written, or None if another worker got there first or the move is not
    allowed. `only_from` narrows the allowed starting states (e.g. "only if still connected").
    """
    allowed = ALLOWED_FROM[to] & (only_from if only_from is not None else ALLOWED_FROM[to])
    now = clock.now()
    kind = failure.kind.value if failure else (kind or ("person" if actor else ""))
    words = failure.cause if failure else cause
    code = failure.code if failure else ""
    with write_transaction():
        mailbox = Mailbox.get_or_none(Mailbox.id == mailbox_id)
        if mailbox is None or mailbox.status not in allowed:
            return None
        updated = (Mailbox.update(status=to, status_since=now, status_cause=words, status_code=code,
                                  status_where=failure.where if failure else "")
                   .where((Mailbox.id == mailbox_id) & (Mailbox.status == mailbox.status))
                   .execute())
        if updated != 1:
            return None  # someone else changed it between our read and our write
        MailboxHistory.create(mailbox=mailbox_id, at=now, from_status=mailbox.status,
                              to_status=to, kind=kind, cause=words, code=code)
        event = MailboxEvent.create(mailbox=mailbox_id, team_id=mailbox.team_id, at=now,
                                    from_status=mailbox.status, to_status=to, kind=kind,
                                    cause=words, code=code, actor_id=getattr(actor, "id", None))
        if to == RECONNECT_REQUIRED:
            event.incident = event.id
        elif mailbox.status == RECONNECT_REQUIRED:
            event.incident = open_incident(mailbox_id)
        if event.incident:
            event.save(only=[MailboxEvent.incident])
        changes.bump(mailbox.team_id)
    # For operators: ids, states, the cause's class and code; never its words or a secret.
    log.info("mailbox %s: %s -> %s (cause %s, code %s)", mailbox_id, mailbox.status, to, kind or "-", code or "-", extra={"fields": {"mailbox_id": mailbox_id, "from": mailbox.status, "to": to, "cause": kind, "code": code}})
    return event


def open_incident(mailbox_id: int) -> int | None:
    """The id of the event that put this mailbox into reconnect_required, if it still is."""
    row = (MailboxEvent.select(MailboxEvent.incident)
           .where((MailboxEvent.mailbox == mailbox_id)
                  & (MailboxEvent.to_status == RECONNECT_REQUIRED))
           .order_by(MailboxEvent.id.desc()).tuples().first())
    return row[0] if row else None


def record_failure(mailbox_id: int, failure: Failure) -> MailboxEvent | None:
    """Apply a classified failure: reconnect → reconnect_required; app or transient → degraded.
    A mailbox already in reconnect_required stays there (a later outage does not hide it)."""
    target = _FAILURE_TARGET[failure.kind]
    if target == RECONNECT_REQUIRED:
        return transition(mailbox_id, RECONNECT_REQUIRED, failure=failure,
                          only_from={CHECKING, CONNECTED, DEGRADED})
    event = transition(mailbox_id, DEGRADED, failure=failure)
    if event is None:
        # Still degraded: keep the newest cause on the row, without a new transition.
        (Mailbox.update(status_cause=failure.cause, status_code=failure.code,
                        status_where=failure.where)
         .where((Mailbox.id == mailbox_id) & (Mailbox.status == DEGRADED)).execute())
    return event


def record_success(mailbox_id: int, bookkeeping: dict | None = None) -> MailboxEvent | None:
    """A check passed: back to connected (from checking or degraded; a reconnect_required
    mailbox leaves that state only through a reconnect or an explicit re-check). The caller's
    `bookkeeping` ({field: value}) is written in the same UPDATE as the success.

    Most checks find the mailbox connected already: then that UPDATE, guarded by the status
    so that it also says so, is all; no transition is tried and no lock taken for one."""
    now = clock.now()
    fields = {Mailbox.last_success_at: now, Mailbox.last_check_at: now, **(bookkeeping or {})}
    if Mailbox.update(fields).where((Mailbox.id == mailbox_id)
                                    & (Mailbox.status == CONNECTED)).execute():
        return None
    with write_transaction():
        Mailbox.update(fields).where(Mailbox.id == mailbox_id).execute()
        return transition(mailbox_id, CONNECTED, only_from={CHECKING, DEGRADED})


def recent_history(mailbox, days: int = 7):
    since = clock.now() - timedelta(days=days)
    return (MailboxHistory.select().where((MailboxHistory.mailbox == mailbox)
                                          & (MailboxHistory.at >= since))
            .order_by(MailboxHistory.at.desc()))
