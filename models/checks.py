"""A mailbox health check (DESIGN §3): refresh the token when due, IMAP login + NOOP, SMTP EHLO
+ AUTH, then one state-machine call and the next check's time.

Runs under a lease in the database (owner + expiry, kept by a heartbeat; models/leases.py) so
any number of consumers on any number of machines can share the work, and a consumer killed
mid-check only delays the next one until the short lease expires. Network I/O happens outside
transactions; what a check learnt is written in one short transaction at its end.
"""

import random
from dataclasses import dataclass
from datetime import timedelta

import clock
from mail import oauth
from mail.connect import Login, Server
from mail.failures import TOKEN_EXPIRED_OR_REVOKED, Failure, Kind, MailError, undecryptable
from mail.hosts import HostPolicy
from mail.probe import probe
from models import check_history, health, leases, replies
from models.base import db, write_transaction
from models.crypto import SecretUnreadable
from models.mailboxes import CONNECTED, DISABLED, RECONNECT_REQUIRED, Mailbox

LEASE = leases.LEASE  # short: a heartbeat keeps it while a slow check runs
REFRESH_MARGIN = timedelta(minutes=5)   # refresh shortly before the access token expires
MAX_BACKOFF = timedelta(hours=1)
RECHECK_REFUSED = timedelta(hours=1)    # valid token, mail server said no (IMAP switched off)


@dataclass
class Settings:
    interval: timedelta = timedelta(minutes=5)


def acquire(mailbox_id: int, owner: str) -> bool:
    """Take the mailbox's lease if it is free or expired. One UPDATE: atomic everywhere."""
    now = clock.now()
    taken = (Mailbox.update(lease_owner=owner, lease_until=now + LEASE)
             .where((Mailbox.id == mailbox_id)
                    & (Mailbox.lease_until.is_null() | (Mailbox.lease_until < now)))
             .execute())
    return taken == 1


def renew(mailbox_id: int, owner: str) -> None:
    (Mailbox.update(lease_until=clock.now() + LEASE)
     .where((Mailbox.id == mailbox_id) & (Mailbox.lease_owner == owner)).execute())


def release(mailbox_id: int, owner: str) -> None:
    (Mailbox.update(lease_owner="", lease_until=None)
     .where((Mailbox.id == mailbox_id) & (Mailbox.lease_owner == owner)).execute())


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


def spread_first_check(mailbox_id: int, settings: Settings) -> None:
    """Put a mailbox's first periodic check at a random point of the interval, so that ten
    thousand mailboxes never fire in the same second."""
    offset = timedelta(seconds=random.uniform(0, settings.interval.total_seconds()))
    Mailbox.update(next_check_at=clock.now() + offset).where(Mailbox.id == mailbox_id).execute()


