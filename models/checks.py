"""A mailbox health check (DESIGN §3, as issue #17 made it): only what proves something.

- The token is refreshed when due (credentials: REFRESH_MARGIN before expiry), and always in a
  forced check — one a failed send or a push signal asked for: an access token can outlive
  a revocation, a refresh cannot.
- IMAP: log in, then one STATUS INBOX (UIDNEXT UIDVALIDITY) — the reply fetch's first command,
  which is the check's too; EXAMINE + SEARCH + FETCH only when something arrived.
- SMTP: EHLO + AUTH only when SMTP has not accepted this mailbox's login for SMTP_PROOF (a
  check's or a send's login: smtp_proven_at), or not since the mailbox last changed state, or
  when the mailbox is not connected, or in a forced check. What SMTP proves that the IMAP login
  does not is that the SMTP server lets this mailbox sign in; a refreshed token does not change
  that, a setting does — and a send it refuses forces a full check at once.
- A healthy check writes once: the lease is taken with UPDATE … RETURNING (the row read once
  and passed along), and one UPDATE stores counters, times, the next check and lets the lease
  go, guarded by the status so that it also says nothing can change. The state machine is
  called only when the status must change. Hourly counts (check_history), the INBOX cursor
  (only when it moved) and a rotated token are the other writes. Hot statements are SQL built
  once (models.base.hot).

Runs under the mailbox's lease in the database (owner + expiry, models/credentials.py; kept by
a heartbeat, models/leases.py) so any number of consumers on any number of machines can share
the work, and a consumer killed mid-check only delays the next one until the short lease
expires. Network I/O happens outside transactions. When the next check falls is
next_check_at's rule; how a mailbox signs in — servers, token, refresh, the retry after a
stale token — is models/credentials.py's.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import clock
from mail.failures import Kind, MailError
from mail.probe import probe
from models import check_history, health, leases, replies
from models.base import hot, names, write_transaction
from models.credentials import Credentials, release, renew
from models.mailboxes import CONNECTED, DISABLED, RECONNECT_REQUIRED, Mailbox

MAX_BACKOFF = timedelta(hours=1)
RECHECK_REFUSED = timedelta(hours=1)    # valid token, mail server said no (IMAP switched off)
SMTP_PROOF = timedelta(hours=1)         # SMTP is proven again when its last proof is older
JITTER = 0.1  # a healthy mailbox's next check falls in the last tenth of the interval
_draw = random.random  # the jitter's random source, in [0, 1); tests force its extremes


class LeaseHeld(Exception):
    """A forced check found another check of the mailbox under way. That one may not refresh
    (its token still valid) and so miss what forced this one: the caller tries again soon."""


@dataclass
class Settings:
    interval: timedelta = timedelta(minutes=5)


def due_ids(limit: int = 5000, grace: timedelta = timedelta(0)) -> list[int]:
    """Mailboxes whose check is overdue and not leased (the periodic sweep's question)."""
    now = clock.now()
    query = (Mailbox.select(Mailbox.id)
             .where(Mailbox.deleted_at.is_null() & (Mailbox.status != DISABLED)
                    & Mailbox.next_check_at.is_null(False)
                    & (Mailbox.next_check_at <= now - grace)
                    & (Mailbox.lease_until.is_null() | (Mailbox.lease_until < now)))
             .order_by(Mailbox.next_check_at).limit(limit))
    return [row[0] for row in query.tuples()]


def next_check_at(checked_at: datetime, interval: timedelta, spread: float = JITTER) -> datetime:
    """The one rule for when a mailbox is checked next: at a random point of the last `spread`
    of the interval after `checked_at` (the moment the previous check began), so thousands of
    mailboxes never fire in the same second, and never later than `checked_at + interval`:
    jitter only ever brings a check forward, and the draw is clamped so no random source can
    break that. A revocation made just after a check is seen within interval + the queue's
    pickup + one check (≈ 0.3–0.5 s against the sandbox). Pickup: Huey's scheduler looks once
    a second; then Redis wakes a worker at once, while an idle SQLite worker polls as often as
    its `-m` (max delay, Huey's default 10 s). A task lost with its worker waits for the sweep:
    tasks/checks.py SWEEP_GRACE (30 s) + its 60 s cadence more."""
    fraction = min(max(_draw(), 0.0), 1.0)
    return checked_at + interval * (1 - spread * fraction)


def spread_first_check(mailbox_id: int, settings: Settings) -> None:
    """Put a mailbox's first periodic check at a random point of the interval after connecting
    (itself a check), so that ten thousand mailboxes never fire in the same second."""
    first = next_check_at(clock.now(), settings.interval, spread=1.0)
    Mailbox.update(next_check_at=first).where(Mailbox.id == mailbox_id).execute()


class Checker:
    """Runs checks with a provider catalog (mail.providers.Catalog) and check settings."""

    def __init__(self, catalog, settings: Settings | None = None):
        self.catalog = catalog
        self.credentials = Credentials(catalog)
        self.settings = settings or Settings()

    def check(self, mailbox_id: int, *, force: bool = False):
        """Check one mailbox. Returns the next check time, or None if it was skipped or needs
        no further checks (dead refresh token, disabled, deleted)."""
        owner = leases.new_owner()
        mailbox = _take(mailbox_id, owner)
        if mailbox is None:
            if force and Mailbox.select().where(Mailbox.id == mailbox_id).exists():
                raise LeaseHeld()
            return None  # another consumer is on it, or it is gone
        recorded = False
        try:
            if mailbox.deleted_at or mailbox.status == DISABLED:
                return None
            if not force and mailbox.next_check_at and mailbox.next_check_at > clock.now() + timedelta(seconds=1):
                # Checked already (a forced check, or the sweep's duplicate): the task that
                # check scheduled carries on, so this one ends without scheduling another.
                return None
            if mailbox.status == RECONNECT_REQUIRED and mailbox.status_where not in ("IMAP", "SMTP"):
                return self._schedule(mailbox_id, None)  # dead token: wait for the person
            inbox = replies.InboxFetch(mailbox)
            started = clock.now()  # the next check counts from here: what it saw began now
            smtp = force or _smtp_due(mailbox, started)
            with leases.Heartbeat(lambda: renew(mailbox_id, owner)):
                failure = self._run(mailbox, inbox, smtp=smtp, force=force)
            next_at = self._record(mailbox, failure, inbox, owner, started, smtp)
            recorded = True  # its transaction let go of the lease
            return next_at
        finally:
            if not recorded:
                release(mailbox_id, owner)

    def _run(self, mailbox: Mailbox, inbox, *, smtp: bool, force: bool):
        """The check's network part. Returns the deciding failure, or None when all passed.
        The reply fetch rides on the check's IMAP session: one login per mailbox per cycle."""
        try:
            imap_server, smtp_server = self.credentials.servers(mailbox)
            smtp_server = smtp_server if smtp else None
            result = self.credentials.signed_in(
                mailbox, lambda login: probe(imap_server, smtp_server, login, on_imap=inbox),
                leased=True, refused=_refused, refresh=force and mailbox.is_oauth)
            return result.worst
        except MailError as e:
            return e.failure

    def _record(self, mailbox: Mailbox, failure, inbox, owner: str, started: datetime,
                smtp: bool):
        """Everything the check learnt, in one short write transaction: the hourly count, the
        INBOX cursor if it moved, the mailbox row with the next check's time (from `started`,
        so the check's own duration never pushes the next one later) and the lease let go.
        A connected mailbox that passed needs one UPDATE of its row and no state machine."""
        now = clock.now()
        with write_transaction():
            check_history.record(mailbox.id, "passed" if failure is None else
                                 "refused" if failure.kind is Kind.RECONNECT else "transient")
            inbox.save()
            if failure is None:
                next_at = next_check_at(started, self.settings.interval)
                if not _passed(mailbox.id, owner, now, next_at, now if smtp else None):
                    self._passed_with_change(mailbox, now, next_at, smtp)
                    release(mailbox.id, owner)
            else:
                next_at = self._after_failure(mailbox, failure, now)
                release(mailbox.id, owner)
        return next_at

    @staticmethod
    def _passed_with_change(mailbox: Mailbox, now: datetime, next_at: datetime, smtp: bool):
        """A passed check of a mailbox that was not connected: its status changes."""
        bookkeeping = {Mailbox.failures_in_a_row: 0, Mailbox.next_check_at: next_at}
        if smtp:
            bookkeeping[Mailbox.smtp_proven_at] = now
        if mailbox.status == RECONNECT_REQUIRED:  # the mail server lets us in again
            Mailbox.update({**bookkeeping, Mailbox.last_success_at: now,
                            Mailbox.last_check_at: now}).where(Mailbox.id == mailbox.id).execute()
            health.transition(mailbox.id, CONNECTED, cause="The mail server accepts Tether again.",
                              only_from={RECONNECT_REQUIRED})  # not one disabled meanwhile
        else:
            health.record_success(mailbox.id, bookkeeping)

    def _after_failure(self, mailbox: Mailbox, failure, now):
        """A failed check: red waits for the person (or looks again hourly at a mail server
        that refused a valid token); amber retries after a backoff never longer than the
        interval, counted from the check's end: a server that makes each attempt time out
        must not be retried back to back."""
        Mailbox.update(last_check_at=now, failures_in_a_row=Mailbox.failures_in_a_row + 1).where(
            Mailbox.id == mailbox.id).execute()
        health.record_failure(mailbox.id, failure)
        if failure.kind is Kind.RECONNECT:
            dead_token = failure.where not in ("IMAP", "SMTP")
            return self._schedule(mailbox.id, None if dead_token else now + RECHECK_REFUSED)
        return self._schedule(mailbox.id, now + self._backoff(mailbox.failures_in_a_row + 1))

    def _backoff(self, failures: int) -> timedelta:
        """Degraded mailboxes are retried soon, then less often: at most hourly, and never
        later than the interval (a degraded mailbox can be revoked too)."""
        base = min(self.settings.interval, timedelta(minutes=1))
        return min(base * (2 ** min(failures - 1, 10)), MAX_BACKOFF, max(self.settings.interval, base))

    @staticmethod
    def _schedule(mailbox_id: int, when):
        Mailbox.update(next_check_at=when).where(Mailbox.id == mailbox_id).execute()
        return when


def _smtp_due(mailbox: Mailbox, now: datetime) -> bool:
    proven = mailbox.smtp_proven_at
    return (mailbox.status != CONNECTED or proven is None or proven < mailbox.status_since
            or now - proven >= SMTP_PROOF)


# The two statements every check runs on the mailbox row: SQL built once (models.base.hot).
@hot
def _take_sql(p):
    table, c = names(Mailbox)
    # Names come from the model and values are parameters: nothing here is user input.
    return (f"UPDATE {table} SET {c['lease_owner']} = {p}, {c['lease_until']} = {p} "  # noqa: S608
            f"WHERE {c['id']} = {p} AND ({c['lease_until']} IS NULL OR {c['lease_until']} < {p}) "
            "RETURNING *")


def _take(mailbox_id: int, owner: str) -> Mailbox | None:
    """Take the mailbox's lease if it is free or expired, and read its row in the same
    statement; None when someone holds it (or there is no such mailbox)."""
    now = clock.now()
    until = Mailbox.lease_until.db_value(now + leases.LEASE)
    rows = list(Mailbox.raw(_take_sql.sql(), owner, until, mailbox_id,
                            Mailbox.lease_until.db_value(now)))
    return rows[0] if rows else None


@hot
def _passed_sql(p):
    table, c = names(Mailbox)
    return (f"UPDATE {table} SET {c['last_success_at']} = {p}, {c['last_check_at']} = {p}, "  # noqa: S608
            f"{c['failures_in_a_row']} = 0, {c['next_check_at']} = {p}, "
            f"{c['smtp_proven_at']} = COALESCE({p}, {c['smtp_proven_at']}), "
            f"{c['lease_owner']} = '', {c['lease_until']} = NULL "
            f"WHERE {c['id']} = {p} AND {c['lease_owner']} = {p} AND {c['status']} = '{CONNECTED}'")


def _passed(mailbox_id: int, owner: str, now: datetime, next_at: datetime, smtp_at) -> bool:
    """A passed check of a connected mailbox, in one UPDATE that also lets the lease go.
    False when the mailbox is not connected (or the lease was lost): nothing written."""
    value = Mailbox.last_check_at.db_value
    cursor = _passed_sql(value(now), value(now), value(next_at), value(smtp_at), mailbox_id, owner)
    return cursor.rowcount == 1


def _refused(result) -> bool:
    return any(f is not None and f.stale_token for f in (result.imap, result.smtp))

