"""The reconnect link a notice email carries.

It is signed and expiring but carries no secret: it only names the mailbox. Authorization
always comes from the signed-in session that opens it (views/notifications.py).
"""

from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

import config

LINK_MAX_AGE = timedelta(days=7)


def _signer():
    return URLSafeTimedSerializer(config.current()["SECRET_KEY"], salt="reconnect-link")


def reconnect_token(mailbox_id: int) -> str:
    return _signer().dumps({"m": mailbox_id})


def reconnect_link(mailbox) -> str:
    return f"{config.current()['BASE_URL']}/reconnect/{reconnect_token(mailbox.id)}"


def read_reconnect_link(token: str) -> tuple[int | None, bool]:
    """(mailbox id, expired) for a genuine link; (None, False) for a tampered one."""
    try:
        return _signer().loads(token, max_age=LINK_MAX_AGE.total_seconds())["m"], False
    except SignatureExpired as e:
        return (e.payload or {}).get("m") if isinstance(e.payload, dict) else None, True
    except (BadSignature, KeyError, TypeError):
        return None, False