class Checker:
    """Runs checks with a provider catalog (mail.providers.Catalog) and check settings."""

    def __init__(self, catalog, settings: Settings | None = None, tls=None):
        self.catalog = catalog
        self.settings = settings or Settings()
        self.tls = tls

    def check(self, mailbox_id: int, *, force: bool = False):
        """Check one mailbox. Returns the next check time, or None if it was skipped or needs
        no further checks (dead refresh token, disabled, deleted)."""
        owner = leases.new_owner()
        if not acquire(mailbox_id, owner):
            return None  # another consumer is on it
        recorded = False
        try:
            mailbox = Mailbox.get_or_none(Mailbox.id == mailbox_id)
            if mailbox is None or mailbox.deleted_at or mailbox.status == DISABLED:
                return None
            if not force and mailbox.next_check_at and mailbox.next_check_at > clock.now() + timedelta(seconds=1):
                # Checked already (a forced check, or the sweep's duplicate): the task that
                # check scheduled carries on, so this one ends without scheduling another.
                return None
            if mailbox.status == RECONNECT_REQUIRED and mailbox.status_where not in ("IMAP", "SMTP"):
                return self._schedule(mailbox_id, None)  # dead token: wait for the person
            inbox = replies.InboxFetch(mailbox)
            with leases.Heartbeat(lambda: renew(mailbox_id, owner)):
                failure = self._run(mailbox, inbox)
            next_at = self._record(mailbox, failure, inbox, owner)
            recorded = True  # its transaction let go of the lease
            return next_at
        finally:
            if not recorded:
                release(mailbox_id, owner)

    def _run(self, mailbox: Mailbox, inbox):
        """The check's network part. Returns the deciding failure, or None when all passed."""
        try:
            if not mailbox.is_oauth:
                login = Login(address=mailbox.email, username=mailbox.username,
                              password=mailbox.password.reveal() if mailbox.password else "")
                return self._probe(mailbox, login, inbox).worst
            provider = self.catalog.get(mailbox.provider)
            if provider is None:
                return _unconfigured(mailbox.provider)
            token, fresh = mailbox.access_token, False
            expires = mailbox.access_expires_at
            if token is None or expires is None or expires - REFRESH_MARGIN <= clock.now():
                token, fresh = self.refresh(mailbox, provider), True
            else:
                token = token.reveal()
            result = self._probe(mailbox, Login(address=mailbox.email, access_token=token, fresh=fresh),
                                 inbox, provider=provider)
            if not fresh and _refused(result):
                # A refusal of a token we did not just refresh proves nothing: refresh, retry.
                token = self.refresh(Mailbox.get_by_id(mailbox.id), provider)
                result = self._probe(mailbox, Login(address=mailbox.email, access_token=token),
                                     inbox, provider=provider)
            return result.worst
        except MailError as e:
            return e.failure
        except SecretUnreadable:
            return undecryptable()

    def _probe(self, mailbox, login, inbox, provider=None):
        """Provider servers for OAuth mailboxes, the stored ones for Other Provider — vetted
        against today's host settings as they connect. The reply fetch rides on the check's
        IMAP session: one login per mailbox per cycle."""
        source, policy = (provider, None) if provider else (mailbox, host_policy(self.catalog))
        return probe(Server(source.imap_host, source.imap_port, source.imap_security, policy),
                     Server(source.smtp_host, source.smtp_port, source.smtp_security, policy),
                     login, on_imap=inbox)

    def refresh(self, mailbox: Mailbox, provider) -> str:
        """Refresh and persist. The lease makes us the only refresher of this mailbox; we still
        re-read the stored token first, because a reconnect may have replaced it meanwhile —
        and again after a refusal that asks for a reconnect: if the stored token changed
        while ours was on its way (a reconnect, a consumer whose lease ran out), the newer
        one gets one try before anyone is told to reconnect (rclone's lock + re-read)."""
        current = Mailbox.get_by_id(mailbox.id)
        if current.refresh_token is None:
            raise MailError(_no_refresh_token())
        used = current.refresh_token.reveal()
        try:
            tokens = oauth.refresh(provider, used)
        except MailError as e:
            if e.failure.kind is not Kind.RECONNECT:
                raise
            stored = Mailbox.get_by_id(mailbox.id).refresh_token
            if stored is None or stored.reveal() == used:
                raise
            tokens = oauth.refresh(provider, stored.reveal())
        now = clock.now()
        with db.atomic():
            # Persist a rotated refresh token before the new access token is used anywhere.
            fields = {Mailbox.access_token: tokens.access_token,
                      Mailbox.access_expires_at: now + timedelta(seconds=tokens.expires_in),
                      Mailbox.refreshed_at: now}
            if tokens.refresh_token:
                fields[Mailbox.refresh_token] = tokens.refresh_token
            Mailbox.update(fields).where(Mailbox.id == mailbox.id).execute()
        return tokens.access_token

    def _record(self, mailbox: Mailbox, failure, inbox, owner: str):
        """Everything the check learnt, in one short write transaction: the hourly count, the
        INBOX cursor, the state machine's call, the next check's time and the lease let go.
        SQLite has one writer at a time, so a healthy check costs the pages and the other
        checks one short wait instead of several (its lease taken before was the other)."""
        now = clock.now()
        with write_transaction():
            check_history.record(mailbox.id, "passed" if failure is None else
                                 "refused" if failure.kind is Kind.RECONNECT else "transient")
            inbox.save()
            if failure is None:
                next_at = now + self._jittered(self.settings.interval)
                bookkeeping = {Mailbox.failures_in_a_row: 0, Mailbox.next_check_at: next_at}
                if mailbox.status == RECONNECT_REQUIRED:  # the mail server lets us in again
                    Mailbox.update({**bookkeeping, Mailbox.last_success_at: now,
                                    Mailbox.last_check_at: now}).where(Mailbox.id == mailbox.id).execute()
                    health.transition(mailbox.id, CONNECTED, cause="The mail server accepts Tether again.",
                                      only_from={RECONNECT_REQUIRED})  # not one disabled meanwhile
                else:
                    health.record_success(mailbox.id, bookkeeping)
            else:
                next_at = self._after_failure(mailbox, failure, now)
            release(mailbox.id, owner)
        return next_at

    def _after_failure(self, mailbox: Mailbox, failure, now):
        Mailbox.update(last_check_at=now, failures_in_a_row=Mailbox.failures_in_a_row + 1).where(
            Mailbox.id == mailbox.id).execute()
        health.record_failure(mailbox.id, failure)
        if failure.kind is Kind.RECONNECT:
            dead_token = failure.where not in ("IMAP", "SMTP")
            return self._schedule(mailbox.id, None if dead_token else now + RECHECK_REFUSED)
        return self._schedule(mailbox.id, now + self._backoff(mailbox.failures_in_a_row + 1))

    def _backoff(self, failures: int) -> timedelta:
        """Degraded mailboxes are retried soon, then less often, never less than hourly."""
        base = min(self.settings.interval, timedelta(minutes=1))
        return min(base * (2 ** min(failures - 1, 10)), MAX_BACKOFF, max(self.settings.interval, base))

    def _jittered(self, interval: timedelta) -> timedelta:
        return interval * random.uniform(0.9, 1.1)

    @staticmethod
    def _schedule(mailbox_id: int, when):
        Mailbox.update(next_check_at=when).where(Mailbox.id == mailbox_id).execute()
        return when


def host_policy(catalog) -> HostPolicy:
    """The rules for user-entered mail hosts in force now: the settings the provider catalog
    was built from (the worker's and the web app's own), else the configuration."""
    settings = getattr(catalog, "settings", None)
    if settings is None:
        import config

        settings = config.current()
    return HostPolicy.from_settings(settings)


def _refused(result) -> bool:
    return any(f is not None and f.stale_token for f in (result.imap, result.smtp))


def _unconfigured(key: str):
    return Failure(Kind.APP, "provider not configured", f"The {key} provider is not configured "
                   "on this server any more. An administrator must restore its settings.", "Tether")


def _no_refresh_token():
    return Failure(Kind.RECONNECT, "no refresh token", TOKEN_EXPIRED_OR_REVOKED, "token endpoint")

