"""Sign-ups that never tell whether an address has an account.

The flow, and why:
- While the instance has nobody, the first sign-up creates its owner at once: there is no
  account whose existence could leak, and a fresh install needs no mailer to get started.
- Whether sign-up is open at all is TETHER_SIGNUP's (allowed() below): by default only the
  first person may; later people join by invite.
- Where later sign-ups are open ("open"), each answers the same "check your inbox", whatever
  the address. A new address gets a signed, expiring, single-use link that finishes the
  sign-up once the password chosen is typed again; an address that has an account gets an
  email telling its owner someone tried. Only the person who reads that inbox learns anything.

A pending sign-up keeps the Argon2 hash (never the password) and, once its email is sent, the
digest of the link's random token: a database leak hands out no working link, and the link
alone signs nobody in. The emails are sent by tasks that receive ids only.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from peewee import CharField, DateTimeField, IntegrityError

import clock
import config
from models.accounts import User, hash_password, password_matches
from models.base import BaseModel, db
from models.text import email_address

LINK_MAX_AGE = timedelta(hours=24)
log = logging.getLogger(__name__)


class PendingSignup(BaseModel):
    """A sign-up waiting for its address to be confirmed. Several may wait for one address
    (someone else may have tried it too); the first one confirmed wins and ends the rest."""

    email = CharField(index=True)
    name = CharField(default="")
    team_name = CharField(default="")
    password_hash = CharField()
    token_digest = CharField(null=True, unique=True)  # set when the email goes out
    created_at = DateTimeField(default=clock.now)
    expires_at = DateTimeField(index=True)


def allowed() -> bool:
    """Whether anyone may sign up now, by TETHER_SIGNUP: "open" always, "first" while the
    instance has nobody, "closed" never (the operator creates the first owner with the CLI).
    Invites are another door and stay open in every mode."""
    policy = config.current()["SIGNUP"]
    if policy == "open":
        return True
    return policy == "first" and not User.select().exists()


def opens_at_once() -> bool:
    """True while the instance has nobody: the first sign-up creates its owner at once."""
    return not User.select().exists()


def start(email: str, password: str, name: str = "", team_name: str = "") -> tuple[str, int]:
    """Record a later sign-up; returns what to email and to which row: ("confirm", pending id)
    for a new address, ("taken", user id) for one that has an account. The caller answers the
    same either way, so both paths do the same costly work (the hash). Raises ValueError for
    an address that is none (the sign-up form refuses it first)."""
    email = email_address(email)
    password_hash = hash_password(password)
    PendingSignup.delete().where(PendingSignup.expires_at <= clock.now()).execute()
    user = User.get_or_none(User.email == email)
    if user is not None:
        return "taken", user.id
    pending = PendingSignup.create(email=email, name=name.strip(), team_name=team_name.strip(),
                                   password_hash=password_hash,
                                   expires_at=clock.now() + LINK_MAX_AGE)
    return "confirm", pending.id


# --- the link ---------------------------------------------------------------------------------

def _signer():
    return URLSafeTimedSerializer(config.current()["SECRET_KEY"], salt="signup-confirm")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(pending_id: int) -> str | None:
    """A new confirmation link for a pending sign-up (None once it expired or was used).
    Only its token's digest is stored; a newer link replaces an older one."""
    pending = PendingSignup.get_or_none((PendingSignup.id == pending_id)
                                        & (PendingSignup.expires_at > clock.now()))
    if pending is None:
        return None
    token = secrets.token_urlsafe(32)
    PendingSignup.update(token_digest=_digest(token)).where(
        PendingSignup.id == pending.id).execute()
    signed = _signer().dumps({"p": pending.id, "t": token})
    return f"{config.current()['BASE_URL']}/signup/confirm?token={signed}"


