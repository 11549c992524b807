"""A working login for a mailbox: which servers, whether its token is due, refreshing it under
the mailbox's lease, and what to do when a server refuses it. The health check
(models/checks.py) and the sender's connections (models/mail_session.py, which also read the
INBOX for replies before sending) sign in through here and nowhere else.

The rules:
- Servers. An OAuth mailbox uses its provider's servers from the catalog, connected to by name
  (they come from configuration, not from a person). An Other Provider mailbox uses the servers
  stored with it, vetted against today's host settings at every connection (mail.connect).
- "Provider not configured": the mailbox's provider is missing from the catalog — the operator
  removed its settings. An APP failure; nothing the mailbox's owner can do.
- The token is used as stored until REFRESH_MARGIN before it expires; then it is refreshed
  before use.
- One refresher of a mailbox's token at a time: refreshing happens only under the mailbox's
  lease (Microsoft rotates refresh tokens; two refreshers would kill each other's). A health
  check holds that lease for its whole run; anyone else takes it for the refresh alone and,
  if a check has it, gets `Busy` and tries again shortly.
- Inside the lease the stored refresh token is read again (a reconnect may have replaced it),
  and again after a refusal that asks for a reconnect: a newer token stored meanwhile gets one
  try before anyone is told to reconnect (rclone's lock + re-read).
- A rotated refresh token is stored, with the new access token, before that access token is
  used anywhere; a provider that returns no new refresh token leaves the old one in place.
- A refusal of a token that was not refreshed just now proves nothing (mail.failures marks it
  `stale_token`): refresh once and try again. A refusal of a fresh token is the answer.
- Every failure is a classified mail.failures.Failure in a MailError; stored credentials that
  no configured key opens are `undecryptable()`, the operator's to fix.
"""

from collections.abc import Callable
from datetime import timedelta

import clock
from mail import oauth
from mail.connect import Login, Server
from mail.failures import TOKEN_EXPIRED_OR_REVOKED, Failure, Kind, MailError, undecryptable
from mail.hosts import HostPolicy
from models import leases
from models.base import db
from models.crypto import SecretUnreadable
from models.mailboxes import Mailbox, refresh_token_fields

REFRESH_MARGIN = timedelta(minutes=5)   # refresh shortly before the access token expires


class Busy(Exception):
    """A health check holds the mailbox's lease (it may be rotating the token)."""


# ---- The mailbox's lease: the one check, and the one refresher of its token --------------------

def acquire(mailbox_id: int, owner: str) -> bool:
    """Take the mailbox's lease if it is free or expired. One UPDATE: atomic everywhere."""
    now = clock.now()
    taken = (Mailbox.update(lease_owner=owner, lease_until=now + leases.LEASE)
             .where((Mailbox.id == mailbox_id)
                    & (Mailbox.lease_until.is_null() | (Mailbox.lease_until < now)))
             .execute())
    return taken == 1


def renew(mailbox_id: int, owner: str) -> None:
    (Mailbox.update(lease_until=clock.now() + leases.LEASE)
     .where((Mailbox.id == mailbox_id) & (Mailbox.lease_owner == owner)).execute())


def release(mailbox_id: int, owner: str) -> None:
    (Mailbox.update(lease_owner="", lease_until=None)
     .where((Mailbox.id == mailbox_id) & (Mailbox.lease_owner == owner)).execute())


# ---- Logins ----------------------------------------------------------------------------------

def _never(result) -> bool:
    return False


