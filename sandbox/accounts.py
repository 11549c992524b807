"""What the provider's admin and the mailbox user can do to an account and its app access.

Every change that should stop a token works through the database alone: Dovecot asks the
introspection endpoint at each login, so nothing is reloaded. Only password (Other Provider)
users live in a passwd-file as well, rewritten here when they change.
"""

import json
import os
import re
import secrets
import shutil
import threading
import uuid
from pathlib import Path

from sandbox import store
from sandbox.store import (
    AccessToken,
    AuthCode,
    Client,
    Grant,
    RefreshToken,
    TokenRefresh,
    User,
    db,
    now,
)

SYSTEM_EMAIL = "tether-system@sandbox.test"
_EMAIL = re.compile(r"^[^@\s:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")

_passwd_file: Path | None = None
_mail_root: Path | None = None


class AccountError(ValueError):
    """Bad input from the control API or a page (unknown kind, taken address…)."""


def configure(passwd_file: Path | None, mail_root: Path | None) -> None:
    global _passwd_file, _mail_root
    _passwd_file, _mail_root = passwd_file, mail_root


# -- users --------------------------------------------------------------------------------------

def create_user(email: str, password: str, kind: str = "google", name: str | None = None) -> User:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    if kind not in store.USER_KINDS:
        raise AccountError(f"kind must be one of {', '.join(store.USER_KINDS)}")
    if not password:
        raise AccountError("a password is required")
    if User.find(email):
        raise AccountError(f"{email} already exists")
    user = User.create(
        email=email,
        name=name or email.partition("@")[0].replace(".", " ").title(),
        kind=kind,
        password_hash=store.hash_password(password),
        created_at=now(),
    )
    sync_password_file()
    return user


def delete_user(user: User) -> None:
    user.delete_instance(recursive=True)
    sync_password_file()


def change_password(user: User, password: str) -> None:
    """A new password kills every token of the account, as at Google and Microsoft."""
    if not password:
        raise AccountError("a password is required")
    with db.atomic():
        user.password_hash = store.hash_password(password)
        user.save()
        kill_tokens(user, "password_changed")
    sync_password_file()


def expire_tokens(user: User) -> None:
    kill_tokens(user, "expired")


def set_mail_enabled(user: User, enabled: bool) -> None:
    """IMAP/SMTP access on or off: tokens stay valid, the mail login is refused."""
    user.mail_enabled = enabled
    user.save()
    sync_password_file()


def require_consent(user: User) -> None:
    """An admin changed what the app may do: the grants end and the next sign-in asks again."""
    with db.atomic():
        user.require_consent = True
        user.save()
        remove_access(user, reason="consent_required")


def require_signin(user: User) -> None:
    """A session-control policy: refresh tokens stop (invalid_rapt) until the user signs in."""
    with db.atomic():
        user.require_signin = True
        user.save()
        kill_tokens(user, "signin_required", access=False)


def kill_tokens(user: User, reason: str, access: bool = True, refresh: bool = True) -> None:
    grants = Grant.select(Grant.id).where(Grant.user == user)
    for model, wanted in ((AccessToken, access), (RefreshToken, refresh)):
        if wanted:
            (model.update(dead_at=now(), dead_reason=reason)
             .where(model.grant.in_(grants), model.dead_at.is_null())
             .execute())


def revoke_refresh_token(user: User, token: str | None = None,
                         client: Client | None = None) -> RefreshToken:
    """One refresh token of the user dies — `token` itself, or the newest live one `client`
    holds — and Google then answers it invalid_grant, "Token has been expired or revoked.".
    Access tokens already issued live until they expire, as when Google drops the oldest of
    more than 100 refresh tokens: only a refresh finds out (why a signal-forced check always
    refreshes). The user's other grants, and other apps, live on."""
    query = (RefreshToken.select(RefreshToken, Grant).join(Grant)
             .where(Grant.user == user, Grant.removed_at.is_null(), RefreshToken.dead_at.is_null()))
    if token is not None:
        query = query.where(RefreshToken.token == token)
    if client is not None:
        query = query.where(Grant.client == client)
    row = query.order_by(RefreshToken.issued_at.desc(), RefreshToken.id.desc()).first()
    if row is None:
        raise AccountError(f"{user.email} has no such live refresh token")
    RefreshToken.update(dead_at=now(), dead_reason="revoked").where(
        RefreshToken.id == row.id).execute()
    return row


def kill_access_tokens(tokens, reason: str) -> int:
    """These access tokens die now (refused at the next login); refresh tokens live on."""
    tokens = list(tokens)
    if not tokens:
        return 0
    return (AccessToken.update(dead_at=now(), dead_reason=reason)
            .where(AccessToken.token.in_(tokens), AccessToken.dead_at.is_null())
            .execute())


def refresh_count(user: User) -> int:
    """How many times the user's refresh tokens were used successfully."""
    return TokenRefresh.select().join(Grant).where(Grant.user == user).count()


# -- grants ("Apps with access") ----------------------------------------------------------------

def create_grant(user: User, client: Client, scope: str) -> Grant:
    return Grant.create(user=user, client=client, scope=scope, granted_at=now())


def remove_access(user: User, client: Client | None = None, reason: str = "access_removed") -> int:
    """End the user's grants (to one client or all): every token from them dies with them."""
    query = Grant.update(removed_at=now(), removed_reason=reason).where(
        Grant.user == user, Grant.removed_at.is_null())
    if client is not None:
        query = query.where(Grant.client == client)
    return query.execute()


