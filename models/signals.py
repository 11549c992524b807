"""Push revocation signals: what Tether does with a Security Event Token a provider pushed
(checked by mail/security_events.py) — once per `jti`, asking for a check of each mailbox the
event's subject connected (or, for Google's token-revoked, the mailbox holding the refresh token
it names), never changing a status itself.

A signal only *asks*: the check's own refresh and logins decide (DESIGN §3), so a stale,
duplicated or forged-but-valid event costs a check and nothing else. A burst of events about
one mailbox asks once: a mailbox has at most one signal-forced check queued, and an event
issued before the last signal-forced check began is covered by it.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from peewee import CharField, DateTimeField, IntegrityError

import clock
from mail import security_events
from mail.security_events import SecurityEvent
from mail.token_identifiers import TOKEN_HASH_ALG, normal_identifier
from models.base import BaseModel, db, write_transaction
from models.mailboxes import DISABLED, Mailbox

log = logging.getLogger(__name__)

PUSH_PATH = "/signals/push"  # Tether's push endpoint (views/signals.py), given to providers

# A queued signal check not started by then was lost with its worker: a new signal asks again.
PENDING_STALE = timedelta(minutes=2)
# `jti`s are kept as long as a SET can be accepted (its iat window), then pruned.
KEEP_SEEN = timedelta(seconds=security_events.MAX_AGE + security_events.MAX_SKEW)


class SignalSeen(BaseModel):
    """A SET already acted on: its transmitter's retry is acknowledged and ignored."""
    issuer = CharField()
    jti = CharField()
    received_at = DateTimeField(default=clock.now, index=True)

    class Meta:
        indexes = ((("issuer", "jti"), True),)


class SignalStream(BaseModel):
    """Push detection per provider: registered (and where), verified, the last signal."""
    provider = CharField(primary_key=True)
    endpoint_url = CharField(default="")
    registered_at = DateTimeField(null=True)
    verified_at = DateTimeField(null=True)
    last_signal_at = DateTimeField(null=True)
    last_event = CharField(default="")


@dataclass(frozen=True)
class Receipt:
    outcome: str  # checks_requested | replayed | verification | unknown_subject
    mailboxes: int = 0


def receive(body: bytes, catalog) -> Receipt:
    """Act on a pushed SET; `security_events.Refused` when it is not one to accept."""
    event = security_events.parse(body, list(catalog.all().values()),
                                  now=clock.now().replace(tzinfo=UTC).timestamp())
    now = clock.now()
    with write_transaction():
        try:
            with db.atomic():  # a savepoint: PostgreSQL aborts a transaction on a conflict
                SignalSeen.create(issuer=event.issuer, jti=event.jti, received_at=now)
        except IntegrityError:
            log.info("signal %s from %s already seen: acknowledged, ignored",
                     event.jti, event.provider.key)
            return Receipt("replayed")
        _note(event, now)
        if event.is_verification:
            log.info("verification signal from %s", event.provider.key)
            return Receipt("verification")
        ids = _subject_mailboxes(event) or _token_mailboxes(event)
        if not ids:
            log.info("signal %s from %s names no mailbox Tether knows: acknowledged",
                     ",".join(t.rsplit("/", 1)[-1] for t in event.event_types), event.provider.key)
            return Receipt("unknown_subject")
        armed = [i for i in ids if _arm(i, event, now)]
    from tasks import signals as signal_tasks

    for mailbox_id in armed:
        signal_tasks.signal_check(mailbox_id)
    log.info("signal %s from %s: %d mailbox(es), %d check(s) requested",
             ",".join(t.rsplit("/", 1)[-1] for t in event.event_types), event.provider.key,
             len(ids), len(armed))
    return Receipt("checks_requested", len(ids))


def _note(event: SecurityEvent, now: datetime) -> None:
    """The Email Accounts page's "last signal at" (and "verified" for a verification)."""
    fields = {SignalStream.last_signal_at: now,
              SignalStream.last_event: event.event_types[0].rsplit("/", 1)[-1]}
    if event.is_verification:
        fields[SignalStream.verified_at] = now
    note_stream(event.provider.key, fields)


