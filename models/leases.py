"""Who holds a lease, and keeping it while the work goes on.

Checks and senders take short leases in the database (an owner and an expiry), so a consumer
that dies loses its mailboxes within seconds, not minutes. Work that outlasts a lease — a
slow SMTP server, a big batch — keeps it with a heartbeat: a thread that renews it every third
of the lease while the work runs, in its own database connection. A heartbeat gives up after
MAX_HOLD, so a worker stuck for good still lets go.

An owner names its process (host, boot, pid) so a consumer starting on the same machine can
free at once what a dead one held (free_dead_owners); other machines' leases just expire.
"""

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from models.base import db

# Long enough for a beat or two to be late; TETHER_LEASE_SECONDS exists for tests and for
# deployments whose database is far away.
LEASE = timedelta(seconds=float(os.environ.get("TETHER_LEASE_SECONDS") or 30))
MAX_HOLD = timedelta(minutes=15)
log = logging.getLogger(__name__)


def _machine() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = "?"
    return f"{socket.gethostname()}/{boot}"


MACHINE = _machine()


def new_owner() -> str:
    """A lease owner for one piece of work: this process's name plus a random part."""
    return f"{MACHINE}/{os.getpid()}/{secrets.token_hex(4)}"


def dead_here(owner: str) -> bool:
    """Whether `owner` (host/boot/pid/random) was a process on this machine that has ended."""
    parts = owner.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != MACHINE or not parts[2].isdigit():
        return False
    return not Path(f"/proc/{parts[2]}").exists()


class Heartbeat:
    """`with Heartbeat(renew):` calls `renew()` every `every` while the block runs.

    One beating thread per process serves every heartbeat (a thread started per check cost
    a check 3 % of its CPU, issue #17): it sleeps until the earliest beat is due, renews what
    is due in one database connection, and drops a heartbeat held past MAX_HOLD."""

    def __init__(self, renew: Callable[[], None], every: timedelta = LEASE / 3):
        self.renew, self.every = renew, every.total_seconds()

    def __enter__(self):
        _beats.add(self)
        return self

    def __exit__(self, *exc):
        _beats.remove(self)
        return False


class _Beats:
    """The heartbeats in force in this process, and the one thread that keeps them."""

    def __init__(self):
        self._due: dict[Heartbeat, tuple[float, float]] = {}  # → (next beat, give up at)
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._renewing: set[Heartbeat] = set()

    def add(self, beat: Heartbeat) -> None:
        now = time.monotonic()
        with self._changed:
            self._due[beat] = (now + beat.every, now + MAX_HOLD.total_seconds())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-heartbeat",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def remove(self, beat: Heartbeat) -> None:
        """Stop beating for `beat`; a renewal of it under way ends first, and none follows
        (what a thread's join gave: work that let its lease go must not see it renewed)."""
        with self._changed:
            self._due.pop(beat, None)
            while beat in self._renewing:
                self._changed.wait()

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [b for b, (at, _) in self._due.items() if at <= now]
                if not due:
                    soonest = min((at for at, _ in self._due.values()), default=now + 60)
                    self._changed.wait(soonest - now)
                    continue
                for beat in due:
                    _, give_up = self._due[beat]
                    if now >= give_up:
                        del self._due[beat]
                        log.warning("a lease was held for %s; no longer renewed", MAX_HOLD)
                    else:
                        self._due[beat] = (now + beat.every, give_up)
            self._renew(due)

    def _renew(self, beats) -> None:
        # Outside the lock: a slow database delays the next beats, never a check's start.
        try:
            with db.connection_context():
                for beat in beats:
                    with self._changed:
                        if beat not in self._due:
                            continue  # its work ended meanwhile
                        self._renewing.add(beat)
                    try:
                        beat.renew()
                    except Exception:  # a missed beat: the next one (or the expiry) follows
                        log.exception("could not renew a lease")
                    finally:
                        with self._changed:
                            self._renewing.discard(beat)
                            self._changed.notify_all()
        except Exception:
            log.exception("could not renew leases")


_beats = _Beats()


def free_dead_owners(now) -> tuple[set[int], set[int]]:
    """Expire now the leases that ended processes of this machine still hold (a consumer
    killed mid-check or mid-batch, then started again). Returns the mailboxes whose check and
    whose sending should be taken up at once; the reconciler decides each interrupted send."""
    from models.mailboxes import Mailbox
    from models.outbox import OutboxEmail
    from models.sender_lease import OutboxSender

    expired = now - timedelta(seconds=1)
    found: dict = {}
    for model, mailbox in ((Mailbox, Mailbox.id), (OutboxSender, OutboxSender.mailbox),
                           (OutboxEmail, OutboxEmail.mailbox)):
        held = list(model.select(model.lease_owner, mailbox)
                    .where(model.lease_owner.startswith(MACHINE + "/") & (model.lease_until > now))
                    .tuples())
        dead = {owner for owner, _ in held if dead_here(owner)}
        if dead:
            model.update(lease_until=expired).where(model.lease_owner.in_(list(dead))).execute()
        found[model] = {box for owner, box in held if owner in dead and box is not None}
    if any(found.values()):
        log.info("took over from ended workers: checks of %s, sending of %s",
                 sorted(found[Mailbox]), sorted(found[OutboxSender] | found[OutboxEmail]))
    return found[Mailbox], found[OutboxSender] | found[OutboxEmail]
