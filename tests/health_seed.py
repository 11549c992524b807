"""A team's mailboxes with weeks of history in mixed states, for the Mailbox health page's
screenshots (tests/browser/test_mailbox_health.py) and its benchmark (bench/health_page.py).

The history rows are the ones models/health.transition() writes (a failure's first check,
reconnect_required, connected again), bulk-inserted: calling transition() a few thousand times
with a moving clock would make the benchmark measure its own set-up. The tests that prove
the statistics drive the real transitions (tests/test_mailbox_health.py)."""

import random
from datetime import timedelta

import clock
from models import mailbox_health
from models.accounts import User, hash_password
from models.base import db
from models.contacts import Contact
from models.health import MailboxEvent, MailboxHistory
from models.mailboxes import CHECKING, CONNECTED, DEGRADED, DISABLED, RECONNECT_REQUIRED, Mailbox
from models.outbox_email import QUEUED, SENT, OutboxEmail
from models.sequences import Enrollment, Sequence

REFUSED = ("reconnect", "invalid_grant", "Token has been expired or revoked.")
OUTAGE = ("transient", "IMAP UNAVAILABLE", "The mail server is busy; Tether keeps retrying.")
PEOPLE = ("Ana Lima", "Ben Okafor", "Chen Wei", "Dara Novak")
# One in 25: reconnect required 3, degraded 3, disabled 1, checking 1, the rest connected.
STATES = ([RECONNECT_REQUIRED] * 3 + [DEGRADED] * 3 + [DISABLED, CHECKING] + [CONNECTED] * 17)


def _people(owner) -> list:
    found = [owner]
    for name in PEOPLE:
        email = name.split()[0].lower() + "@" + owner.email.split("@")[1]
        user = User.get_or_none(User.email == email) or User.create(
            email=email, name=name, password_hash=hash_password("seed-password-1"),
            team=owner.team_id, role="member")
        found.append(user)
    return found


def seed(owner, mailboxes: int = 40, days: int = 90, sent_per_day: int = 2, seed_: int = 19):
    """`mailboxes` mailboxes of `owner`'s team, connected by the owner and four teammates,
    with `days` days of incidents, hiccups and emails (delayed ones too)."""
    rng = random.Random(seed_)
    now = clock.now()
    start = now - timedelta(days=days)
    people = _people(owner)
    history, events, emails = [], [], []
    with db.atomic():
        boxes = []
        for n in range(mailboxes):
            status = STATES[n % len(STATES)]
            boxes.append(Mailbox.create(
                team=owner.team_id, connected_by=people[n % len(people)],
                email=f"{PEOPLE[n % 4].split()[0].lower()}.{n:04}@acme.test",
                provider=("google-sandbox", "microsoft-sandbox", "other")[n % 3],
                status=status, created_at=start, last_success_at=now - timedelta(minutes=rng.randint(1, 9)),
                daily_limit=50))
        contact_ids = [Contact.create(team=owner.team_id, email=f"lead{n:04}@client.test").id
                       for n in range(mailboxes)]
        for n, box in enumerate(boxes):
            sequence = Sequence.create(team=owner.team_id, name=f"Outreach {n:04}", mailbox=box,
                                       paused=False, created_by=box.connected_by_id)
            enrollment = Enrollment.create(sequence=sequence, contact=contact_ids[n])

            def email(due, sent, box=box, sequence=sequence, enrollment=enrollment, n=n):
                emails.append({"enrollment": enrollment.id, "sequence": sequence.id,
                               "contact": contact_ids[n], "position": 0, "due_at": due,
                               "status": SENT if sent else QUEUED, "mailbox": box.id if sent else None,
                               "attempted_at": sent, "sent_at": sent, "created_at": due})

            def change(at, old, new, kind="", code="", cause="", box=box):
                history.append({"mailbox": box.id, "at": at, "from_status": old, "to_status": new,
                                "kind": kind, "code": code, "cause": cause})
                events.append({"mailbox": box.id, "team_id": owner.team_id, "at": at,
                               "from_status": old, "to_status": new, "kind": kind, "code": code,
                               "cause": cause, "dispatched_at": at})

            for day in range(days):  # ordinary days: emails out on time
                for k in range(sent_per_day):
                    due = start + timedelta(days=day, hours=9 + 3 * k)
                    if due < now:
                        email(due, due + timedelta(seconds=rng.randint(5, 90)))
            since = now - timedelta(hours=rng.choice((1, 3, 7, 20, 50, 120)))
            moment = start + timedelta(hours=rng.randint(1, 24 * 10))
            while moment < since - timedelta(days=3):  # past incidents, all over before `since`
                length = timedelta(minutes=rng.choice((12, 40, 95, 180, 600, 1500, 3000)))
                if rng.random() < 0.4:  # a hiccup that heals by itself: no incident
                    change(moment, CONNECTED, DEGRADED, *OUTAGE)
                    change(moment + length / 6, DEGRADED, CONNECTED)
                else:
                    first = moment
                    if rng.random() < 0.5:
                        change(first, CONNECTED, DEGRADED, *OUTAGE)
                        moment += timedelta(minutes=10)
                        change(moment, DEGRADED, RECONNECT_REQUIRED, *REFUSED)
                    else:
                        change(moment, CONNECTED, RECONNECT_REQUIRED, *REFUSED)
                    for k in range(rng.randint(0, 4)):  # emails due meanwhile wait for it
                        email(first + length * (k + 1) / 6, first + length + timedelta(minutes=k + 1))
                    change(first + length, RECONNECT_REQUIRED, CONNECTED, cause="Reconnected.")
                moment += length + timedelta(hours=rng.randint(24, 24 * 25))
            if box.status == RECONNECT_REQUIRED:
                change(since, CONNECTED, RECONNECT_REQUIRED, *REFUSED)
                for k in range(rng.randint(1, 6)):
                    email(since + (now - since) * (k + 1) / 8, None)
            elif box.status == DEGRADED:
                change(since, CONNECTED, DEGRADED, *OUTAGE)
            elif box.status == DISABLED:
                change(since, CONNECTED, DISABLED, "person", "", "Disabled by a person.")
            cause = {RECONNECT_REQUIRED: REFUSED[2], DEGRADED: OUTAGE[2]}.get(box.status, "")
            fields = {Mailbox.status_since: since, Mailbox.status_cause: cause}
            if box.status in (RECONNECT_REQUIRED, DEGRADED):  # no check has passed since
                fields[Mailbox.last_success_at] = since - timedelta(minutes=rng.randint(1, 5))
            Mailbox.update(fields).where(Mailbox.id == box.id).execute()
        for batch in range(0, len(history), 500):
            MailboxHistory.insert_many(history[batch:batch + 500]).execute()
        for batch in range(0, len(events), 500):
            MailboxEvent.insert_many(events[batch:batch + 500]).execute()
        for batch in range(0, len(emails), 500):
            OutboxEmail.insert_many(emails[batch:batch + 500]).execute()
    # Every event that opened an incident is its own incident (models.health.transition).
    MailboxEvent.update(incident=MailboxEvent.id).where(
        MailboxEvent.to_status == RECONNECT_REQUIRED).execute()
    for box in boxes:  # what the event handler does after each transition
        mailbox_health.rebuild(box.id)
    while mailbox_health.settle():  # what the worker's once-a-minute pass does
        pass
    return boxes
