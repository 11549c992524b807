"""Connecting, reconnecting, updating, disabling and deleting mailboxes: the domain rules
views call after the provider (or the mail servers) have said yes.

Status changes go through models.health.transition, never by assignment.
"""

from datetime import timedelta

import clock
from models import changes, health
from models.base import write_transaction
from models.checks import Settings, spread_first_check
from models.crypto import SecretUnreadable
from models.mailboxes import (
    CHECKING,
    CONNECTED,
    DEGRADED,
    DISABLED,
    OTHER,
    Mailbox,
    refresh_token_fields,
)

REMOVED = "removed"  # the event kind of a deletion: handlers tell "removed" from "disabled"


class DuplicateMailbox(Exception):
    """The team already has this address connected (and this is not a reconnect)."""


def _claim_row(team, email: str, mailbox_id: int | None) -> Mailbox:
    """The row to store a connection in: the mailbox being reconnected, a deleted mailbox of
    the same address (re-adding re-attaches its sequences and history), or a new one."""
    existing = Mailbox.get_or_none((Mailbox.team == team) & (Mailbox.email == email))
    if mailbox_id is not None:
        if existing is None or existing.id != mailbox_id:
            raise ValueError("reconnect target does not match")  # views check this first
        return existing
    if existing is not None and existing.deleted_at is None:
        raise DuplicateMailbox(email)
    return existing or Mailbox(team=team, email=email, status=CHECKING)


def save_oauth(team, user, provider, email: str, tokens, *, subject=None, mailbox_id=None,
               degraded_by=None):
    """Store a consent's tokens and mark the mailbox connected (or degraded if the first mail
    check hit an outage). `subject`: the ID token's (iss, sub), which push signals name.
    Returns the mailbox."""

    def fill(mailbox, now):
        mailbox.provider = provider.key
        mailbox.access_token = tokens.access_token
        if tokens.refresh_token:  # a reconnect without a new refresh token keeps the old one
            for field, value in refresh_token_fields(tokens.refresh_token).items():
                setattr(mailbox, field.name, value)
        mailbox.access_expires_at = now + timedelta(seconds=tokens.expires_in)
        mailbox.scopes = tokens.scope
        mailbox.consented_at = mailbox.refreshed_at = now
        if subject and subject[1]:
            mailbox.openid_iss, mailbox.openid_sub = subject

    return _store(team, user, email, mailbox_id, degraded_by, fill)


def save_other(team, user, email: str, settings: dict, password: str, *, mailbox_id=None,
               degraded_by=None):
    """Store Other Provider credentials that passed the connection test."""

    def fill(mailbox, now):
        mailbox.provider = OTHER
        for name in ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
                     "smtp_security", "username"):
            setattr(mailbox, name, settings[name])
        mailbox.password = password

    return _store(team, user, email, mailbox_id, degraded_by, fill)


# What a stored Other Provider password was saved for (with the mailbox's address).
SAVED_FOR = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
             "smtp_security", "username")
PASSWORD_AGAIN = "Enter the password again to use it with a different server."


def stored_password(mailbox, settings: dict) -> tuple[str | None, str]:
    """The mailbox's stored password for these server settings, or (None, why not in words).

    A stored secret only ever goes to the hosts, ports, security and username it was saved
    for: whoever changes any of them — an owner or admin managing a member's mailbox, say —
    types the password again, so nobody can have Tether sign in to a server of their own with
    someone else's password."""
    saved = {name: getattr(mailbox, name) for name in SAVED_FOR}
    saved["username"] = saved["username"] or mailbox.email
    if any(settings.get(name) != value for name, value in saved.items()):
        return None, PASSWORD_AGAIN
    if mailbox.password is None:
        return None, "Enter the mailbox's password (or app password)."
    try:
        return mailbox.password.reveal(), ""
    except SecretUnreadable:
        return None, "Tether cannot read the stored password any more. Enter it again."


def _store(team, user, email, mailbox_id, degraded_by, fill):
    """The rules both kinds share: which row, who connected it, undeleting, the first check's
    outcome, and the status change — in one transaction."""
    now = clock.now()
    with write_transaction():
        mailbox = _claim_row(team, email, mailbox_id)
        if mailbox.id is None or mailbox.deleted_at is not None:
            mailbox.connected_by = user
        mailbox.deleted_at = None
        fill(mailbox, now)
        mailbox.last_check_at = now
        if degraded_by is None:
            mailbox.last_success_at = now
        mailbox.save()
        _settle(mailbox, user, degraded_by)
    return mailbox


def _settle(mailbox, user, degraded_by):
    """After new credentials: connected, or degraded when the first check met an outage."""
    if degraded_by is not None:
        health.transition(mailbox.id, DEGRADED, failure=degraded_by)
    else:
        health.transition(mailbox.id, CONNECTED, actor=user,
                          cause=f"Connected by {user.display_name}.")
    spread_first_check(mailbox.id, Settings(interval=timedelta(seconds=check_interval())))
    changes.bump(mailbox.team_id)


def check_interval() -> float:
    import config

    return config.current()["CHECK_INTERVAL_SECONDS"]


def disable(mailbox, actor):
    return health.transition(mailbox.id, DISABLED, actor=actor,
                             cause=f"Disabled by {actor.display_name}.")


def enable(mailbox, actor):
    """Back to checking: the next check decides whether it is connected."""
    event = health.transition(mailbox.id, CHECKING, actor=actor,
                              cause=f"Enabled by {actor.display_name}.")
    Mailbox.update(next_check_at=clock.now()).where(Mailbox.id == mailbox.id).execute()
    return event


def delete(mailbox, actor):
    """Erase the credentials and hide the mailbox; its history stays and re-adding the same
    address brings it back. Returns the tokens to revoke at the provider (best effort, after
    the transaction, by the caller)."""
    to_revoke, stored = [], Mailbox.get_by_id(mailbox.id)  # as stored: sealed values
    for sealed in (stored.refresh_token, stored.access_token):
        try:
            if sealed:
                to_revoke.append(sealed.reveal())
        except SecretUnreadable:
            pass  # nothing we can revoke; erasing still happens
    with write_transaction():
        health.transition(mailbox.id, DISABLED, actor=actor, kind=REMOVED,
                          cause=f"Removed by {actor.display_name}.")
        fresh = Mailbox.get_by_id(mailbox.id)
        fresh.erase_credentials()
        fresh.deleted_at = clock.now()
        fresh.save()
        changes.bump(fresh.team_id)
    return to_revoke
