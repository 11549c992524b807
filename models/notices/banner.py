"""The banner the instance's operators see on every page while no system mailer is configured:
what to set, and how many notice emails wait for it (templates/base.html)."""

from dataclasses import dataclass

import config
from mail import system_mailer
from models.notices.emails import waiting_count
from models.notices.people import is_operator


@dataclass(frozen=True)
class MailerBanner:
    waiting: int
    what_to_set: str = system_mailer.WHAT_TO_SET


def mailer_banner(user) -> MailerBanner | None:
    """The banner for this person, or None: a mailer is configured (the demo has the
    sandbox's), nobody is signed in, or they do not run the instance."""
    if not getattr(user, "is_authenticated", False) or system_mailer.relay().configured:
        return None
    if not is_operator(user, config.current().get("OPERATOR_EMAILS", "")):
        return None
    return MailerBanner(waiting=waiting_count())
