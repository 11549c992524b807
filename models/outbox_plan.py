"""Planning (DESIGN §4): a contact's due step becomes a queued outbox row, inside its
sequence's sending window and the mailbox's daily limit; after a send, the contact's next step
falls due (advance). Runs under the mailbox's sender lease (models/sender.py)."""

from datetime import datetime

from models import changes
from models.base import hot, names, write_transaction
from models.mailboxes import Mailbox
from models.outbox_email import QUEUED, SENT, OutboxEmail, attempted_today, day_start, waiting_rows
from models.sequences import Enrollment, Sequence, SequenceLog, SequenceStep, write_log
from models.step_changes import next_position, taken_steps


def _window_open(sequence: Sequence, now: datetime) -> bool:
    return sequence.next_send_time(now) == now


def open_sequences(mailbox_id, now) -> list[Sequence]:
    """The mailbox's running sequences whose sending window is open now."""
    return [s for s in Sequence.select().where((Sequence.mailbox == mailbox_id)
                                               & (Sequence.paused == False))  # noqa: E712
            if _window_open(s, now)]


def plan(mailbox: Mailbox, now: datetime) -> int:
    """Create queued rows for the enrollments whose step is due, inside each sequence's window
    and the mailbox's daily limit. Runs under the mailbox's sender lease, so two planners
    never count the same room twice (and the unique index refuses a second row anyway).
    Returns the rows created."""
    sequences = open_sequences(mailbox.id, now)
    if not sequences:
        return 0
    by_id = {s.id: s for s in sequences}
    due = (Enrollment.select(Enrollment.id, Enrollment.sequence, Enrollment.contact,
                             Enrollment.step_index)
           .where(Enrollment.sequence.in_(list(by_id)) & (Enrollment.status == "active")
                  & (Enrollment.next_due_at <= now))
           .order_by(Enrollment.next_due_at, Enrollment.id))
    with write_transaction():
        used = (attempted_today([mailbox.id], now).get(mailbox.id, 0)
                + waiting_rows([mailbox.id]).get(mailbox.id, 0))
        room = max(mailbox.limit_on(now) - used, 0)
        batch = list(due.limit(room + 1).tuples())
        full, batch = len(batch) > room, batch[:room]
        steps = StepCache()
        wanted, finished = {}, []
        for enrollment_id, sequence_id, contact_id, index in batch:
            step = steps.at(sequence_id, index)
            if step is None:  # past the last step (steps were removed): done
                finished.append(enrollment_id)
            else:
                wanted[(enrollment_id, step.id)] = dict(
                    enrollment=enrollment_id, step=step.id, sequence=sequence_id,
                    contact=contact_id, position=index, status=QUEUED, due_at=now, created_at=now)
        existing = {}
        if wanted:
            for row in OutboxEmail.select().where(
                    OutboxEmail.enrollment.in_(list({e for e, _ in wanted}))):
                if (row.enrollment_id, row.step_id) in wanted:
                    existing[(row.enrollment_id, row.step_id)] = row
        new = [fields for key, fields in wanted.items() if key not in existing]
        for start in range(0, len(new), 200):
            OutboxEmail.insert_many(new[start:start + 200]).execute()
        if wanted:
            (Enrollment.update(next_due_at=None)
             .where(Enrollment.id.in_([e for e, _ in wanted])).execute())
        for row in existing.values():
            if row.status == SENT:  # already out: only the enrollment lagged behind
                advance(row, row.sent_at or now, now, steps)
        if finished:
            (Enrollment.update(status="finished", next_due_at=None, status_changed_at=now)
             .where(Enrollment.id.in_(finished) & (Enrollment.status == "active")).execute())
        if full:  # what is still due now waits for tomorrow
            _note_daily_limit(mailbox, by_id, due, now, used + len(new))
        if new:
            changes.bump(mailbox.team_id)
    return len(new)


class StepCache:
    """A sequence's steps, read once per batch rather than once per email."""

    def __init__(self):
        self._by_sequence: dict[int, list[SequenceStep]] = {}

    def of(self, sequence_id: int) -> list[SequenceStep]:
        if sequence_id not in self._by_sequence:
            self._by_sequence[sequence_id] = list(
                SequenceStep.select().where(SequenceStep.sequence == sequence_id)
                .order_by(SequenceStep.position))
        return self._by_sequence[sequence_id]

    def at(self, sequence_id: int, position: int) -> SequenceStep | None:
        return next((s for s in self.of(sequence_id) if s.position == position), None)

    def get(self, sequence_id: int, step_id: int | None) -> SequenceStep | None:
        return next((s for s in self.of(sequence_id) if s.id == step_id), None)


def advance(row, sent_at: datetime, now: datetime, steps: StepCache | None = None) -> None:
    """The enrollment moves to its next step — the first, in the current order, it has no
    email for (models/step_changes.py) — due that step's wait after this send."""
    steps = steps or StepCache()
    position = next_position(steps.of(row.sequence_id), taken_steps(row.enrollment_id))
    following = steps.at(row.sequence_id, position)
    when = Enrollment.next_due_at.db_value
    if following is not None:
        _next_step_sql(position, when(sent_at + following.delay), row.enrollment_id)
    else:  # that was the last step
        _finished_sql(position, when(now), row.enrollment_id)


# The two ends of `advance`, run for every email sent: SQL built once (models.base.hot).
# Names come from the models and values are parameters: nothing here is user input.
@hot
def _next_step_sql(p):
    t, c = names(Enrollment)
    return (f"UPDATE {t} SET {c['step_index']} = {p}, {c['next_due_at']} = {p} "  # noqa: S608
            f"WHERE {c['id']} = {p} AND {c['status']} = 'active'")


@hot
def _finished_sql(p):
    t, c = names(Enrollment)
    return (f"UPDATE {t} SET {c['step_index']} = {p}, {c['next_due_at']} = NULL, "  # noqa: S608
            f"{c['status']} = 'finished', {c['status_changed_at']} = {p} "
            f"WHERE {c['id']} = {p} AND {c['status']} = 'active'")


def _note_daily_limit(mailbox, by_id, due, now, used) -> None:
    """Say it once per sequence and UTC day: the limit is reached, the rest wait."""
    waiting = {sid for (sid,) in due.select(Enrollment.sequence).order_by().distinct().tuples()}
    today = day_start(now)
    noted = {sid for (sid,) in SequenceLog.select(SequenceLog.sequence).where(
        SequenceLog.sequence.in_(list(waiting)) & (SequenceLog.kind == "daily_limit")
        & (SequenceLog.created_at >= today)).tuples()}
    for sequence_id in sorted(waiting - noted):
        write_log(by_id[sequence_id], "daily_limit",
                  f"Daily limit reached: {mailbox.email} has sent or queued {used} of its "
                  f"{mailbox.limit_on(now)} emails for today, across all its sequences. The "
                  "rest wait until tomorrow (the day starts at 00:00 UTC).")
    if waiting - noted:
        changes.bump(mailbox.team_id)
