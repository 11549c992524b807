"""Is this instance ready to do its job? The answers behind /readyz, each with its reason.

A load balancer or a monitor asks /healthz whether the process is alive (cheap, no I/O) and
/readyz whether Tether can work: the database answers and is migrated to the newest
migration, the queue answers, the worker's once-a-minute sweep ran lately (so checks and
sending happen at all), Tether's own mailer is configured (or notices cannot be sent), and
every stored mailbox secret names a key this process has (or those mailboxes cannot work).
"""

import functools
import operator
from dataclasses import dataclass
from datetime import timedelta

from peewee import CharField, DateTimeField

import clock
from models import crypto
from models.base import BaseModel, db, migration_status
from models.mailboxes import Mailbox

SWEEP_LATE = timedelta(minutes=3)
NOT_CHECKED = "not checked: the database cannot be read"


class Beat(BaseModel):
    """When a periodic job of the worker last ran (one row per job)."""

    name = CharField(primary_key=True)
    at = DateTimeField()


def beat(name: str) -> None:
    """The periodic job `name` ran now."""
    now = clock.now()
    Beat.insert(name=name, at=now).on_conflict(conflict_target=[Beat.name],
                                               update={Beat.at: now}).execute()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""


def database() -> list[Check]:
    try:
        db.execute_sql("SELECT 1")
        pending = [m.name for m in migration_status() if not m.applied]
    except Exception as e:  # unreachable, unreadable: the reason is what the operator needs
        return [Check("database", False, f"the database cannot be reached: {e}".strip())]
    if pending:
        return [Check("database", True),
                Check("migrations", False, f"{len(pending)} migration(s) not applied "
                      f"({pending[0]}…): run `flask --app app db upgrade`")]
    return [Check("database", True), Check("migrations", True)]


def queue(huey) -> Check:
    try:
        huey.pending_count()
    except Exception as e:
        return Check("queue", False, f"the task queue cannot be reached: {e}".strip())
    return Check("queue", True)


def sweep() -> Check:
    try:
        last = Beat.select(Beat.at).where(Beat.name == "sweep").scalar()
    except Exception:  # not "no worker yet": the database check names why
        return Check("worker", False, NOT_CHECKED)
    if last is None:
        return Check("worker", False, "no worker has run its periodic sweep yet: start one "
                     "(see the Procfile's worker line)")
    if clock.now() - last > SWEEP_LATE:
        return Check("worker", False, f"the worker's periodic sweep last ran at {last:%H:%M:%S} "
                     "UTC: is a worker with the scheduler running?")
    return Check("worker", True)


def mailer(relay) -> Check:
    if relay.configured:
        return Check("mailer", True)
    return Check("mailer", False, "no system mailer is configured (TETHER_MAIL_SMTP_HOST): "
                 "reconnect emails cannot be sent")


def secrets(key_ids) -> Check:
    """Mailboxes holding a secret written with a key that is not among `key_ids` (this
    process's TETHER_ENCRYPTION_KEYS): the operator's problem, not the mailbox owners'. Read
    from the secrets' `id:` prefixes in one query, never by decrypting them."""
    ids = sorted(key_ids)
    prefixes = [crypto.key_id(field, db.obj) for field in Mailbox._meta.sorted_fields
                if isinstance(field, crypto.EncryptedField)]
    lost = functools.reduce(operator.or_, (prefix.not_in(ids) for prefix in prefixes))
    try:
        rows = list(Mailbox.select(*prefixes).where(lost).tuples())
    except Exception:  # the database check names why; no verdict on what cannot be read
        return Check("secrets", False, NOT_CHECKED)
    if not rows:
        return Check("secrets", True)
    missing = sorted({p for row in rows for p in row if p is not None and p not in ids})
    keys = (f"encryption key {missing[0]} is missing" if len(missing) == 1 else
            f"encryption keys {', '.join(missing)} are missing")
    return Check("secrets", False, f"{len(rows)} mailbox secret(s) cannot be decrypted: {keys} "
                 "from TETHER_ENCRYPTION_KEYS: put it back (after the first key) on every web "
                 "and worker process and restart them")
