"""“Reconnect all mine” (issue 19): a person goes through every mailbox they connected that
needs reconnecting, one after another, from one button. Each one is the ordinary reconnect —
an OAuth round trip with its own address check (models/connect_flow.py), or the Other
Provider credentials form — so no rule of connecting is written twice here.

A Round is the list the person started with and what each step came to; it lives in their
browser session (views/reconnect_all.py). Which mailbox comes next is asked of the database
each time: one that is green again, no longer theirs or removed drops out by itself, and one
whose reconnect was refused (another address signed in) stays current until it works or is
skipped.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import clock
from models.mailboxes import RECONNECT_REQUIRED, Mailbox

# A round left half-way (the person wandered off) stops steering the ordinary reconnect pages
# back to it after this long.
LASTS = timedelta(hours=1)


def mine_to_reconnect(user):
    """The person's own mailboxes (they connected them) that need reconnecting."""
    return (Mailbox.live().where((Mailbox.team == user.team_id)
                                 & (Mailbox.connected_by == user.id)
                                 & (Mailbox.status == RECONNECT_REQUIRED))
            .order_by(Mailbox.email))


@dataclass
class Round:
    ids: list[int]                       # the mailboxes, in the order they are visited
    skipped: list[int] = field(default_factory=list)
    said: dict[str, str] = field(default_factory=dict)  # mailbox id → the last outcome's words
    finished: bool = False
    started: float = 0.0                 # by the one clock, as a timestamp (a session value)

    @classmethod
    def start(cls, user) -> "Round | None":
        ids = [m.id for m in mine_to_reconnect(user)]
        return cls(ids=ids, started=clock.now().timestamp()) if ids else None

    @classmethod
    def load(cls, data) -> "Round | None":
        if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
            return None
        round_ = cls(ids=[int(i) for i in data["ids"]],
                     skipped=[int(i) for i in data.get("skipped", [])],
                     said=dict(data.get("said", {})), finished=bool(data.get("finished")),
                     started=float(data.get("started", 0)))
        if clock.now().timestamp() - round_.started > LASTS.total_seconds():
            round_.finished = True
        return round_

    def dump(self) -> dict:
        return {"ids": self.ids, "skipped": self.skipped, "said": self.said,
                "finished": self.finished, "started": self.started}

    def mailboxes(self, user) -> list[Mailbox]:
        """The round's mailboxes as they are now, in order (another team's never)."""
        found = {m.id: m for m in Mailbox.select().where(Mailbox.id.in_(self.ids)
                                                         & (Mailbox.team == user.team_id))}
        return [found[i] for i in self.ids if i in found]

    def current(self, user) -> Mailbox | None:
        """The next mailbox to reconnect: still the person's, still red, not skipped."""
        for mailbox in self.mailboxes(user):
            if (mailbox.id not in self.skipped and mailbox.deleted_at is None
                    and mailbox.status == RECONNECT_REQUIRED and mailbox.managed_by(user)):
                return mailbox
        return None

    def position(self, mailbox) -> int:
        return self.ids.index(mailbox.id) + 1

    def includes(self, mailbox_id) -> bool:
        return not self.finished and mailbox_id in self.ids

    def note(self, mailbox_id: int, words: str) -> None:
        self.said[str(mailbox_id)] = words

    def skip(self, mailbox_id: int) -> None:
        if mailbox_id in self.ids and mailbox_id not in self.skipped:
            self.skipped.append(mailbox_id)
            self.note(mailbox_id, "Skipped: still needs reconnecting.")
