"""Warnings before a connection token dies of a known limit, so the owner can reconnect at a
convenient moment instead of after outreach stopped (DESIGN §1; PROVIDERS.md, "Why a refresh
token stops working").

Routine checks refresh tokens about hourly, which keeps Microsoft's 90-day and Google's
6-month windows open for any mailbox that is being checked; the warnings matter for disabled
mailboxes (not checked) and for a Google app still in "Testing" status (7 days, whatever use).
"""

from datetime import datetime, timedelta

from models.mailboxes import DISABLED, RECONNECT_REQUIRED

GOOGLE_TESTING = timedelta(days=7)
GOOGLE_UNUSED = timedelta(days=180)
MICROSOFT_UNUSED = timedelta(days=90)


def warning(mailbox, *, now: datetime, google_testing: bool) -> str | None:
    """A plain-words warning if the mailbox's token will die soon, else None."""
    found = soonest(mailbox, now=now, google_testing=google_testing)
    return found[1] if found else None


def soonest(mailbox, *, now: datetime, google_testing: bool) -> tuple[datetime, str] | None:
    """(when the token dies, the warning in plain words) if that is soon, else None."""
    if not mailbox.is_oauth or mailbox.deleted_at or mailbox.status == RECONNECT_REQUIRED:
        return None
    flavour = mailbox.provider.split("-")[0]
    last_use = mailbox.refreshed_at or mailbox.consented_at
    limits = []
    if flavour == "google" and google_testing and mailbox.consented_at:
        limits.append((mailbox.consented_at + GOOGLE_TESTING, timedelta(days=2),
                       "the Google app is in Testing status, where connections last 7 days"))
    if last_use and (flavour == "microsoft" or mailbox.status == DISABLED):
        unused = MICROSOFT_UNUSED if flavour == "microsoft" else GOOGLE_UNUSED
        words = ("Microsoft ends connections unused for 90 days" if flavour == "microsoft"
                 else "Google ends connections unused for 6 months")
        limits.append((last_use + unused, timedelta(days=14), words))
    for deadline, notice, words in sorted(limits):
        if deadline - now <= notice:
            when = "has expired" if deadline <= now else f"expires around {deadline:%b %d}"
            return deadline, f"This connection {when}: {words}. Reconnect before then to avoid a pause."
    return None