def revoke_grant(grant: Grant, reason: str = "revoked") -> None:
    """RFC 7009: revoking either token of a grant ends the whole grant, as Google does."""
    if grant.removed_at is None:
        grant.removed_at, grant.removed_reason = now(), reason
        grant.save()


def apps_with_access(user: User) -> list[dict]:
    """The clients this user has a live grant for, one entry each, newest consent first."""
    apps: dict[int, dict] = {}
    grants = (Grant.select(Grant, Client).join(Client)
              .where(Grant.user == user, Grant.removed_at.is_null())
              .order_by(Grant.granted_at.desc()))
    for grant in grants:
        entry = apps.setdefault(grant.client.id, {
            "client": grant.client, "granted_at": grant.granted_at, "scopes": set()})
        entry["scopes"].update(grant.scope.split())
    return list(apps.values())


# -- clients ------------------------------------------------------------------------------------

def rotate_secret(client: Client) -> str:
    """A new secret; the old one is then answered as expired (Microsoft's AADSTS7000222)."""
    client.retired_secret = client.client_secret
    client.client_secret = "sbx-" + secrets.token_urlsafe(24)
    client.save()
    return client.client_secret


def set_redirect_uris(client: Client, uris: list[str]) -> None:
    if not isinstance(uris, list) or not all(isinstance(u, str) and u for u in uris):
        raise AccountError("redirect_uris must be a list of URLs")
    client.redirect_uris_json = json.dumps(uris)
    client.save()


def set_testing(client: Client, enabled: bool) -> None:
    if client.flavour != "google":
        raise AccountError("only Google has a 'Testing' publishing status")
    client.testing = enabled
    client.save()


def ensure_clients(tether_url: str) -> None:
    """Register Tether once per flavour (and the mail server's introspection credential)."""
    redirect = json.dumps([tether_url.rstrip("/") + "/oauth/callback"])
    names = {"google": "Tether (Google sandbox)", "microsoft": "Tether (Microsoft sandbox)",
             "mailserver": "Sandbox mail server"}
    for key, flavour in (("google", "google"), ("microsoft", "microsoft"),
                         ("mailserver", "resource")):
        client = Client.get_or_none(Client.key == key)
        if client is None:
            secret = "sbx-" + secrets.token_urlsafe(24)
            client_id = (f"{secrets.token_hex(6)}-sandbox.apps.googleusercontent.com"
                         if flavour == "google" else str(uuid.uuid4()))
            client = Client.create(key=key, name=names[key], flavour=flavour,
                                   client_id=client_id, client_secret=secret,
                                   initial_secret=secret)
        if flavour != "resource" and client.initial_redirect_uris_json != redirect:
            # --tether-url moved: the new callback becomes the default that a reset restores.
            client.initial_redirect_uris_json = client.redirect_uris_json = redirect
            client.save()


def ensure_system_user() -> tuple[User, str]:
    """The system mailer's account (password login), with a password kept across restarts."""
    password = store.kept_secret("system_password", lambda: secrets.token_urlsafe(18))
    user = User.find(SYSTEM_EMAIL)
    if user is None:
        user = create_user(SYSTEM_EMAIL, password, kind="system", name="Tether")
    return user, password


# -- reset --------------------------------------------------------------------------------------

def reset() -> None:
    """Back to a fresh start for tests: no users, grants, tokens or mail; clients as registered."""
    with db.atomic():
        for model in (AccessToken, RefreshToken, AuthCode, TokenRefresh, Grant):
            model.delete().execute()
        User.delete().where(User.kind != "system").execute()
        User.update(mail_enabled=True, require_consent=False, require_signin=False).execute()
        system, password = ensure_system_user()
        if not system.check_password(password):  # sandbox.json's password must work again
            system.password_hash = store.hash_password(password)
            system.save()
        for client in Client.select():
            client.client_secret = client.initial_secret
            client.retired_secret = None
            client.redirect_uris_json = client.initial_redirect_uris_json
            client.testing = False
            client.save()
    store.set_clock_offset(0)
    sync_password_file()
    if _mail_root and _mail_root.is_dir():
        for child in _mail_root.iterdir():
            shutil.rmtree(child, ignore_errors=True)


# -- Dovecot's passwd-file for password users ---------------------------------------------------

def sync_password_file() -> None:
    """Rewrite the passwd-file Dovecot reads for PLAIN/LOGIN (Other Provider and system users).

    Dovecot reloads it when its mtime or size changes; a same-length rewrite within one second
    would go unnoticed, so the mtime is always moved forward.
    """
    if _passwd_file is None:
        return
    with _passwd_lock:  # control calls arrive on many threads; one writer at a time
        _write_password_file()


_passwd_lock = threading.Lock()


def _write_password_file() -> None:
    users = User.select().where(User.kind.in_(store.PASSWORD_KINDS), User.mail_enabled == True)  # noqa: E712
    lines = [f"{u.email}:{u.password_hash}::::::\n" for u in users.order_by(User.email)]
    tmp = _passwd_file.with_suffix(".tmp")
    tmp.write_text("".join(lines))
    tmp.chmod(0o644)  # Dovecot's auth process reads it
    previous = _passwd_file.stat().st_mtime if _passwd_file.exists() else 0
    stamp = max(previous + 1, os.path.getmtime(tmp))
    os.utime(tmp, (stamp, stamp))
    os.replace(tmp, _passwd_file)
