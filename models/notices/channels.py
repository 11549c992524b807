"""The ways people are told (the bell, email; later chat or webhooks), and the one path every
notice takes to them — a transition's and a reminder's alike.

A channel is one function `send(person, notice, key) -> bool` (True: told just now), added with
`@channel(name)`. That one registration makes it an event handler (models/events.py: a claim
per event and channel) and a reminder channel (a claim per incident and "reminder:<name>"), so
a channel never runs twice for one occasion, and its own unique dedupe key catches the rest.
"""

from collections.abc import Callable
from datetime import timedelta

from models import events
from models.health import MailboxEvent
from models.mailboxes import Mailbox
from models.notices import decide

Send = Callable[[object, decide.Notice, str], bool]
_channels: dict[str, Send] = {}


def channel(name: str) -> Callable[[Send], Send]:
    """Register `send` as the channel `name`, for transitions and reminders."""

    def register(send: Send) -> Send:
        _channels[name] = send
        events.handler(name, wants=decide.wants)(lambda event: deliver(event, name))
        return send

    return register


def names() -> list[str]:
    return list(_channels)


def deliver(event: MailboxEvent, name: str, *, reminder: bool = False,
            nudge: int | None = None) -> int:
    """Tell everyone this event (or its reminder, or a person's `nudge`) concerns, through one
    channel. Returns how many were told just now. Raises what the channel raised: the claim
    is then retried."""
    send = _channels[name]
    mailbox = Mailbox.get_by_id(event.mailbox_id)
    told = 0
    for person, notice in decide.for_event(event, mailbox, reminder=reminder, nudge=nudge):
        told += bool(send(person, notice, decide.dedupe_key(notice.key, name, person)))
    return told


def remind(after: timedelta) -> int:
    """One reminder per incident still open `after` it began, on every channel (DESIGN: 24 h
    by default). Returns how many incidents were reminded just now."""
    reminded = 0
    for event in decide.due_reminders(after):
        ran = [events.deliver_once(event, f"reminder:{name}",
                                   lambda e, name=name: deliver(e, name, reminder=True))
               for name in names()]
        reminded += any(r is True for r in ran)
    return reminded
