"""Unsubscribing (RFC 8058): the link every outreach email carries, the mailto beside it, and
what either does — stop the address in every sequence of that team and suppress it there.

The link names no internal id: it carries an opaque random handle, one per (team, address),
kept in UnsubscribeLink and signed with SECRET_KEY (its own salt). The signature makes a forged
or edited link fail before any lookup; the handle keeps ids and the address out of the URL.
Links never expire: a year-old email's link must still work, so the token holds no time.

The mailto is the sending mailbox's own address (no plus tag: not every provider delivers
`alex+x@`, and the reply reader reads exactly that INBOX) with the subject
"Unsubscribe <token>", which models/replies.py recognises and hands to `unsubscribe()`.
"""

import re
import secrets
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from peewee import CharField, ForeignKeyField

import clock
import config
from models import changes
from models.accounts import Team
from models.base import Timestamped, hot, names, write_transaction
from models.contacts import Contact
from models.sequences import Enrollment, Sequence, write_log
from models.suppressions import LINK, MAILTO, ONE_CLICK, suppress

SALT = "unsubscribe-link"
_MAILTO_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", re.I)
_BARE = re.compile(r"\s*(?:re:\s*)*unsubscribe\s*[.!]?\s*", re.I)
_HOW = {LINK: "by the link in an email", ONE_CLICK: "in one click from their mail app",
        MAILTO: "by email"}


class UnsubscribeLink(Timestamped):
    """The opaque handle a team's emails to one address carry in their unsubscribe link."""

    team = ForeignKeyField(Team, on_delete="CASCADE")
    email = CharField()
    handle = CharField(unique=True)

    class Meta:
        indexes = ((("team", "email"), True),)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(config.current()["SECRET_KEY"], salt=SALT)


def token_for(team_id, address: str) -> str:
    """The signed token of (team, address), its handle made the first time it is asked for."""
    team_id = getattr(team_id, "id", team_id)
    found = _handle_sql(team_id, address).fetchone()
    if found is None:
        (UnsubscribeLink.insert(team=team_id, email=address, handle=secrets.token_urlsafe(12))
         .on_conflict_ignore().execute())  # two senders at once: the first handle wins
        found = _handle_sql(team_id, address).fetchone()
    return _signer().dumps(found[0])


def prepare_handles(team_id, addresses) -> None:
    """Make the handles a batch of emails will need, in one statement rather than one per new
    address (models/sender.py calls it after each claim; issue #17)."""
    wanted = set(addresses)
    if not wanted:
        return
    have = {e for (e,) in UnsubscribeLink.select(UnsubscribeLink.email).where(
        (UnsubscribeLink.team == team_id) & UnsubscribeLink.email.in_(list(wanted))).tuples()}
    missing = sorted(wanted - have)
    if missing:
        now = clock.now()
        (UnsubscribeLink.insert_many(
            [{"team": team_id, "email": e, "handle": secrets.token_urlsafe(12),
              "created_at": now} for e in missing])
         .on_conflict_ignore().execute())  # another sender made one first: it stands


@hot  # every email sent asks it: SQL built once (models.base.hot, issue #17)
def _handle_sql(p):
    t, c = names(UnsubscribeLink)
    return (f"SELECT {c['handle']} FROM {t} "  # noqa: S608
            f"WHERE {c['team']} = {p} AND {c['email']} = {p}")


def url_for_token(token: str) -> str:
    return f"{config.current()['BASE_URL'].rstrip('/')}/u/{token}"


def header_for(token: str, mailbox_address: str) -> str:
    """The List-Unsubscribe value (RFC 2369): the https link first, then the mailto."""
    subject = quote(f"Unsubscribe {token}")
    return f"<{url_for_token(token)}>, <mailto:{mailbox_address}?subject={subject}>"


def read_token(token: str) -> UnsubscribeLink | None:
    """The link a token names, or None for a forged, edited or unknown one."""
    try:
        handle = _signer().loads(token or "")
    except BadSignature:
        return None
    if not isinstance(handle, str):
        return None
    return UnsubscribeLink.get_or_none(UnsubscribeLink.handle == handle)


def asked_by_email(team_id, subject: str, sender: str) -> str | None:
    """The address an email to a mailbox of this team asks to unsubscribe, or None: the
    mailto's "Unsubscribe <token>" names it (whoever sends it, e.g. from an alias); a bare
    "Unsubscribe" (or "Re: Unsubscribe") typed by a person names its sender. A token of
    another team's is ignored: only that team's emails may unsubscribe from it."""
    match = _MAILTO_SUBJECT.search(subject or "")
    if match:
        link = read_token(match.group(1))
        return link.email if link and link.team_id == team_id else None
    if _BARE.fullmatch(subject or "") and sender:
        return sender
    return None


def unsubscribe(team_id, address: str, reason: str) -> int:
    """Suppress the address in its team and stop every active enrollment of it there, each
    with a log line naming why; returns how many were stopped. Idempotent: a replay finds
    nothing active and writes nothing new."""
    now, stopped = clock.now(), 0
    with write_transaction():
        suppress(team_id, address, reason)
        active = (Enrollment.select(Enrollment, Contact, Sequence)
                  .join(Contact, on=(Enrollment.contact == Contact.id))
                  .join_from(Enrollment, Sequence, on=(Enrollment.sequence == Sequence.id))
                  .where((Contact.team == team_id) & (Sequence.team == team_id)
                         & (Contact.email == address)
                         & (Enrollment.status == "active")))
        for enrollment in active:
            done = (Enrollment.update(status="unsubscribed", status_changed_at=now,
                                      next_due_at=None)
                    .where((Enrollment.id == enrollment.id) & (Enrollment.status == "active"))
                    .execute())
            if done:
                stopped += 1
                write_log(enrollment.sequence, "unsubscribed",
                          f"Unsubscribed: {address} unsubscribed {_HOW[reason]} — no "
                          "further steps for this contact", contact=enrollment.contact,
                          details={"reason": reason})
        changes.bump(team_id)
    return stopped