class Credentials:
    """Logins for mailboxes, with a provider catalog (mail.providers.Catalog)."""

    def __init__(self, catalog):
        self.catalog = catalog

    def servers(self, mailbox: Mailbox) -> tuple[Server, Server]:
        """The mailbox's (IMAP, SMTP) servers; MailError when its provider is not configured."""
        if mailbox.is_oauth:
            source, policy = self._provider(mailbox), None
        else:
            source, policy = mailbox, _host_policy(self.catalog)
        return (Server(source.imap_host, source.imap_port, source.imap_security, policy),
                Server(source.smtp_host, source.smtp_port, source.smtp_security, policy))

    def signed_in(self, mailbox: Mailbox, use: Callable, *, leased: bool,
                  refused: Callable = _never, refresh: bool = False):
        """`use(login)` with the stored login, and once more with a refreshed token when the
        server refused one that was not fresh — by raising MailError, or by a result that
        `refused(result)` says was refused. `leased`: the caller holds the mailbox's lease
        and read `mailbox` under it (that read is the re-read the rules ask for); otherwise
        the row is read again now (a check may have rotated the token meanwhile) and a refresh
        takes the lease, or raises Busy. `refresh`: refresh first even if the token is not due
        (a forced check: an access token can outlive a revocation)."""
        if not leased:
            mailbox = Mailbox.get_by_id(mailbox.id)
        try:
            result = use(self._login(mailbox, leased, refresh=refresh))
            if not refused(result):
                return result
        except MailError as e:
            if not e.failure.stale_token:
                raise
        return use(self._login(mailbox, leased, refresh=True))

    def _login(self, mailbox: Mailbox, leased: bool, refresh: bool = False) -> Login:
        try:
            if not mailbox.is_oauth:
                return Login(address=mailbox.email, username=mailbox.username,
                             password=mailbox.password.reveal() if mailbox.password else "")
            if refresh or _due(mailbox):
                return Login(address=mailbox.email, access_token=self._refresh(mailbox, leased),
                             fresh=True)
            return Login(address=mailbox.email, access_token=mailbox.access_token.reveal(),
                         fresh=False)
        except SecretUnreadable:
            raise MailError(undecryptable()) from None

    def _refresh(self, mailbox: Mailbox, leased: bool) -> str:
        provider = self._provider(mailbox)
        if leased:
            return _refresh_and_store(mailbox.id, provider, current=mailbox)
        owner = leases.new_owner()
        if not acquire(mailbox.id, owner):
            raise Busy()
        try:
            return _refresh_and_store(mailbox.id, provider)
        finally:
            release(mailbox.id, owner)

    def _provider(self, mailbox: Mailbox):
        provider = self.catalog.get(mailbox.provider)
        if provider is None:
            raise MailError(_unconfigured(mailbox.provider))
        return provider


def _due(mailbox: Mailbox) -> bool:
    expires = mailbox.access_expires_at
    return (mailbox.access_token is None or expires is None
            or expires - REFRESH_MARGIN <= clock.now())


def _refresh_and_store(mailbox_id: int, provider, current: Mailbox | None = None) -> str:
    """Refresh (under the mailbox's lease) and store, re-reading the stored token first (or
    using `current`, the row read when the lease was taken) and again after a refusal that
    asks for a reconnect."""
    current = current or Mailbox.get_by_id(mailbox_id)
    if current.refresh_token is None:
        raise MailError(_no_refresh_token())
    used = current.refresh_token.reveal()
    try:
        tokens = oauth.refresh(provider, used)
    except MailError as e:
        if e.failure.kind is not Kind.RECONNECT:
            raise
        stored = Mailbox.get_by_id(mailbox_id).refresh_token
        if stored is None or stored.reveal() == used:
            raise
        tokens = oauth.refresh(provider, stored.reveal())
    now = clock.now()
    with db.atomic():
        # Store a rotated refresh token before the new access token is used anywhere.
        fields = {Mailbox.access_token: tokens.access_token,
                  Mailbox.access_expires_at: now + timedelta(seconds=tokens.expires_in),
                  Mailbox.refreshed_at: now}
        if tokens.refresh_token:
            fields.update(refresh_token_fields(tokens.refresh_token))
        Mailbox.update(fields).where(Mailbox.id == mailbox_id).execute()
    return tokens.access_token


def _host_policy(catalog) -> HostPolicy:
    """The rules for user-entered mail hosts in force now: the settings the provider catalog
    was built from (the worker's and the web app's own), else the configuration."""
    settings = getattr(catalog, "settings", None)
    if settings is None:
        import config

        settings = config.current()
    return HostPolicy.from_settings(settings)


def needs_check(failure: Failure) -> bool:
    """Whether a failure met while sending asks for a health check now: anything but a blip,
    and a refused stale token (the check refreshes and tells a dead token from a blip)."""
    return failure.kind is not Kind.TRANSIENT or failure.stale_token


def _unconfigured(key: str) -> Failure:
    return Failure(Kind.APP, "provider not configured", f"The {key} provider is not configured "
                   "on this server any more. An administrator must restore its settings.", "Tether")


def _no_refresh_token() -> Failure:
    return Failure(Kind.RECONNECT, "no refresh token", TOKEN_EXPIRED_OR_REVOKED, "token endpoint")
