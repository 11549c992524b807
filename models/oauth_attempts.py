"""One OAuth round trip in progress: the server-side, one-time `state` of DESIGN §7.

The state is bound to the browser session that started it, expires after ten minutes, and is
consumed exactly once. The PKCE verifier never leaves the server; one that can no longer be
decrypted (the keys changed meanwhile) counts as expired.
"""

import hashlib
from datetime import timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField

import clock
from models.accounts import Team, User
from models.base import BaseModel
from models.crypto import EncryptedField, SecretUnreadable

TTL = timedelta(minutes=10)


def digest(value: str) -> str:
    return hashlib.sha256((value or "").encode()).hexdigest()


class OAuthAttempt(BaseModel):
    state_digest = CharField(unique=True)
    session_digest = CharField()          # the browser session that started it
    user = ForeignKeyField(User, on_delete="CASCADE")
    team = ForeignKeyField(Team, on_delete="CASCADE")
    provider = CharField()
    code_verifier = EncryptedField()
    nonce = CharField()
    mailbox_id = IntegerField(null=True)  # set when reconnecting an existing mailbox
    expected_email = CharField(default="")
    created_at = DateTimeField(default=clock.now)
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "oauth_attempt"

    @classmethod
    def consume(cls, state: str, session_key: str):
        """The attempt for `state` if it is this session's, unexpired and unused — claimed
        atomically so a replayed callback finds nothing. Otherwise (None, reason)."""
        attempt = cls.get_or_none(cls.state_digest == digest(state))
        if attempt is None:
            return None, "unknown"
        if attempt.session_digest != digest(session_key):
            return None, "foreign"
        if attempt.used_at is not None:
            return None, "reused"
        if attempt.created_at < clock.now() - TTL or not attempt._verifier_readable():
            return None, "expired"
        claimed = (cls.update(used_at=clock.now())
                   .where((cls.id == attempt.id) & cls.used_at.is_null()).execute())
        return (attempt, "") if claimed == 1 else (None, "reused")

    def _verifier_readable(self) -> bool:
        """A verifier saved under a key this server no longer has (keys changed during the
        round trip) cannot finish the exchange: such an attempt is as good as expired."""
        try:
            self.code_verifier.reveal()
        except SecretUnreadable:
            return False
        return True
