"""Sequences: steps sent from a team mailbox to enrolled contacts, the toggle and the log.

The toggle's state is derived, never stored: `paused` when a person paused the sequence, else
`blocked` while its mailbox blocks sending (reconnect required, disabled or removed), else
`active`. So a mailbox coming back unblocks by itself, and never undoes a person's Pause.

Beside it: the template language (models/templating.py), what the forms accept
(models/sequence_rules.py) and what the log says (models/sequence_log.py).
"""

import json
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from peewee import (
    JOIN,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

import clock
from models import changes
from models import sequence_log as says
from models.accounts import Team, User
from models.base import BaseModel, Timestamped, db, hot, names, write_transaction
from models.contacts import Contact
from models.mailboxes import DISABLED, Mailbox
from models.sequence_log import REMOVED
from models.sequence_rules import MAX_SUBJECT, delay_words
from models.suppressions import suppressed

ACTIVE, PAUSED, BLOCKED = "active", "paused", "blocked"
STATE_LABELS = {ACTIVE: "Active", PAUSED: "Paused", BLOCKED: "Blocked"}

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


_DAY_NUMBERS = frozenset(str(d) for d in range(7))  # Monday = 0, as WEEKDAYS


class Sequence(Timestamped):
    team = ForeignKeyField(Team, backref="sequences", on_delete="CASCADE")
    name = CharField()
    # Mailboxes are soft-deleted, so this stays valid; re-adding the address re-attaches it.
    mailbox = ForeignKeyField(Mailbox, backref="sequences")
    sender_name = CharField(default="")  # "" sends with the mailbox's own display name
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    paused = BooleanField(default=True)  # new sequences wait until a person starts them
    paused_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    paused_at = DateTimeField(null=True)
    # The sending window: weekdays (0 = Monday) and minutes after midnight, local to `timezone`.
    window_days = CharField(default="0,1,2,3,4")
    window_start = IntegerField(default=9 * 60)
    window_end = IntegerField(default=17 * 60)
    timezone = CharField(default="UTC")
    # Added below every email's text when not empty, e.g. "Not for you? {{unsubscribe_url}}".
    unsubscribe_footer = TextField(default="")

    @property
    def state(self) -> str:
        if self.paused:
            return PAUSED
        return BLOCKED if self.mailbox.blocks_sequences else ACTIVE

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def mailbox_problem(self) -> str:
        """Why the mailbox stops sending, in plain words ("" when it does not)."""
        return says.mailbox_problem(self.mailbox)

    @property
    def unblock_hint(self) -> str:
        """What unblocks it, for the orange toggle's explanation."""
        mailbox = self.mailbox
        if mailbox.deleted_at:
            return "Add the mailbox back, or choose another one for this sequence"
        if mailbox.status == DISABLED:
            return "It starts again by itself once the mailbox is enabled"
        return "It starts again by itself once the mailbox is reconnected"

    def local_time(self, moment: datetime | None) -> str:
        """A stored (naive UTC) time as the sequence's time zone shows it."""
        if moment is None:
            return ""
        local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone))
        return f"{local:%b} {local.day}, {local:%H:%M}"

    @property
    def days(self) -> list[int]:
        return [int(d) for d in self.window_days.split(",") if d.strip() in _DAY_NUMBERS]

    def save(self, *args, **kwargs):
        # The last line of defence: a sending day is Monday–Sunday (0–6), whatever a form or a
        # script hands over; the pages index WEEKDAYS with it.
        if any(d.strip() not in _DAY_NUMBERS for d in self.window_days.split(",") if d.strip()):
            raise ValueError(f"sending days must be 0–6, not {self.window_days!r}")
        return super().save(*args, **kwargs)

    @property
    def window_text(self) -> str:
        days = self.days
        names = ("Mon–Fri" if days == [0, 1, 2, 3, 4] else "Every day" if len(days) == 7
                 else ", ".join(WEEKDAYS[d] for d in days))
        return f"{names}, {_hhmm(self.window_start)}–{_hhmm(self.window_end)} ({self.timezone})"

    def next_send_time(self, after: datetime) -> datetime | None:
        """The earliest time (naive UTC) at or after `after` inside the sending window."""
        tz, days = ZoneInfo(self.timezone), set(self.days)
        local = after.replace(tzinfo=UTC).astimezone(tz)
        for offset in range(8):
            date = (local + timedelta(days=offset)).date()
            if date.weekday() not in days:
                continue
            midnight = datetime(date.year, date.month, date.day, tzinfo=tz)
            start = midnight + timedelta(minutes=self.window_start)
            end = midnight + timedelta(minutes=self.window_end)
            candidate = max(local, start)
            if candidate < end:
                return max(candidate.astimezone(UTC).replace(tzinfo=None), after)
        return None

    @classmethod
    def of_team(cls, team_id):
        """The team's sequences with their mailbox, newest first (one query)."""
        return (cls.select(cls, Mailbox, User).join(Mailbox)
                .join_from(cls, User, JOIN.LEFT_OUTER, on=cls.paused_by)
                .where(cls.team == team_id).order_by(cls.created_at.desc(), cls.id.desc()))

    @classmethod
    def using_mailbox(cls, mailbox):
        """Sequences that send from `mailbox` — e.g. for the delete confirmation."""
        return cls.select().where(cls.mailbox == mailbox).order_by(cls.name)

    def steps_in_order(self):
        return self.steps.order_by(SequenceStep.position)

    def pause(self, user) -> bool:
        """A person pauses it; False if it was paused already (nothing written)."""
        with db.atomic():
            done = (Sequence.update(paused=True, paused_by=user, paused_at=clock.now())
                    .where((Sequence.id == self.id) & (Sequence.paused == False))  # noqa: E712
                    .execute())
            if done:
                write_log(self, "paused", says.paused_by(user))
                changes.bump(self.team_id)
        return bool(done)

    def resume(self, user) -> str | None:
        """A person starts it again; returns why not, or None. A blocked mailbox still keeps
        it from sending (the toggle turns orange) until the mailbox is back."""
        if not self.steps.count():
            return "Add a step before starting this sequence."
        with db.atomic():
            done = (Sequence.update(paused=False, paused_by=None, paused_at=None)
                    .where((Sequence.id == self.id) & (Sequence.paused == True))  # noqa: E712
                    .execute())
            if done:
                write_log(self, "resumed", says.started_by(user, self.mailbox_problem))
                changes.bump(self.team_id)
        return None


