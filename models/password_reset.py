"""Password reset by an emailed link: signed, expiring after an hour, good for one change.

Nothing is stored. The link is signed with SECRET_KEY and carries the person's id, the time
it was made and a fingerprint of their current password hash (an HMAC of it, so the link,
which is only signed and not encrypted, reveals nothing about the hash). Any change of
password — this link used once, a change in Settings, the operator's CLI — makes a new Argon2
hash with a new salt, so every outstanding link stops working by itself: single use with no
table to keep, clean up or leak. The change is a compare-and-set on that very hash, so two
requests racing with one link change the password once.

The email is sent by a task that receives the address the person typed (an address, not a
secret), whether or not it has an account: the page answers the same and costs the same.
"""

import hashlib
import hmac
import logging
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer

import clock
import config
from models.accounts import User, hash_password, normalize_email
from models.base import db

LINK_MAX_AGE = timedelta(hours=1)
log = logging.getLogger(__name__)


def _signer():
    return URLSafeSerializer(config.current()["SECRET_KEY"], salt="password-reset")


def _fingerprint(password_hash: str) -> str:
    key = config.current()["SECRET_KEY"].encode()
    return hmac.new(key, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def make_link(user: User) -> str:
    """A reset link for `user`, good until their password changes or an hour passes. The
    time comes from Tether's clock (clock.py), so the expiry follows it like every other."""
    token = _signer().dumps({"u": user.id, "h": _fingerprint(user.password_hash),
                             "t": int(clock.now().timestamp())})
    return f"{config.current()['BASE_URL']}/password/reset?token={token}"


def read_link(token: str) -> tuple[User | None, str | None]:
    """(the person, None) for a link that still works, else (None, why): "invalid",
    "expired" or "used" (the password changed since the link was made)."""
    try:
        data = _signer().loads(token or "")
    except BadSignature:
        return None, "invalid"
    if not (isinstance(data, dict) and isinstance(data.get("u"), int)
            and isinstance(data.get("t"), int) and isinstance(data.get("h"), str)):
        return None, "invalid"
    made = clock.now().timestamp() - data["t"]
    if made > LINK_MAX_AGE.total_seconds():
        return None, "expired"
    user = User.get_or_none((User.id == data["u"]) & (User.active == True))  # noqa: E712
    if user is None or not hmac.compare_digest(_fingerprint(user.password_hash), data["h"]):
        return None, "used"
    return user, None


def reset(user: User, password: str) -> bool:
    """Set the new password and end every session of the person, once: False when the
    password changed meanwhile (the same link used twice at once). The caller signs in."""
    new_hash = hash_password(password)  # outside the transaction: it is the slow part
    with db.atomic():
        changed = (User.update(password_hash=new_hash,
                               session_generation=User.session_generation + 1)
                   .where((User.id == user.id) & (User.password_hash == user.password_hash))
                   .execute())
    if changed != 1:
        return False
    user.password_hash = new_hash
    user.session_generation = (User.select(User.session_generation)
                               .where(User.id == user.id).scalar())
    return True


def send_link(address: str) -> bool:
    """Email a reset link to the active person with this address; False when there is no
    such person or no mailer (nothing is kept for later: an hour-long link would be stale)."""
    from mail import system_mailer
    from models import notices

    user = User.get_or_none((User.email == normalize_email(address))
                            & (User.active == True))  # noqa: E712
    if user is None:
        return False
    relay = notices.relay()
    if not relay.configured:
        log.warning("No mail relay configured (TETHER_MAIL_SMTP_HOST): user %s asked for a "
                    "password reset and gets no email", user.id)
        return False
    minutes = int(LINK_MAX_AGE.total_seconds() // 60)
    text = ((f"Hi {user.name},\n\n" if user.name else "Hi,\n\n")
            + "Someone — we hope you — asked to reset the password of your Tether account "
            f"{user.email}.\n\nTo choose a new password, open this link:\n{make_link(user)}\n\n"
            f"The link works once, for {minutes} minutes. Using it signs you out everywhere "
            "else.\n\nNot you? Ignore this email: your password stays as it is.\n")
    message = system_mailer.compose(relay, user.email, "Reset your Tether password", text)
    system_mailer.send(relay, message)  # errors propagate: the task is retried
    return True