def read_link(signed: str) -> tuple[PendingSignup | None, str | None]:
    """(the pending sign-up, None) for a link that still works, else (None, why): "invalid",
    "expired" or "used"."""
    try:
        data = _signer().loads(signed or "", max_age=LINK_MAX_AGE.total_seconds())
    except SignatureExpired:
        return None, "expired"
    except BadSignature:
        return None, "invalid"
    if (not isinstance(data, dict) or not isinstance(data.get("t"), str)
            or not isinstance(data.get("p"), int)):
        return None, "invalid"
    pending = PendingSignup.get_or_none(PendingSignup.id == data.get("p"))
    if pending is None or not hmac.compare_digest(pending.token_digest or "", _digest(data["t"])):
        return None, "used"
    if pending.expires_at <= clock.now():
        return None, "expired"
    return pending, None


def complete(pending: PendingSignup, password: str) -> tuple[User | None, str | None]:
    """Turn a confirmed sign-up into a team and its owner: (user, None), or (None, why):
    "password" (not the one chosen; nothing changes), "used" (another request got there
    first), "taken" (the address got an account meanwhile)."""
    if not password_matches(pending.password_hash, password):
        return None, "password"
    try:
        with db.atomic():
            claimed = (PendingSignup.delete()
                       .where((PendingSignup.id == pending.id)
                              & (PendingSignup.token_digest == pending.token_digest))
                       .execute())
            if claimed != 1:
                return None, "used"
            if User.select().where(User.email == pending.email).exists():
                return None, "taken"
            user = User.open_team(pending.email, pending.password_hash, pending.name,
                                  pending.team_name)
            PendingSignup.delete().where(PendingSignup.email == pending.email).execute()
            return user, None
    except IntegrityError:  # the same address signed up at the same moment
        return None, "taken"


# --- the emails (sent by tasks/signups.py) -------------------------------------------------

def send_link(pending_id: int) -> bool:
    """Email a new address its confirmation link. False when there is nothing to send."""
    from mail import system_mailer
    from models import notices

    relay = notices.relay()
    if not relay.configured:
        log.warning("No mail relay configured (TETHER_MAIL_SMTP_HOST): sign-up %s gets no "
                    "confirmation email", pending_id)
        return False
    pending = PendingSignup.get_or_none(PendingSignup.id == pending_id)
    link = issue_link(pending_id) if pending else None
    if link is None:
        return False
    text = (f"Someone — we hope you — asked to create a Tether team with {pending.email}.\n\n"
            f"To finish, open this link and type the password you chose:\n{link}\n\n"
            f"The link works once, for {int(LINK_MAX_AGE.total_seconds() // 3600)} hours.\n\n"
            "Not you? Ignore this email: nothing is created without the link, and the link "
            "alone signs nobody in.\n")
    message = system_mailer.compose(relay, pending.email,
                                    "Confirm your address to create your Tether team", text)
    system_mailer.send(relay, message)  # errors propagate: the task is retried
    return True


def send_attempt_notice(user_id: int) -> bool:
    """Tell the owner of an address that someone tried to sign up with it — at most one
    email an hour, however many tries and workers: the hour is claimed before sending."""
    from mail import system_mailer
    from models import notices

    user = User.get_or_none(User.id == user_id)
    relay = notices.relay()
    if user is None or not relay.configured:
        return False
    key = f"signup-attempt:{user.id}:{clock.now():%Y-%m-%dT%H}"
    try:
        with db.atomic():
            notices.EmailSent.create(dedupe_key=key)
    except IntegrityError:
        return False
    base = config.current()["BASE_URL"]
    text = ((f"Hi {user.name},\n\n" if user.name else "Hi,\n\n")
            + f"Someone tried to create a new Tether team with {user.email}. This address "
            "already has a Tether account, so nothing was created and nothing about your "
            "account changed.\n\n"
            f"If it was you, sign in instead: {base}/login\n\n"
            "If it was not you, there is nothing to do. If you think someone knows your "
            "password, sign in and change it in Settings → Account.\n")
    message = system_mailer.compose(relay, user.email,
                                    "Someone tried to sign up to Tether with your address", text)
    try:
        system_mailer.send(relay, message)
    except Exception:
        notices.EmailSent.delete().where(notices.EmailSent.dedupe_key == key).execute()
        raise  # the task is retried, and may claim the hour again
    return True