class SequenceStep(BaseModel):
    sequence = ForeignKeyField(Sequence, backref="steps", on_delete="CASCADE")
    position = IntegerField(index=True)  # 0-based; an enrollment's step_index points here
    subject = CharField(max_length=MAX_SUBJECT, default="")  # "" after step 1: same thread
    body = TextField()
    # The wait after the previous step (after enrolling, for the first one), in minutes; the
    # form types it in minutes, hours or days (models/sequence_rules.py).
    delay_minutes = IntegerField(default=0)

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.delay_minutes)

    @property
    def delay_text(self) -> str:
        return delay_words(self.delay_minutes)

    @property
    def timing(self) -> str:
        """When it goes out, e.g. "3 days after email 1" or "right after enrolling"."""
        after = "enrolling" if self.position == 0 else f"email {self.position}"
        return f"{self.delay_text} after {after}" if self.delay else f"right after {after}"


# Where a contact stands in a sequence. Sending (next issue) moves them along.
ENROLLMENT_STATUSES = ("active", "finished", "replied", "bounced", "unsubscribed")


class Enrollment(Timestamped):
    sequence = ForeignKeyField(Sequence, backref="enrollments", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, backref="enrollments", on_delete="CASCADE")
    status = CharField(default="active")
    step_index = IntegerField(default=0)         # the next step to send (0-based position)
    next_due_at = DateTimeField(null=True)       # naive UTC; before the sending window applies
    status_changed_at = DateTimeField(default=clock.now)

    class Meta:
        indexes = ((("sequence", "contact"), True), (("status", "next_due_at"), False))


class SequenceLog(BaseModel):
    sequence = ForeignKeyField(Sequence, backref="log", on_delete="CASCADE")
    created_at = DateTimeField(default=clock.now)
    kind = CharField()     # created, edited, paused, resumed, enrolled, mailbox_blocked, …
    message = TextField()
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    details = TextField(default="")  # JSON, for the machine; the message is for people
    event_id = IntegerField(null=True)  # the mailbox event it answers: one entry per event

    class Meta:
        indexes = ((("sequence", "id"), False), (("sequence", "event_id"), True),
                   (("sequence", "created_at"), False))


def write_log(sequence, kind, message, contact=None, details=None) -> None:
    """One line of the sequence log. Call inside the change's transaction, then bump."""
    _log_sql(getattr(sequence, "id", sequence), SequenceLog.created_at.db_value(clock.now()),
             kind, message, getattr(contact, "id", contact),
             json.dumps(details) if details else "")


@hot  # every email sent writes one: SQL built once (models.base.hot, issue #17)
def _log_sql(p):
    t, c = names(SequenceLog)
    columns = ", ".join(c[f] for f in ("sequence", "created_at", "kind", "message", "contact",
                                       "details"))
    return f"INSERT INTO {t} ({columns}) VALUES ({', '.join([p] * 6)})"  # noqa: S608


