"""What a change to a sequence's steps or timing does to the contacts already in it.

The rule, one place for it:

- A contact's progress is the set of steps they have an email for (sent, on its way, or
  waiting for a person), not a number. Their next step is the first step, in the sequence's
  current order, they have no email for (`next_position`). So after any edit, move or
  removal, a step a contact was sent is never sent again, and a step they were not sent is
  never skipped — moved in front of where they stood, it is the next one they get. E.g.
  steps A, B, C; Ada was sent A and B, Bob only A; C moves above B (A, C, B): Ada gets C
  next and never B again, Bob gets C, then B. A removed step's contacts go on with the next.
  `Enrollment.step_index` is only a pointer into the current order: `replan` rewrites it after
  every change, and `outbox_plan.advance` picks the next step by the same rule after a send.
- An email planned into the outbox but still waiting in the queue, never tried, is taken back
  and planned again from the new steps (`replan`), so it follows the new order and the new
  wait. Its content is read when it is sent, so an edited step's waiting emails carry the new
  words. An email the sender already claimed (`sending`) goes as it was rendered: from one
  read of its step's row, so it is all old or all new, never half of each.
- A waiting contact's next email is due its step's wait after their last email (after
  enrolling, for the first); editing a wait recomputes it, and the count of contacts whose
  next email moved is what the page says before and after saving. The sending window and the
  time zone apply on top when it is sent (Sequence.next_send_time), so a new window moves
  every waiting contact without rewriting them.

Races with a sender planning at the same moment (PostgreSQL; SQLite runs them one after the
other) end at the outbox's unique (enrollment, step) index: at worst a contact's next email
is planned a pass later, or in the order from before the change — never twice.
"""

from datetime import datetime

from models.base import hot, names
from models.outbox_email import FAILED, QUEUED, SENDING, SENT, UNKNOWN, OutboxEmail
from models.sequences import Enrollment, SequenceStep

# An email that holds its contact where they are: on its way, or waiting for a person.
HOLDS = (QUEUED, SENDING, UNKNOWN, FAILED)


def next_position(steps: list[SequenceStep], taken: set) -> int:
    """The position of the first step without an email for this contact; len(steps) when
    every step has one (the contact is done)."""
    return next((s.position for s in steps if s.id not in taken), len(steps))


def taken_steps(enrollment_id: int) -> set[int]:
    """The steps this contact has an email for, whatever became of it."""
    return {sid for (sid,) in _taken_sql(enrollment_id).fetchall()}


@hot  # every email sent asks it (models/outbox_plan.py advance): SQL built once
def _taken_sql(p):
    t, c = names(OutboxEmail)
    return (f"SELECT {c['step']} FROM {t} WHERE {c['enrollment']} = {p} "  # noqa: S608
            f"AND {c['step']} IS NOT NULL")


def waiting_query(sequence, step=None):
    """Active contacts of the sequence whose next email is not planned yet (they have a due
    time), all of them or those waiting for `step`."""
    query = Enrollment.select().where((Enrollment.sequence == sequence)
                                      & (Enrollment.status == "active")
                                      & Enrollment.next_due_at.is_null(False))
    return query.where(Enrollment.step_index == step.position) if step is not None else query


def waiting_count(sequence, step=None) -> int:
    """How many contacts wait for their next email (for `step`, or any): what a new wait —
    or a new window — changes, as the page says before saving."""
    queued = OutboxEmail.select().where((OutboxEmail.sequence == sequence)
                                        & (OutboxEmail.status == QUEUED)
                                        & (OutboxEmail.attempts == 0))
    if step is not None:
        queued = queued.where(OutboxEmail.step == step)
    return waiting_query(sequence, step).count() + queued.count()


def replan(sequence, now: datetime, steps_changed=None) -> int:
    """Put the sequence's active contacts at their next step by the rule above and due their
    next email at its wait after their last one. `steps_changed`: step ids whose wait changed
    (only their contacts are touched); None after a move or a removal (everyone is). Returns
    how many contacts' next email moved. Call inside a write transaction."""
    untried = ((OutboxEmail.sequence == sequence) & (OutboxEmail.status == QUEUED)
               & (OutboxEmail.attempts == 0))
    if steps_changed is not None:
        untried &= OutboxEmail.step.in_(list(steps_changed))
    taken_back = {e for (e,) in OutboxEmail.select(OutboxEmail.enrollment).where(untried).tuples()}
    OutboxEmail.delete().where(untried).execute()
    steps = list(SequenceStep.select().where(SequenceStep.sequence == sequence)
                 .order_by(SequenceStep.position))
    position_of = {s.id: s.position for s in steps}
    enrollments = list(Enrollment.select(Enrollment.id, Enrollment.step_index,
                                         Enrollment.next_due_at, Enrollment.created_at)
                       .where((Enrollment.sequence == sequence)
                              & (Enrollment.status == "active")).tuples())
    rows: dict[int, list] = {}
    for enrollment_id, step_id, status, sent_at in (
            OutboxEmail.select(OutboxEmail.enrollment, OutboxEmail.step, OutboxEmail.status,
                               OutboxEmail.sent_at)
            .where(OutboxEmail.sequence == sequence).tuples()):
        rows.setdefault(enrollment_id, []).append((step_id, status, sent_at))
    pointers, finished, moved = [], [], 0
    for enrollment_id, index, due, enrolled_at in enrollments:
        mine = rows.get(enrollment_id, [])
        taken = {step_id for step_id, _, _ in mine if step_id is not None}
        live = [step_id for step_id, status, _ in mine if status in HOLDS]
        if live:  # on its way or waiting for a person: only the pointer follows the order
            new_index = position_of.get(live[0], next_position(steps, taken))
            if new_index != index:
                pointers.append(Enrollment(id=enrollment_id, step_index=new_index,
                                           next_due_at=None))
            continue
        new_index = next_position(steps, taken)
        if steps_changed is not None and enrollment_id not in taken_back and (
                new_index >= len(steps) or steps[new_index].id not in steps_changed):
            continue
        if new_index >= len(steps):  # every step done (its last ones were removed)
            finished.append(enrollment_id)
            continue
        went = [at for _, status, at in mine if status == SENT and at is not None]
        new_due = max(went, default=enrolled_at) + steps[new_index].delay
        if (new_index, new_due) != (index, due):
            pointers.append(Enrollment(id=enrollment_id, step_index=new_index,
                                       next_due_at=new_due))
            moved += 1
    # One statement per 100 contacts (a CASE on the id), not one per contact: 10,000 contacts
    # are rescheduled while the person who pressed the button waits (bench/step_edits.py).
    Enrollment.bulk_update(pointers, [Enrollment.step_index, Enrollment.next_due_at],
                           batch_size=100)
    for start in range(0, len(finished), 500):
        (Enrollment.update(step_index=len(steps), next_due_at=None, status="finished",
                           status_changed_at=now)
         .where(Enrollment.id.in_(finished[start:start + 500])
                & (Enrollment.status == "active")).execute())
    moved += len(finished)
    for step in steps:  # what the queue still holds says its email's new number
        (OutboxEmail.update(position=step.position)
         .where((OutboxEmail.step == step.id) & (OutboxEmail.status == QUEUED)
                & (OutboxEmail.position != step.position)).execute())
    return moved
