"""Moving a sequence to another mailbox of its team (issue 19): who may, where to, what the
page tells before anyone confirms, and the move itself.

The move is one step of the outbox protocol (models/outbox.py `hand_over`): in one
transaction the sequence's mailbox changes by compare-and-set (two people moving at once: the
first wins, the second is told who moved it where), the old mailbox's claimed but unsent rows
return to the queue, and the log says who moved it and why. Rows already on the wire finish
from the old mailbox. Afterwards the rules that already exist do the rest: the new mailbox's
daily limit counts the waiting rows (models/outbox_email.py), a follow-up that would have
replied in the old thread starts a new one (models/email_rendering.py), and replies reaching
the old mailbox still stop their contact while it is connected (models/replies.py).
"""

import json
from dataclasses import dataclass

from peewee import fn

from models import changes, outbox
from models import sequence_log as says
from models.base import write_transaction
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import SENDING, SENT, UNKNOWN, OutboxEmail
from models.sequences import Enrollment, Sequence, SequenceLog, write_log
from models.text import has_control_chars

MAX_REASON = 200


class Refused(Exception):
    """The move cannot happen; the words say why, for the person who asked."""


def may_move(user, sequence) -> bool:
    """Owners, admins and the person who created the sequence."""
    return user.is_admin or sequence.created_by_id == user.id


def targets(sequence) -> list[Mailbox]:
    """The team's other mailboxes, connected ones first: the page lists the rest too, greyed
    out with their status, so nobody wonders where a mailbox went."""
    boxes = (Mailbox.live().where((Mailbox.team == sequence.team_id)
                                  & (Mailbox.id != sequence.mailbox_id)).order_by(Mailbox.email))
    return sorted(boxes, key=lambda m: m.status != CONNECTED)


def target_problem(sequence, mailbox) -> str | None:
    """Why the sequence cannot move to `mailbox` (of its team), in words; None if it can."""
    if mailbox.id == sequence.mailbox_id:
        return f"The sequence already sends from {mailbox.email}."
    if mailbox.deleted_at is not None:
        return f"{mailbox.email} was removed: choose a connected mailbox."
    if mailbox.status != CONNECTED:
        return (f"{mailbox.email} is not connected ({mailbox.status_label.lower()}): a sequence "
                "can only move to a connected mailbox. Reconnect it first, or choose another.")
    return None


def reason_problem(reason: str) -> str | None:
    if not reason:
        return "Say why, for the sequence log (for example “Alex is on holiday”)."
    if len(reason) > MAX_REASON:
        return f"Keep the reason to {MAX_REASON} characters or fewer."
    if has_control_chars(reason):
        return "The reason must be one line, without control or text-direction characters."
    return None


@dataclass
class Preview:
    """What the confirmation page tells, in numbers."""

    waiting: int        # emails due or queued: they go from the new mailbox
    new_threads: int    # contacts whose next email would have replied in the old thread
    finishing: int      # emails on the wire from the old mailbox right now: they finish there
    old_reads_replies: bool  # the old mailbox is connected: its INBOX is still read


def preview(sequence) -> Preview:
    waiting = outbox.waiting_counts(sequence.mailbox_id).get(sequence.id, 0)
    # Contacts still in the sequence who already had an email: their next follow-up without a
    # subject would have answered that thread.
    new_threads = (Enrollment.select(fn.COUNT(fn.DISTINCT(Enrollment.id)))
                   .join(OutboxEmail, on=(OutboxEmail.enrollment == Enrollment.id))
                   .where((Enrollment.sequence == sequence.id) & (Enrollment.status == "active")
                          & OutboxEmail.status.in_((SENT, UNKNOWN))).scalar() or 0)
    finishing = (OutboxEmail.select().where((OutboxEmail.sequence == sequence.id)
                                            & (OutboxEmail.status == SENDING)).count())
    return Preview(waiting=waiting, new_threads=new_threads, finishing=finishing,
                   old_reads_replies=sequence.mailbox.can_send)


@dataclass
class Moved:
    old: Mailbox
    new: Mailbox
    returned: int     # claimed by the old mailbox's sender, back in the queue for the new one
    finishing: int    # on the wire from the old mailbox: they finish there


def move(sequence, user, from_mailbox_id: int, to_mailbox, reason: str) -> Moved:
    """Move `sequence` from the mailbox the person saw (`from_mailbox_id`) to `to_mailbox`, a
    mailbox of the sequence's team. Raises Refused with words; changes nothing then."""
    problem = reason_problem(reason)
    if problem:
        raise Refused(problem)
    if to_mailbox.team_id != sequence.team_id:
        raise Refused("Choose one of your team's mailboxes.")  # the view answers 404 first
    with write_transaction():
        target = Mailbox.get_by_id(to_mailbox.id)  # as it is now, not as the form saw it
        problem = (f"The sequence already sends from {target.email}."
                   if target.id == from_mailbox_id else target_problem(sequence, target))
        if problem:
            raise Refused(problem)
        done = (Sequence.update(mailbox=target.id)
                .where((Sequence.id == sequence.id) & (Sequence.mailbox == from_mailbox_id))
                .execute())
        if not done:
            raise Refused(_moved_meanwhile(sequence.id))
        old = Mailbox.get_by_id(from_mailbox_id)
        returned, finishing = outbox.hand_over(sequence.id)
        write_log(sequence, "moved", says.moved(user, old.email, target.email, reason, finishing),
                  details={"from": old.id, "to": target.id, "by": user.id,
                           "by_name": user.display_name, "reason": reason,
                           "returned": returned, "finishing": finishing})
        changes.bump(sequence.team_id)
    return Moved(old=old, new=target, returned=returned, finishing=finishing)


def _moved_meanwhile(sequence_id: int) -> str:
    """The second of two people moving at once: who moved it, and where to."""
    current = Sequence.select(Sequence, Mailbox).join(Mailbox).where(
        Sequence.id == sequence_id).first()
    last = (SequenceLog.select().where((SequenceLog.sequence == sequence_id)
                                       & (SequenceLog.kind == "moved"))
            .order_by(SequenceLog.id.desc()).first())
    who = json.loads(last.details).get("by_name") if last and last.details else None
    where = current.mailbox.email if current else "another mailbox"
    return (f"{who or 'Someone'} moved this sequence to {where} while you were choosing. "
            "Nothing was changed by you; look again below if it should still move.")
