"""The ways people are told (the bell, email, a team's chat and webhook alerts), and the one
path every notice takes to them — a transition's and a reminder's alike.

A channel is one function `send(person, notice, key) -> bool` (True: told just now), added with
`@channel(name)`. That one registration makes it an event handler (models/events.py: a claim
per event and channel) and a reminder channel (a claim per incident and "reminder:<name>"), so
a channel never runs twice for one occasion, and its own unique dedupe key catches the rest.
Who is told what comes from decide.py: `for_event` (people) by default; the alerts channel
names its own `audience` there (a team's destinations, not people) and its own `wants`.
"""

from collections.abc import Callable
from datetime import timedelta

from models import events
from models.health import MailboxEvent
from models.mailboxes import Mailbox
from models.notices import decide

Send = Callable[[object, object, str], bool]
_channels: dict[str, tuple[Send, Callable]] = {}
_without_reminders: set[str] = set()


def channel(name: str, *, wants=decide.wants, audience=decide.for_event,
            reminders: bool = True) -> Callable[[Send], Send]:
    """Register `send` as the channel `name`, for the transitions `wants` accepts (and, with
    `reminders`, for reminders). `audience(event, mailbox, reminder=)` is decide.py's answer
    to "[(recipient, what to tell them)]"."""

    def register(send: Send) -> Send:
        _channels[name] = (send, audience)
        if not reminders:
            _without_reminders.add(name)
        events.handler(name, wants=wants)(lambda event: deliver(event, name))
        return send

    return register


def names() -> list[str]:
    return [name for name in _channels if name not in _without_reminders]


def deliver(event: MailboxEvent, name: str, *, reminder: bool = False,
            nudge: int | None = None) -> int:
    """Tell everyone this event (or its reminder, or a person's `nudge`: the email channel's
    "Remind owner") concerns, through one channel. Returns how many were told just now.
    Raises what the channel raised: the claim is then retried."""
    send, audience = _channels[name]
    mailbox = Mailbox.get_by_id(event.mailbox_id)
    told = 0
    extra = {"nudge": nudge} if nudge is not None else {}
    for person, notice in audience(event, mailbox, reminder=reminder, **extra):
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
