"""The email an outbox row sends, rendered for its contact when it goes out: the step's
subject and body filled in (models/templating.py), and a step without a subject as a reply in
the thread of the contact's earlier emails."""

from datetime import datetime

from mail.send import Outgoing
from models.mailboxes import Mailbox
from models.outbox_email import SENT, UNKNOWN, OutboxEmail
from models.outbox_plan import StepCache
from models.templating import render_subject, render_template_text


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
    contact, sequence = row.contact, row.sequence
    in_reply_to, references = "", ()
    if step.subject.strip():
        subject = render_subject(step.subject, contact).strip()
    else:
        earlier = list(OutboxEmail.select(OutboxEmail.message_id, OutboxEmail.subject)
                       .where((OutboxEmail.enrollment == row.enrollment_id)
                              & OutboxEmail.status.in_((SENT, UNKNOWN))
                              & (OutboxEmail.id != row.id))
                       # In the order they went: steps may have been moved since.
                       .order_by(OutboxEmail.attempted_at, OutboxEmail.id))
        if earlier:
            base = earlier[-1].subject
            in_reply_to = earlier[-1].message_id
            references = tuple(e.message_id for e in earlier)[-20:]
        else:
            first = steps.at(row.sequence_id, 0)
            base = render_subject(first.subject, contact).strip() if first else ""
        subject = base if base.lower().startswith("re:") or not base else f"Re: {base}"
    if not subject:
        raise Unsendable(EMPTY_SUBJECT)
    return Outgoing(from_address=mailbox.email, from_name=sequence.sender_name or mailbox.display_name,
                    to_address=contact.email, to_name=contact.name, subject=subject,
                    body=render_template_text(step.body, contact), message_id=row.message_id,
                    date=now, in_reply_to=in_reply_to, references=references)
