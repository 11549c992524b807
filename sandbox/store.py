"""The sandbox's own state: users, registered clients, grants and tokens, in its own SQLite file.

One process owns the file (the OAuth server and the smarthost run as threads of
``python -m sandbox``), so the sandbox clock's offset can live in memory beside its copy in
the database.
"""

import hashlib
import json
import secrets
import threading
import time
import uuid

from flask import g, has_app_context
from peewee import (
    BooleanField,
    CharField,
    FloatField,
    ForeignKeyField,
    Model,
    SqliteDatabase,
    TextField,
)

from sandbox import flavours

db = SqliteDatabase(None)

OAUTH_KINDS = ("google", "microsoft")
PASSWORD_KINDS = ("other", "system")
USER_KINDS = OAUTH_KINDS + PASSWORD_KINDS

ACCESS_TOKEN_LIFETIME = 3599  # what Google answers; Microsoft's is 60-90 minutes
CODE_LIFETIME = 600
MICROSOFT_REFRESH_LIFETIME = 90 * 86400  # a sliding window, renewed by every rotation
GOOGLE_UNUSED_LIFETIME = 183 * 86400  # six months without use
TESTING_REFRESH_LIFETIME = 7 * 86400  # Google "Testing" publishing status


# -- the sandbox clock -------------------------------------------------------------------------

_clock_lock = threading.Lock()
_clock_offset = 0.0


def now() -> float:
    """The sandbox's time: the wall clock plus an offset the control API can advance."""
    return time.time() + _clock_offset


def clock_offset() -> float:
    return _clock_offset


def set_clock_offset(seconds: float) -> None:
    global _clock_offset
    with _clock_lock:
        _clock_offset = float(seconds)
        Setting.put("clock_offset", str(_clock_offset))


# -- why a request failed, for the provider-shaped error bodies --------------------------------

def note_reason(reason: str) -> None:
    """Remember why the current request is failing (a revoked grant, a rotated secret…).

    Authlib raises generic errors; the flavour layer reads this to pick Google's or
    Microsoft's exact answer.
    """
    if has_app_context():
        g.sandbox_reason = reason


def noted_reason() -> str | None:
    return g.get("sandbox_reason") if has_app_context() else None


# -- tables -------------------------------------------------------------------------------------

class BaseModel(Model):
    class Meta:
        database = db


class Setting(BaseModel):
    key = CharField(primary_key=True)
    value = TextField()

    @classmethod
    def get_value(cls, key, default=None):
        row = cls.get_or_none(cls.key == key)
        return row.value if row else default

    @classmethod
    def put(cls, key, value):
        cls.insert(key=key, value=value).on_conflict_replace().execute()


def hash_password(password: str) -> str:
    """Dovecot's {SSHA512} scheme, so the same hash serves sign-in and the passwd-file."""
    import base64

    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def check_password(stored: str, password: str) -> bool:
    import base64

    raw = base64.b64decode(stored.removeprefix("{SSHA512}"))
    digest, salt = raw[:64], raw[64:]
    return secrets.compare_digest(hashlib.sha512(password.encode() + salt).digest(), digest)


class User(BaseModel):
    email = CharField(unique=True)  # stored lower-case; it is also the IMAP/SMTP username
    name = CharField()
    kind = CharField()  # google | microsoft | other | system
    password_hash = CharField()
    mail_enabled = BooleanField(default=True)  # "IMAP/SMTP access" in the provider's admin
    require_consent = BooleanField(default=False)
    require_signin = BooleanField(default=False)
    created_at = FloatField()

    @classmethod
    def find(cls, email):
        return cls.get_or_none(cls.email == (email or "").strip().lower())

    @property
    def is_oauth(self):
        return self.kind in OAUTH_KINDS

    @property
    def domain(self):
        return self.email.rpartition("@")[2]

    @property
    def tenant_id(self):
        # One Entra tenant per domain, as an organisation's users share one.
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, self.domain))

    @property
    def object_id(self):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "mailto:" + self.email))

    @property
    def subject(self):
        if self.kind == "google":  # Google's subjects are long decimal numbers
            return str(int(hashlib.sha256(self.email.encode()).hexdigest()[:16], 16)).rjust(21, "1")
        return hashlib.sha256(("sub:" + self.email).encode()).hexdigest()[:43]

    def check_password(self, password):
        return check_password(self.password_hash, password)

    def as_dict(self):
        return {
            "email": self.email,
            "name": self.name,
            "kind": self.kind,
            "mail_enabled": self.mail_enabled,
            "require_consent": self.require_consent,
            "require_signin": self.require_signin,
            "tenant_id": self.tenant_id if self.kind == "microsoft" else None,
            "sub": self.subject,
        }


