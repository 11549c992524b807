"""A sequence's emails as one contact will get them, before anything is sent; and the rule
that keeps a sequence from starting while a step would go out broken for an enrolled contact.

The preview renders through the sender's own code (models/email_rendering.py `for_step`, then
mail.send `compose`) and reads the composed message back, so its subject, headers, plain text
and HTML are the bytes that would go on the wire. Fields are judged by
models/templating.py `field_uses`, the one rule for filled / fallback / missing / unknown; a
custom field the team's contacts have is judged like a contact's own column (filled, fallback
or missing for each contact), one no contact of the team has is unknown.
"""

import json
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from types import SimpleNamespace

import clock
from mail import send
from models.base import db
from models.contacts import Contact, custom_field_names
from models.email_rendering import EMPTY_SUBJECT, Unsendable, earlier_emails, for_step
from models.outbox_plan import StepCache
from models.sequences import Enrollment
from models.templating import (
    CONTACT_FIELDS,
    FIELDS,
    MISSING,
    UNKNOWN,
    FieldUse,
    field_uses,
    names_used,
    render_subject,
)

# A contact with every field empty: what a template gives when nothing can be filled in.
_NOBODY = SimpleNamespace(**dict.fromkeys(CONTACT_FIELDS, ""), name="", custom={})


@dataclass
class Preview:
    """One step rendered for one contact."""
    number: int                       # 1-based, as the pages count emails
    step: object
    fields: list[FieldUse]            # the subject's and the body's, each once
    problem: str = ""                 # why it cannot be sent to this contact ("" if it can)
    subject: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    html: str | None = None           # None: the email has no HTML part


def enrollment_of(sequence, contact):
    return Enrollment.get_or_none((Enrollment.sequence == sequence)
                                  & (Enrollment.contact == contact))


def render_step(sequence, step, contact, mailbox,
                steps: StepCache | None = None) -> tuple[send.Outgoing | None, str]:
    """(the email the sender would write for `contact` now, or None; why not, or "")."""
    enrollment = enrollment_of(sequence, contact)
    try:
        email = for_step(sequence, step, contact, mailbox, clock.now(),
                         message_id=send.new_message_id(mailbox.email),
                         earlier=earlier_emails(enrollment.id if enrollment else None,
                                                step.position),
                         steps=steps)
    except Unsendable as e:
        # The sender's words end with what to press in the log; here the fix is the step's.
        why = (f"its subject is empty for this contact. Give the subject's field a fallback, "
               f"like {{{{first_name|there}}}}, or fill it in for {contact.email}."
               if str(e) == EMPTY_SUBJECT else str(e))
        return None, f"It cannot be sent to {contact.email}: {why}"
    return email, ""


def preview_step(sequence, step, contact, steps: StepCache | None = None,
                 custom: set[str] | None = None) -> Preview:
    """`custom`: the team's custom field names (read here when not given)."""
    if custom is None:
        custom = custom_field_names(sequence.team_id)
    shown = Preview(number=step.position + 1, step=step,
                    fields=field_uses(step.subject + "\n" + step.body, contact, custom))
    email, shown.problem = render_step(sequence, step, contact, sequence.mailbox, steps)
    if email is None:
        return shown
    try:
        data = send.compose(email)
    except ValueError as e:  # a header with a line break, an address SMTP cannot carry
        shown.problem = f"It cannot be written as an email ({e})."
        return shown
    message = message_from_bytes(data, policy=policy.default)
    shown.subject = str(message["Subject"])
    shown.headers = [(name, str(value)) for name, value in message.items()]
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not shown.text:
            shown.text = _lines(part.get_content())
        elif part.get_content_type() == "text/html" and shown.html is None:
            shown.html = _lines(part.get_content())
    return shown


def _lines(text: str) -> str:
    """The wire's CRLF line ends as a page shows them."""
    return text.replace("\r\n", "\n")


def preview(sequence, contact) -> list[Preview]:
    """Every step of `sequence` rendered for `contact`, in order."""
    steps, custom = StepCache(), custom_field_names(sequence.team_id)
    return [preview_step(sequence, step, contact, steps, custom)
            for step in steps.of(sequence.id)]


# ---- The start check --------------------------------------------------------------------------

