"""Rows for tests that need a team's mailboxes to exist without a provider round trip."""

import clock
from models.accounts import User
from models.mailboxes import CONNECTED, Mailbox


def mailbox(owner_email="owner@acme.test", email="alex@acme.test", status=CONNECTED,
            provider="google-sandbox", **fields) -> Mailbox:
    user = User.get(User.email == owner_email)
    now = clock.now()
    defaults = dict(team=user.team, connected_by=user, email=email, provider=provider,
                    status=status, status_since=now, last_success_at=now,
                    access_token="at-" + email, refresh_token="rt-" + email, scopes="openid email")
    defaults.update(fields)
    return Mailbox.create(**defaults)