class Client(BaseModel):
    """A registered OAuth client (Tether, one per flavour) or the mail server's credential."""

    key = CharField(unique=True)  # google | microsoft | mailserver
    name = CharField()
    flavour = CharField()  # google | microsoft | resource
    client_id = CharField(unique=True)
    client_secret = CharField()
    retired_secret = CharField(null=True)  # the secret before the last rotation
    initial_secret = CharField()  # restored by a reset, so sandbox.json stays true for tests
    redirect_uris_json = TextField(default="[]")
    initial_redirect_uris_json = TextField(default="[]")
    testing = BooleanField(default=False)  # Google "Testing" status: refresh tokens last 7 days

    @classmethod
    def find(cls, client_id):
        return cls.get_or_none(cls.client_id == client_id)

    @property
    def redirect_uris(self):
        return json.loads(self.redirect_uris_json)

    # Authlib's ClientMixin

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # both providers insist on an explicit redirect_uri

    def get_allowed_scope(self, scope):
        allowed = flavours.SCOPES_SUPPORTED.get(self.flavour, ())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact match, as both providers do

    def check_client_secret(self, client_secret):
        if secrets.compare_digest(client_secret, self.client_secret):
            return True
        if self.retired_secret and secrets.compare_digest(client_secret, self.retired_secret):
            note_reason("secret_expired")
        else:
            note_reason("secret_invalid")
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        if self.flavour == "resource":
            return endpoint == "introspection" and method == "client_secret_basic"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return self.flavour != "resource" and response_type == "code"

    def check_grant_type(self, grant_type):
        return self.flavour != "resource" and grant_type in ("authorization_code", "refresh_token")

    def as_dict(self):
        return {
            "key": self.key,
            "name": self.name,
            "flavour": self.flavour,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "testing": self.testing,
        }


class Grant(BaseModel):
    """One consent: the user let this client have this scope. "Apps with access" lists them."""

    user = ForeignKeyField(User, backref="grants", on_delete="CASCADE")
    client = ForeignKeyField(Client, on_delete="CASCADE")
    scope = TextField()
    granted_at = FloatField()
    removed_at = FloatField(null=True)
    removed_reason = CharField(null=True)


class AuthCode(BaseModel):
    code = CharField(unique=True)
    grant = ForeignKeyField(Grant, on_delete="CASCADE")
    redirect_uri = TextField()
    scope = TextField()
    nonce = CharField(null=True)
    code_challenge = CharField(null=True)
    code_challenge_method = CharField(null=True)
    auth_time = FloatField()
    issue_refresh = BooleanField()
    created_at = FloatField()
    used_at = FloatField(null=True)

    # Authlib's AuthorizationCodeMixin and the OpenID extras

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return int(self.auth_time)


class _TokenRow(BaseModel):
    """What access and refresh tokens share: they belong to a grant and can die for a reason."""

    grant = ForeignKeyField(Grant, on_delete="CASCADE")
    issued_at = FloatField()
    dead_at = FloatField(null=True)
    dead_reason = CharField(null=True)

    def check_client(self, client):
        return self.grant.client_id == client.id

    def get_scope(self):
        return self.grant.scope

    def get_user(self):
        return self.grant.user

    def get_client(self):
        return self.grant.client

    def expires_at(self) -> float:
        raise NotImplementedError

    def problem(self) -> str | None:
        """Why this token can no longer be used, or None while it is alive."""
        grant = self.grant
        if grant.removed_at is not None:
            return grant.removed_reason
        if self.dead_at is not None:
            return self.dead_reason
        if now() >= self.expires_at():
            return "expired"
        return None

    def is_revoked(self):
        return self.problem() not in (None, "expired")

    def is_expired(self):
        return self.problem() == "expired"


class RefreshToken(_TokenRow):
    token = CharField(unique=True)
    last_used_at = FloatField()

    def expires_at(self):
        grant = self.grant
        if grant.client.flavour == "microsoft":
            return self.issued_at + MICROSOFT_REFRESH_LIFETIME
        limit = self.last_used_at + GOOGLE_UNUSED_LIFETIME
        if grant.client.testing:
            limit = min(limit, grant.granted_at + TESTING_REFRESH_LIFETIME)
        return limit


class AccessToken(_TokenRow):
    token = CharField(unique=True)
    scope = TextField()
    expires_in = FloatField()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return int(self.expires_in)

    def expires_at(self):
        return self.issued_at + self.expires_in


class TokenRefresh(BaseModel):
    """One successful use of a refresh token at the token endpoint: tests count them per user
    (a client that refreshes once, not in a loop)."""

    grant = ForeignKeyField(Grant, on_delete="CASCADE")
    at = FloatField()


TABLES = [Setting, User, Client, Grant, AuthCode, RefreshToken, AccessToken, TokenRefresh]


def init(path: str) -> None:
    """Open (creating if needed) the sandbox database and load the clock offset."""
    global _clock_offset
    db.init(
        path,
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "synchronous": "normal",
            "busy_timeout": 10000,
        },
        check_same_thread=False,
    )
    with db.connection_context():
        db.create_tables(TABLES)
        _clock_offset = float(Setting.get_value("clock_offset", "0"))


def kept_secret(name: str, make) -> str:
    """A value generated once and kept in the database (signing key, cookie secret…)."""
    value = Setting.get_value(name)
    if value is None:
        value = make()
        Setting.put(name, value)
    return value
