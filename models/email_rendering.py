"""The email an outbox row sends, rendered for its contact when it goes out: the step's
subject and body filled in (models/templating.py), and a step without a subject as a reply in
the thread of the contact's earlier emails — or, when those went from another mailbox (the
sequence was moved), as a new thread with the same subject. Every one carries the unsubscribe
headers and link (models/unsubscribes.py), and the sequence's unsubscribe footer when it has
one. The preview and the test send render through `for_step` too, so what they show is what
the sender sends (a test send drops the unsubscribe headers: models/test_send.py)."""

from datetime import datetime

from mail.send import Outgoing
from models.base import hot, names
from models.mailboxes import Mailbox
from models.outbox_email import SENT, UNKNOWN, OutboxEmail
from models.outbox_plan import StepCache
from models.templating import render_subject, render_template_text
from models.unsubscribes import header_for, token_for, url_for_token


class Unsendable(Exception):
    """This email cannot be written for this contact; the words say why, for the log."""


EMPTY_SUBJECT = ("its subject is empty for this contact (the subject's fields left nothing). "
                 "Give the field a fallback, like {{first_name|there}}, then press “Send again”.")


def outgoing(row: OutboxEmail, mailbox: Mailbox, now: datetime,
             steps: StepCache | None = None) -> Outgoing:
    """The email this row sends, rendered now for its contact. A step without a subject
    replies in the thread of the contact's earlier emails ("Re: …", In-Reply-To,
    References). Raises Unsendable with plain words."""
    steps = steps or StepCache()
    step = steps.get(row.sequence_id, row.step_id) if row.step_id else None
    if step is None:
        raise Unsendable("its step was removed from the sequence.")
    return for_step(row.sequence, step, row.contact, mailbox, now, message_id=row.message_id,
                    earlier=earlier_emails(row.enrollment_id, exclude=row.id), steps=steps)


def earlier_emails(enrollment_id, position: int | None = None, *, exclude=None) -> list:
    """The contact's emails of this sequence that went out (or may have), in the order they
    went — steps may have been moved since, so not by step: the thread a step without a
    subject replies in. `position` and `exclude` (a row id) leave out the email being
    written."""
    if enrollment_id is None:
        return []
    if position is None and exclude is not None:  # the sender's question, for every email
        return list(OutboxEmail.raw(_earlier_sql.sql(), enrollment_id, SENT, UNKNOWN, exclude))
    query = (OutboxEmail.select(OutboxEmail.id, OutboxEmail.message_id, OutboxEmail.subject,
                                OutboxEmail.mailbox)
             .where((OutboxEmail.enrollment == enrollment_id)
                    & OutboxEmail.status.in_((SENT, UNKNOWN))))
    if exclude is not None:
        query = query.where(OutboxEmail.id != exclude)
    if position is not None:
        query = query.where(OutboxEmail.position != position)
    return list(query.order_by(OutboxEmail.attempted_at, OutboxEmail.id))


@hot  # SQL built once (models.base.hot, issue #17); names from the model, values parameters
def _earlier_sql(p):
    t, c = names(OutboxEmail)
    return (f"SELECT {c['id']}, {c['message_id']}, {c['subject']}, {c['mailbox']} "  # noqa: S608
            f"FROM {t} WHERE {c['enrollment']} = {p} AND {c['status']} IN ({p}, {p}) "
            f"AND {c['id']} <> {p} ORDER BY {c['attempted_at']}, {c['id']}")


def for_step(sequence, step, contact, mailbox: Mailbox, now: datetime, *, message_id: str,
             earlier: list, steps: StepCache | None = None) -> Outgoing:
    """`step` of `sequence` rendered for `contact`, after the `earlier` emails of its thread
    (earlier_emails()). Raises Unsendable with plain words."""
    steps = steps or StepCache()
    in_reply_to, references = "", ()
    if step.subject.strip():
        subject = render_subject(step.subject, contact).strip()
    elif earlier and earlier[-1].mailbox_id != mailbox.id:
        # The sequence moved (models/sequence_move.py): a reply from another address in a
        # thread the contact had with the old one would look forged. A new thread, with the
        # thread's subject kept (no "Re:": it answers nothing the contact has).
        subject = _thread_subject(earlier[-1].subject)
    else:
        if earlier:
            base = earlier[-1].subject
            in_reply_to = earlier[-1].message_id
            references = tuple(e.message_id for e in earlier)[-20:]
        else:
            first = steps.at(sequence.id, 0)
            base = render_subject(first.subject, contact).strip() if first else ""
        subject = base if base.lower().startswith("re:") or not base else f"Re: {base}"
    if not subject:
        raise Unsendable(EMPTY_SUBJECT)
    token = token_for(sequence.team_id, contact.email)
    links = {"unsubscribe_url": url_for_token(token)}
    body = render_template_text(step.body, contact, links)
    if sequence.unsubscribe_footer.strip():
        body = body.rstrip("\n") + "\n\n" + render_template_text(
            sequence.unsubscribe_footer.strip(), contact, links)
    return Outgoing(from_address=mailbox.email, from_name=sequence.sender_name or mailbox.display_name,
                    to_address=contact.email, to_name=contact.name, subject=subject,
                    body=body, message_id=message_id, date=now, in_reply_to=in_reply_to,
                    references=references, list_unsubscribe=header_for(token, mailbox.email))


def _thread_subject(subject: str) -> str:
    """The subject a thread started with: its "Re: " prefixes taken off."""
    while subject[:3].lower() == "re:":
        subject = subject[3:].lstrip()
    return subject