def note_stream(provider_key: str, fields: dict) -> None:
    """Write a provider's stream row, made if missing, in one statement: registering a stream
    and the verification event it triggers (answered at once, by another thread or process)
    both write it, and an update-then-insert of each would race to a duplicate key."""
    (SignalStream.insert({SignalStream.provider: provider_key, **fields})
     .on_conflict(conflict_target=[SignalStream.provider], update=fields).execute())


def _subject_mailboxes(event: SecurityEvent) -> list[int]:
    if not event.subject_sub:
        return []  # a token identifier, not a user: nothing to map it to
    rows = (Mailbox.select(Mailbox.id, Mailbox.openid_iss)
            .where((Mailbox.provider == event.provider.key)
                   & (Mailbox.openid_sub == event.subject_sub)
                   & Mailbox.deleted_at.is_null() & (Mailbox.status != DISABLED)))
    return [m.id for m in rows if security_events.same_issuer(m.openid_iss, event.subject_iss)]


def _token_mailboxes(event: SecurityEvent) -> list[int]:
    """The mailboxes holding the refresh token a token-revoked names (by Google's identifier,
    stored beside each token: models.mailboxes.refresh_token_fields).

    An identifier in another form (`prefix`, or one we do not know) or that is not a SHA-512
    digest is acknowledged and ignored like an unknown subject, not refused: the SET is genuine
    and well formed — RFC 8935's 400 errors are for SETs that are not — and a 400 would only
    make the transmitter count a failed delivery it cannot fix. The mailbox is then found by
    its next scheduled check, as without push."""
    if not event.token_alg:
        return []
    identifier = normal_identifier(event.token) if event.token_alg == TOKEN_HASH_ALG else None
    if identifier is None:
        log.info("signal %s from %s names a token by %r, which Tether does not match: "
                 "acknowledged", event.jti, event.provider.key, event.token_alg[:40])
        return []
    rows = (Mailbox.select(Mailbox.id)
            .where((Mailbox.provider == event.provider.key)
                   & (Mailbox.refresh_token_identifier == identifier)
                   & Mailbox.deleted_at.is_null() & (Mailbox.status != DISABLED)))
    return [m.id for m in rows]


def _arm(mailbox_id: int, event: SecurityEvent, now: datetime) -> bool:
    """One compare-and-set: True when this event needs a check of its own — none is queued
    (or the queued one was lost) and the last signal check began before the event was issued
    (`iat` is whole seconds: a check that began in the same second may have missed it)."""
    issued = datetime.fromtimestamp(event.iat, UTC).replace(tzinfo=None) + timedelta(seconds=1)
    return Mailbox.update(signal_pending_since=now).where(
        (Mailbox.id == mailbox_id)
        & (Mailbox.signal_pending_since.is_null() | (Mailbox.signal_pending_since < now - PENDING_STALE))
        & (Mailbox.signal_checked_from.is_null() | (Mailbox.signal_checked_from < issued))
    ).execute() == 1


def start_check(mailbox_id: int) -> None:
    """The signal check is starting: later events are not covered by it, earlier ones are."""
    Mailbox.update(signal_pending_since=None, signal_checked_from=clock.now()).where(
        Mailbox.id == mailbox_id).execute()


def prune() -> int:
    return SignalSeen.delete().where(SignalSeen.received_at < clock.now() - KEEP_SEEN).execute()


def stream_status() -> dict[str, SignalStream]:
    return {s.provider: s for s in SignalStream.select()}


@dataclass(frozen=True)
class PushDetection:
    """One provider's line on the Email Accounts page (for owners and admins)."""
    provider: str
    label: str
    state: str  # active | waiting | off
    last_signal_at: datetime | None


def push_detection(providers: dict) -> list[PushDetection]:
    """Per provider that can push signals: is a stream registered and verified, and when the
    last signal came. One query on a table of a few rows."""
    streams = stream_status()
    found = []
    for key, provider in providers.items():
        if not provider.signals_config_url:
            continue
        stream = streams.get(key)
        state = ("active" if stream and stream.verified_at else
                 "waiting" if stream and stream.registered_at else "off")
        found.append(PushDetection(key, provider.label, state,
                                   stream.last_signal_at if stream else None))
    return found