# ---- The mailbox's transitions, as the sequences see them -----------------------------------

def log_mailbox_transition(mailbox, old_status, new_status, cause="", waiting=None,
                           event_id=None, at=None) -> int:
    """Write one log entry to every sequence sending from `mailbox` for a transition that
    blocks or unblocks them; returns how many were written (0 for e.g. connected → degraded).

    Statuses are Mailbox statuses, or REMOVED ("deleted") for a deleted mailbox (new) or a
    re-added one (old); a move to disabled of a mailbox that is deleted by now reads as
    removed. `cause` is the plain-words reason; `waiting` maps a sequence id to the number of
    emails waiting to be sent once it is unblocked. Given the mailbox event's `event_id`, a
    retried handler writes nothing twice; `at`, the event's own time, keeps the log in the
    order things happened even when a retry writes the entry late. The toggle itself follows
    the mailbox by derivation.
    """
    if new_status == DISABLED and mailbox.deleted_at is not None:
        new_status = REMOVED
    kind = says.transition_kind(old_status, new_status)
    if kind is None:
        return 0
    what = says.what_happened(mailbox.email, old_status, new_status, cause)
    details = {"mailbox": mailbox.id, "from": old_status, "to": new_status, "cause": cause}
    written = 0
    # Reads then writes: take SQLite's write lock up front, so a busy database is waited for
    # (busy_timeout) instead of failing the handler at once.
    with write_transaction():
        sequences = Sequence.select().where(Sequence.mailbox == mailbox.id)
        if event_id is not None:
            sequences = sequences.where(Sequence.id.not_in(
                SequenceLog.select(SequenceLog.sequence).where(SequenceLog.event_id == event_id)))
        for sequence in sequences:
            outcome = says.outcome(kind, sequence.paused, (waiting or {}).get(sequence.id, 0))
            (SequenceLog.insert(sequence=sequence, created_at=at or clock.now(), event_id=event_id,
                                kind=kind if not sequence.paused else "mailbox_changed",
                                message=f"{what} — {outcome}", details=json.dumps(details))
             .on_conflict_ignore().execute())
            written += 1
        if written:
            changes.bump(mailbox.team_id)
    return written


