"""Delivering alerts to a team's destinations: queued once per occasion, tried by the worker,
retried with backoff for up to a day, and a destination failing PAUSE_AFTER times in a row
paused with a notice to the team's admins.

Once: enqueue() inserts (destination, key) uniquely; attempt() claims a row with a lease before
any network I/O, so two workers never post the same alert at once. A worker that dies after
posting and before recording it leaves a claim that expires and the alert is posted again with
the same webhook-id (receivers dedupe by it, as the spec says).
"""

import json
import logging
from datetime import timedelta

from peewee import IntegrityError

import clock
import config
from mail import chat, webhook
from mail.hosts import HostPolicy
from models.alerts import (
    CHAT,
    FAILED,
    PENDING,
    SENT,
    SKIPPED,
    AlertDelivery,
    AlertDestination,
)
from models.base import db

PAUSE_AFTER = 20                  # failed attempts in a row
GIVE_UP = timedelta(hours=24)     # an alert still failing after a day is dropped (log: "Gave up")
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)
CLAIM = timedelta(minutes=2)      # longer than any one attempt (two timeouts)
TEST = "test"
log = logging.getLogger(__name__)


def policy() -> HostPolicy:
    """Which addresses alert URLs may reach (README: TETHER_ALLOW_LOOPBACK_ALERT_HOSTS,
    TETHER_ALLOW_PRIVATE_ALERT_HOSTS). Link-local and metadata: never."""
    settings = config.current()
    return HostPolicy(allow_loopback=bool(settings.get("ALLOW_LOOPBACK_ALERT_HOSTS")),
                      allow_private=bool(settings.get("ALLOW_PRIVATE_ALERT_HOSTS")))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def enqueue(destination: AlertDestination, event_type: str, key: str, title: str,
            data: dict) -> AlertDelivery | None:
    """Queue one alert for one destination; None if this occasion was queued for it already.
    A paused destination's alert is logged as not sent."""
    body = {"type": event_type, "timestamp": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data}
    try:
        with db.atomic():
            return AlertDelivery.create(
                destination=destination, key=key, event_type=event_type, title=title[:250],
                payload=json.dumps(body), status=SKIPPED if destination.paused_at else PENDING,
                last_error="The destination is paused." if destination.paused_at else "")
    except IntegrityError:
        return None


def send_test(destination: AlertDestination) -> AlertDelivery:
    """A test alert (the "Send test" button): queued like any other, a key of its own."""
    return enqueue(destination, TEST, f"test:{clock.now():%Y%m%d%H%M%S%f}",
                   "Test alert from Tether",
                   {"team": destination.team.name,
                    "message": "Alerts from Tether reach this destination."})


def due(limit: int = 100) -> list[int]:
    now = clock.now()
    return [row.id for row in AlertDelivery.select(AlertDelivery.id)
            .join(AlertDestination)
            .where((AlertDelivery.status == PENDING) & (AlertDelivery.next_attempt_at <= now)
                   & AlertDestination.paused_at.is_null()
                   & (AlertDelivery.claimed_until.is_null() | (AlertDelivery.claimed_until < now)))
            .order_by(AlertDelivery.id).limit(limit)]


def next_due_in() -> timedelta | None:
    """How long until the soonest pending alert is due (None: nothing pending)."""
    row = (AlertDelivery.select(AlertDelivery.next_attempt_at).join(AlertDestination)
           .where((AlertDelivery.status == PENDING) & AlertDestination.paused_at.is_null())
           .order_by(AlertDelivery.next_attempt_at).first())
    return None if row is None else max(row.next_attempt_at - clock.now(), timedelta(0))


def _claim(delivery_id: int) -> bool:
    now = clock.now()
    return AlertDelivery.update(claimed_until=now + CLAIM).where(
        (AlertDelivery.id == delivery_id) & (AlertDelivery.status == PENDING)
        & (AlertDelivery.next_attempt_at <= now)
        & (AlertDelivery.claimed_until.is_null() | (AlertDelivery.claimed_until < now))
    ).execute() == 1