@dataclass(frozen=True)
class StartProblem:
    contact: str    # the contact's address
    number: int     # the email (1-based)
    field: str      # "{{first_name}}"
    what: str       # in the person's words
    contact_id: int | None = None


def _may_fail(step, custom: set[str]) -> bool:
    """Can this step fail for some contact? Only if it uses an unknown field, or its subject
    can render empty (it would be empty for a contact with no fields at all)."""
    if any(u.state == UNKNOWN
           for u in field_uses(step.subject + "\n" + step.body, _NOBODY, custom)):
        return True
    return bool(step.subject.strip()) and not render_subject(step.subject, _NOBODY).strip()


def problems_for(step, contact, custom: set[str] = frozenset()) -> list[StartProblem]:
    """What keeps `step` from going out right to `contact`; `custom`: the team's custom
    field names."""
    found, number = [], step.position + 1
    for use in field_uses(step.subject + "\n" + step.body, contact, custom):
        if use.state == UNKNOWN:
            found.append(StartProblem(contact.email, number, f"{{{{{use.name}}}}}",
                                      "is not a field Tether knows", contact.id))
    if step.subject.strip() and not render_subject(step.subject, contact).strip():
        for use in field_uses(step.subject, contact, custom):
            if use.state == MISSING:
                found.append(StartProblem(contact.email, number, f"{{{{{use.name}}}}}",
                                          "is empty for this contact, so the subject is empty: "
                                          "give it a fallback or fill it in", contact.id))
    return found


def start_problems(sequence, limit: int = 200) -> tuple[list[StartProblem], int]:
    """(the first `limit` problems, how many in all) for the contacts still in the sequence,
    over the steps each still has to get."""
    custom = custom_field_names(sequence.team_id)
    steps = [s for s in sequence.steps_in_order() if _may_fail(s, custom)]
    if not steps:
        return [], 0
    # The custom fields that matter: those the steps name (a contact's others change nothing).
    named = sorted(set().union(*(names_used(s.subject + "\n" + s.body) for s in steps))
                   - set(FIELDS))
    found, total, answers = [], 0, {}
    waiting = (Enrollment.select(Enrollment.step_index, Contact.id,
                                 Contact.custom_fields,
                                 *[getattr(Contact, name) for name in CONTACT_FIELDS])
               .join(Contact)
               .where((Enrollment.sequence == sequence) & (Enrollment.status == "active"))
               .order_by(Contact.email))
    # The driver's rows as they come (ids and text need no conversion): this loop is the
    # whole cost of pressing Start on a sequence of 10,000 contacts.
    for step_index, contact_id, custom_json, *values in db.execute(waiting):
        # What a step does for a contact turns only on which fields are blank: contacts alike
        # share one answer (10,000 contacts are a few shapes, not 10,000 renderings).
        shape = tuple(v if not (v or "").strip() else "x" for v in values)
        if named:
            own = json.loads(custom_json or "{}")
            shape += tuple(bool((own.get(name) or "").strip()) for name in named)
        for step in steps:
            if step.position < step_index:
                continue  # already sent to this contact
            key = (step.id, shape)
            if key not in answers:
                alike = SimpleNamespace(
                    id=None, **dict(zip(CONTACT_FIELDS, shape, strict=False)),
                    custom={n: "x" for n, has in zip(named, shape[len(CONTACT_FIELDS):],
                                                     strict=True) if has})
                answers[key] = problems_for(step, alike, custom)
            problems = answers[key]
            if problems:
                total += len(problems)
                email = values[CONTACT_FIELDS.index("email")]
                found.extend(replace(p, contact=email, contact_id=contact_id)
                             for p in problems[:max(limit - len(found), 0)])
    return found, total


def start_refusal(sequence) -> str | None:
    """Why `sequence` cannot start, naming the contacts and fields; None when it can."""
    found, total = start_problems(sequence, limit=3)
    if not total:
        return None
    listed = "; ".join(f"{p.contact}: email {p.number}, {p.field} {p.what.split(',')[0]}"
                       for p in found)
    more = f" and {total - len(found)} more" if total > len(found) else ""
    return (f"Not started: {total} problem{'s' if total != 1 else ''} with enrolled contacts "
            f"({listed}{more}). See Preview for the full list.")
