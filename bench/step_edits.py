"""Editing a sequence with 10,000 contacts in it: moving an email up (every contact is put at
the first email they were not sent, models/step_changes.py) and saving a new wait (everyone
waiting for that email is rescheduled), as the person who pressed the button waits for them:
wall time ≤ 2 s each, median over rounds. Half the contacts were sent email 1.

    .venv/bin/python bench/step_edits.py [--contacts 10000] [--rounds 5]
        [--database-url postgresql://…]
"""

import argparse
import statistics
import time
from datetime import timedelta

from _setup import backend_flags, report, use_backend  # noqa: I001 — sets the environment first


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    backend_flags(parser)
    return parser.parse_args()


def _seed(contacts):
    import clock
    from models.accounts import User
    from models.base import db
    from models.contacts import Contact
    from models.mailboxes import Mailbox
    from models.outbox import SENT, OutboxEmail
    from models.sequences import Enrollment, create_sequence, enroll, save_step

    owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
    mailbox = Mailbox.create(team=owner.team, connected_by=owner, email="m@bench.test",
                             provider="other", status="connected")
    sequence = create_sequence(owner.team_id, owner, name="Bench", mailbox=mailbox)
    for n, wait in enumerate((0, 3 * 1440, 1440, 60)):
        save_step(sequence, owner, subject=f"Email {n + 1}" if n in (0, 2) else "",
                  body=f"Body {n + 1}", delay_minutes=wait)
    with db.atomic():
        rows = [{"team": owner.team_id, "email": f"c{n}@bench.test"} for n in range(contacts)]
        for start in range(0, len(rows), 1000):
            Contact.insert_many(rows[start:start + 1000]).execute()
    enroll(sequence, Contact.select(), owner)
    first, now = sequence.steps_in_order().first(), clock.now()
    sent = list(Enrollment.select(Enrollment.id, Enrollment.contact)
                .order_by(Enrollment.id).tuples())[::2]
    with db.atomic():
        # Each sent at its own second, as a real batch does: no two due at the same time.
        rows = [dict(enrollment=e, step=first.id, sequence=sequence.id, contact=c, position=0,
                     status=SENT, due_at=now, sent_at=now - timedelta(seconds=n),
                     attempted_at=now - timedelta(seconds=n)) for n, (e, c) in enumerate(sent)]
        for start in range(0, len(rows), 1000):
            OutboxEmail.insert_many(rows[start:start + 1000]).execute()
        (Enrollment.update(step_index=1, next_due_at=now + timedelta(days=3))
         .where(Enrollment.id.in_([e for e, _ in sent])).execute())
    return owner, sequence


def main():
    args = parse()
    label, clean_up = use_backend(args)
    from app import create_app
    from models.base import db, migrate
    from models.sequences import SequenceStep, move_step, save_step

    create_app({"TESTING": True})
    try:
        migrate()
        with db.connection_context():
            owner, sequence = _seed(args.contacts)
            moves, waits = [], []
            for n in range(args.rounds):
                third = SequenceStep.get((SequenceStep.sequence == sequence)
                                         & (SequenceStep.position == 2 - n % 2))
                start = time.perf_counter()
                assert move_step(sequence, owner, third, -1 if n % 2 == 0 else 1) is None
                moves.append(time.perf_counter() - start)
                second = SequenceStep.get((SequenceStep.sequence == sequence)
                                          & (SequenceStep.position == 1))
                start = time.perf_counter()
                step = save_step(sequence, owner, second,
                                 delay_minutes=second.delay_minutes + 30)
                waits.append(time.perf_counter() - start)
        print(f"{label}: {args.contacts:,} contacts, {args.rounds} rounds "
              f"(last edit rescheduled {step.rescheduled:,})")
        report("move an email up or down, wall p50", statistics.median(moves), 2, "s")
        report("save a new wait, wall p50", statistics.median(waits), 2, "s")
    finally:
        clean_up()


if __name__ == "__main__":
    main()