def _post(destination: AlertDestination, delivery: AlertDelivery) -> str | None:
    """Post it; None when the destination took it, else what went wrong in words."""
    if destination.kind == CHAT:
        return chat.post(destination.url.reveal(), delivery.title, _chat_text(delivery), policy())
    answer = webhook.post(destination.url.reveal(), destination.secret.reveal(),
                          delivery.message_id, clock.now(), delivery.payload, policy())
    return None if answer.ok else answer.error


def _chat_text(delivery: AlertDelivery) -> str:
    data = json.loads(delivery.payload)["data"]
    lines = [data.get("cause") or data.get("message", "")]
    if data.get("sequences"):
        lines.append("Sequences: " + ", ".join(data["sequences"]))
    if data.get("reconnect_url"):
        lines.append(f"Reconnect: {data['reconnect_url']}")
    return "\n".join(line for line in lines if line)


def attempt(delivery_id: int) -> bool | None:
    """Try one alert once: True delivered, False failed (retried later or given up), None
    when it is not this worker's to try (done, not due, claimed, paused)."""
    if not _claim(delivery_id):
        return None
    delivery = AlertDelivery.get_by_id(delivery_id)
    destination = delivery.destination
    if destination.paused_at is not None:
        AlertDelivery.update(claimed_until=None).where(AlertDelivery.id == delivery_id).execute()
        return None
    try:
        error = _post(destination, delivery)
    except Exception as e:  # an undecryptable secret, a library's surprise: logged, retried
        log.exception("alert %s to destination %s failed unexpectedly", delivery.id, destination.id)
        error = f"Tether could not send it ({e.__class__.__name__})."
    return _record(delivery, destination, error)


def _record(delivery: AlertDelivery, destination: AlertDestination, error: str | None) -> bool:
    now = clock.now()
    attempts = delivery.attempts + 1
    paused = 0
    with db.atomic():
        if error is None:
            AlertDelivery.update(status=SENT, attempts=attempts, last_error="", delivered_at=now,
                                 claimed_until=None).where(AlertDelivery.id == delivery.id).execute()
            AlertDestination.update(failures_in_row=0, last_success_at=now).where(
                AlertDestination.id == destination.id).execute()
        else:
            gave_up = delivery.key.startswith(f"{TEST}:") or now - delivery.created_at >= GIVE_UP
            AlertDelivery.update(status=FAILED if gave_up else PENDING, attempts=attempts,
                                 last_error=error[:1000], claimed_until=None,
                                 next_attempt_at=now + backoff(attempts)).where(
                AlertDelivery.id == delivery.id).execute()
            AlertDestination.update(failures_in_row=AlertDestination.failures_in_row + 1).where(
                AlertDestination.id == destination.id).execute()
            paused = AlertDestination.update(paused_at=now).where(
                (AlertDestination.id == destination.id) & AlertDestination.paused_at.is_null()
                & (AlertDestination.failures_in_row >= PAUSE_AFTER)).execute()
    if error is not None:
        # The destination's kind and ids only: its URL and the error's words stay in the log.
        log.info("alert %s to %s destination %s failed (attempt %s)", delivery.event_type,
                 destination.kind, destination.id, attempts)
    if paused:
        from models.notices import destination_paused

        destination_paused(AlertDestination.get_by_id(destination.id))
    return error is None


def resume(destination: AlertDestination) -> None:
    """A person resumes a paused destination: its count starts again, its retries go now."""
    now = clock.now()
    with db.atomic():
        AlertDestination.update(paused_at=None, failures_in_row=0).where(
            AlertDestination.id == destination.id).execute()
        AlertDelivery.update(next_attempt_at=now).where(
            (AlertDelivery.destination == destination.id) & (AlertDelivery.status == PENDING)).execute()


def send_due(limit: int = 100) -> int:
    """Try every due alert once; how many were delivered."""
    return sum(attempt(delivery_id) is True for delivery_id in due(limit))


def recent(destination: AlertDestination, limit: int = 20) -> list[AlertDelivery]:
    return list(destination.deliveries.order_by(AlertDelivery.id.desc()).limit(limit))
