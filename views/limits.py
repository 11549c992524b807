"""The rate limiter and its limits, counted once for the whole deployment.

Counters live in Redis when REDIS_URL is set, else in the database (models/rate_limits.py);
never in one process's memory, where each gunicorn worker would allow the whole limit.
Per-IP limits count the client's own address: behind TETHER_TRUSTED_PROXIES the one ProxyFix
read from the proxies' X-Forwarded-For, otherwise the socket's peer — so a client cannot pick
its own key by sending that header, and people behind one proxy are not counted as one.
"""

from flask import current_app, request
from flask_limiter import Limiter

from models import rate_limits
from models.accounts import normalize_email


def client_ip() -> str:
    """The client's address as Tether decided it (app.py wraps the app in ProxyFix only when
    TETHER_TRUSTED_PROXIES says proxies stand in front); the access log shows the same."""
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[])


def storage_uri(settings: dict) -> str:
    return settings["REDIS_URL"] or f"{rate_limits.SCHEME}://"


def attempts_limit() -> str:
    """How many sign-in and sign-up attempts one IP, or one address, gets (LOGIN_RATE_LIMIT)."""
    return current_app.config["LOGIN_RATE_LIMIT"]


def per_address(purpose: str):
    """A key function: the email address the form names, for `purpose` (login, signup)."""

    def key() -> str:
        return f"{purpose}:" + normalize_email(request.form.get("email", ""))

    return key