def _hhmm(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def default_timezone(team_id) -> str:
    """The time zone of the team's latest sequence: most teams work in one."""
    row = (Sequence.select(Sequence.timezone).where(Sequence.team == team_id)
           .order_by(Sequence.id.desc()).first())
    return row.timezone if row else "UTC"


# ---- What people do to a sequence ------------------------------------------------------------

def create_sequence(team_id, user, **settings) -> Sequence:
    """A new sequence, paused until a person starts it (its steps are written first)."""
    with db.atomic():
        sequence = Sequence.create(team=team_id, created_by=user, paused=True, paused_by=user,
                                   paused_at=clock.now(), **settings)
        write_log(sequence, "created", says.created_by(user))
        changes.bump(team_id)
    return sequence


TIMING = ("window_days", "window_start", "window_end", "timezone")


def update_settings(sequence, user, **settings) -> int:
    """Save changed settings. Returns how many waiting contacts a new window or time zone
    reschedules (their next email goes by it). A new mailbox is a move, and moving has one
    place: models/sequence_move.py (who may, where to, what is in flight)."""
    from models.step_changes import waiting_count  # it reads the outbox, which imports us

    changed = [k for k, v in settings.items() if getattr(sequence, k) != v]
    if "mailbox" in changed:
        raise ValueError("a new mailbox is a move: use models.sequence_move.move()")
    if not changed:
        return 0
    for key in changed:
        setattr(sequence, key, settings[key])
    with write_transaction():
        sequence.save(only=[getattr(Sequence, k) for k in changed])
        moved = waiting_count(sequence) if set(changed) & set(TIMING) else 0
        write_log(sequence, "edited", says.settings_changed(user) + says.rescheduled(moved))
        changes.bump(sequence.team_id)
    return moved


def save_step(sequence, user, step=None, **values) -> SequenceStep:
    """Add a step at the end, or change `step`. A changed wait reschedules the contacts
    waiting for that step (models/step_changes.py); how many is `step.rescheduled`."""
    from models.step_changes import replan  # it reads the outbox, whose rows import this module

    if "delay_days" in values or "delay_hours" in values:  # scripts written before minutes
        values["delay_minutes"] = (values.pop("delay_days", 0) or 0) * 1440 + (
            values.pop("delay_hours", 0) or 0) * 60
    with write_transaction():
        rescheduled = 0
        if step is None:
            step = SequenceStep.create(sequence=sequence, position=sequence.steps.count(),
                                       **values)
            verb = "added"
        else:
            new_wait = values.get("delay_minutes", step.delay_minutes) != step.delay_minutes
            for key, value in values.items():
                setattr(step, key, value)
            step.save()
            if new_wait:
                rescheduled = replan(sequence, clock.now(), steps_changed={step.id})
            verb = "changed"
        write_log(sequence, "edited", says.step_edited(user, step.position, verb)
                  + says.rescheduled(rescheduled))
        changes.bump(sequence.team_id)
    step.rescheduled = rescheduled
    return step


def _subject_first(order: list) -> str | None:
    """The first email starts the thread, so it needs a subject: why `order` cannot be, or
    None."""
    if order and not order[0].subject.strip():
        return (f"Email {order[0].position + 1} has no subject (it replies in the thread), so "
                "it cannot be the first email. Give it a subject first.")
    return None


def remove_step(sequence, user, step) -> str | None:
    """Remove a step; later steps move up, and every contact goes on at the first step they
    have not been sent (models/step_changes.py). Returns why not, or None."""
    from models.step_changes import replan  # it reads the outbox, whose rows import this module

    if sequence.state != PAUSED and sequence.steps.count() == 1:
        return "Pause the sequence before removing its only step."
    steps = list(sequence.steps_in_order())
    problem = _subject_first([s for s in steps if s.id != step.id])
    if problem:
        return problem
    with write_transaction():
        step.delete_instance()
        (SequenceStep.update(position=SequenceStep.position - 1)
         .where((SequenceStep.sequence == sequence) & (SequenceStep.position > step.position))
         .execute())
        moved = replan(sequence, clock.now())
        write_log(sequence, "edited", says.step_edited(user, step.position, "removed")
                  + says.rescheduled(moved))
        changes.bump(sequence.team_id)
    return None


def move_step(sequence, user, step, offset: int) -> str | None:
    """Move a step `offset` places: one up (-1) or down (+1) with the buttons, further when
    dragged; the steps between shift by one. Every contact goes on at the first step, in the
    new order, they have not been sent (models/step_changes.py). Returns why not, or None."""
    from models.step_changes import replan  # it reads the outbox, whose rows import this module

    steps = list(sequence.steps_in_order())
    index = next((i for i, s in enumerate(steps) if s.id == step.id), None)
    if index is None or not offset or not 0 <= index + offset < len(steps):
        return "That email cannot move further."
    order = list(steps)
    order.insert(index + offset, order.pop(index))
    problem = _subject_first(order)
    if problem:
        return problem
    with write_transaction():
        for position, moving in enumerate(order):
            if moving.position != position:
                SequenceStep.update(position=position).where(SequenceStep.id == moving.id).execute()
        moved = replan(sequence, clock.now())
        write_log(sequence, "edited", says.step_moved(user, index, index + offset)
                  + says.rescheduled(moved))
        changes.bump(sequence.team_id)
    return None


class Enrolled(NamedTuple):
    added: int
    already: int      # were in the sequence already
    suppressed: int   # on the team's suppression list: skipped


def enroll(sequence, contacts, user) -> Enrolled:
    """Enroll the team's contacts among `contacts` (a Contact query), but for those on the
    suppression list. Their first email is due after the first step's delay; the sending
    window applies on top."""
    chosen = contacts.select(Contact.id, Contact.email).where(Contact.team == sequence.team_id)
    emails = dict(chosen.tuples())
    ids = set(emails)
    already = {cid for (cid,) in Enrollment.select(Enrollment.contact).where(
        Enrollment.sequence == sequence).tuples()} & ids
    barred = suppressed(sequence.team_id, [emails[cid] for cid in ids - already])
    skipped = {cid for cid in ids - already if emails[cid] in barred}
    new = sorted(ids - already - skipped)
    if not new:
        return Enrolled(0, len(already), len(skipped))
    first = sequence.steps_in_order().first()
    now = clock.now()
    due = now + (first.delay if first else timedelta(0))
    rows = [{"sequence": sequence.id, "contact": cid, "status": "active", "step_index": 0,
             "next_due_at": due, "created_at": now, "status_changed_at": now} for cid in new]
    with db.atomic():
        for start in range(0, len(rows), 500):
            Enrollment.insert_many(rows[start:start + 500]).on_conflict_ignore().execute()
        write_log(sequence, "enrolled", says.enrolled(user, len(new)))
        changes.bump(sequence.team_id)
    return Enrolled(len(new), len(already), len(skipped))


def delete_sequence(sequence) -> None:
    with db.atomic():
        sequence.delete_instance(recursive=False)
        changes.bump(sequence.team_id)
