"""People and teams: who may sign in, which team they belong to, and with which role."""

import hashlib
import secrets
import threading
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask_login import UserMixin
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

import clock
from models.base import Timestamped
from models.text import email_address

ROLES = ("owner", "admin", "member")
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
_dummy: str | None = None
_dummy_lock = threading.Lock()


def _dummy_hash() -> str:
    """What a login for an unknown address is verified against, so that a failed login
    takes as long either way and never tells whether an account exists. Made once, on first
    use (a hash costs as much as a login), not by every process that imports the models."""
    global _dummy
    if _dummy is None:
        with _dummy_lock:
            if _dummy is None:
                _dummy = _hasher.hash("not-a-real-password")
    return _dummy


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerifyMismatchError, InvalidHashError):
        return False


def normalize_email(email: str) -> str:
    """An address as it is stored, for looking it up: models.text.email_address's form, or —
    for what is no address at all — just trimmed and lower case (a look-up then finds
    nothing; refusing bad input is the forms' job, through email_address itself)."""
    try:
        return email_address(email)
    except ValueError:
        return (email or "").strip().lower()


def password_problem(password: str) -> str | None:
    """Why a new password is unacceptable, in the user's words; None if it is fine."""
    if not password or not password.strip():
        return "Choose a password."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(set(password)) < 4:
        return "That password is too easy to guess; mix more characters."
    return None


class Team(Timestamped):
    name = CharField()


class User(UserMixin, Timestamped):
    email = CharField(unique=True)
    name = CharField(default="")
    password_hash = CharField()
    team = ForeignKeyField(Team, backref="users", on_delete="CASCADE")
    role = CharField(default="member")
    active = BooleanField(default=True)  # False once they have left the team

    @property
    def is_active(self):  # Flask-Login: an inactive user cannot sign in
        return self.active

    # Part of every session's and remember-me cookie's id: bumping it ends them all, server
    # side, even where a copy of a cookie outlived its browser (sign out, sign out everywhere,
    # a new password).
    session_generation = IntegerField(default=0)

    def get_id(self):
        return f"{self.id}.{self.session_generation}"

    @classmethod
    def from_session_id(cls, session_id: str):
        """The active user a session or remember-me cookie names, if it is still current."""
        user_id, _, generation = (session_id or "").partition(".")
        if not (user_id.isdigit() and generation.isdigit()):
            return None  # also every cookie from before generations existed
        return cls.get_or_none((cls.id == int(user_id)) & (cls.active == True)  # noqa: E712
                               & (cls.session_generation == int(generation)))

    def end_sessions(self) -> None:
        """Sign this person out of every browser. An increment in SQL, so two at once both
        count; the caller re-signs in the one session that should stay, if any."""
        User.update(session_generation=User.session_generation + 1).where(
            User.id == self.id).execute()
        self.session_generation = (User.select(User.session_generation)
                                   .where(User.id == self.id).scalar())

    def change_password(self, password: str) -> None:
        """A new password, and every existing session ends with the old one."""
        self.set_password(password)
        self.save(only=[User.password_hash])
        self.end_sessions()

    @property
    def display_name(self):
        return self.name or self.email

    @property
    def is_admin(self):
        """Owners and admins manage all of the team's mailboxes and its members."""
        return self.role in ("owner", "admin")

    def set_password(self, password: str) -> None:
        """Store the password's hash (callers that replace a password use change_password)."""
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        ok = password_matches(self.password_hash, password)
        if ok and _hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
            self.save(only=[User.password_hash])
        return ok

    @classmethod
    def authenticate(cls, email: str, password: str):
        """The active user with these credentials, or None (same cost either way)."""
        # Made before the look-up, so even a process's first login costs the same whether
        # the address exists or not.
        dummy = _dummy_hash()
        user = cls.get_or_none(cls.email == normalize_email(email))
        if user is None:
            try:
                _hasher.verify(dummy, password or "")
            except VerifyMismatchError:
                pass
            return None
        if not user.check_password(password or "") or not user.active:
            return None
        return user

    @classmethod
    def sign_up(cls, email: str, password: str, name: str = "", team_name: str = ""):
        """A new team owned by a new user. Callers check the address is free first."""
        return cls.open_team(email, hash_password(password), name, team_name)

    @classmethod
    def open_team(cls, email: str, password_hash: str, name: str = "", team_name: str = ""):
        """A new team and its owner, from a password already hashed (a confirmed sign-up).
        Raises ValueError for an address that is none (the forms refuse it first)."""
        email = email_address(email)
        team = Team.create(name=team_name.strip() or f"{email.split('@')[-1]} team")
        return cls.create(email=email, name=name.strip(), team=team, role="owner",
                          password_hash=password_hash)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invite(Timestamped):
    """A single-use, expiring link that lets one person join a team with a role.

    Only the token's digest is stored: a database leak does not hand out working links.
    """

    team = ForeignKeyField(Team, backref="invites", on_delete="CASCADE")
    email = CharField()
    role = CharField(default="member")
    token_digest = CharField(unique=True)
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    expires_at = DateTimeField()
    accepted_at = DateTimeField(null=True)

    @classmethod
    def issue(cls, team, email, role, invited_by, ttl_hours: int):
        """Create an invite; returns (invite, token). The token is shown once, in the link.
        Raises ValueError for an address that is none (the invite form refuses it first)."""
        token = secrets.token_urlsafe(32)
        invite = cls.create(team=team, email=email_address(email), role=role,
                            token_digest=_digest(token), invited_by=invited_by,
                            expires_at=clock.now() + timedelta(hours=ttl_hours))
        return invite, token

    @classmethod
    def find(cls, token: str):
        return cls.get_or_none(cls.token_digest == _digest(token or ""))

    @property
    def usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > clock.now()

    def claim(self) -> bool:
        """Mark accepted exactly once, even when two requests race for the same link."""
        claimed = (Invite.update(accepted_at=clock.now())
                   .where((Invite.id == self.id) & Invite.accepted_at.is_null()
                          & (Invite.expires_at > clock.now()))
                   .execute())
        return claimed == 1
