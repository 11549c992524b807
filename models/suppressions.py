"""The suppression list: addresses a team never writes to again (they unsubscribed, or a person
put them there). Enrolling and importing skip them; the list lives under Settings.

Addresses are kept as models.text.email_address() writes them, the same form a Contact's is
stored in, so a suppressed address and a contact's address compare as plain strings.
"""

import csv
import io

from peewee import CharField, ForeignKeyField

from models.accounts import Team
from models.base import Timestamped
from models.text import email_address

LINK, ONE_CLICK, MAILTO, BY_HAND = "link", "one_click", "mailto", "by_hand"
REASON_LABELS = {LINK: "Unsubscribed by the link", ONE_CLICK: "Unsubscribed in one click",
                 MAILTO: "Unsubscribed by email", BY_HAND: "Added by hand"}


class Suppression(Timestamped):
    team = ForeignKeyField(Team, backref="suppressions", on_delete="CASCADE")
    email = CharField()
    reason = CharField()  # one of REASON_LABELS

    class Meta:
        indexes = ((("team", "email"), True),)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.reason, self.reason)

    @classmethod
    def search(cls, team_id, text=""):
        """The team's list, newest first; `text` narrows it to addresses containing it."""
        query = cls.select().where(cls.team == team_id)
        text = (text or "").strip()
        if text:
            query = query.where(cls.email.contains(text.lower()))
        return query.order_by(cls.created_at.desc(), cls.id.desc())


def suppress(team_id, address: str, reason: str) -> None:
    """Put `address` on the team's list (its first reason stays if it was there already).
    Call inside the caller's transaction when other writes go with it."""
    Suppression.insert(team=team_id, email=address, reason=reason).on_conflict_ignore().execute()


def add_by_hand(team_id, text: str) -> tuple[str | None, str | None]:
    """A person adds an address: (the address, None), or (None, why not)."""
    try:
        address = email_address(text)
    except ValueError as e:
        return None, str(e)
    if Suppression.get_or_none((Suppression.team == team_id) & (Suppression.email == address)):
        return None, f"{address} is on the list already."
    Suppression.insert(team=team_id, email=address, reason=BY_HAND).on_conflict_ignore().execute()
    return address, None


def suppressed(team_id, addresses) -> set[str]:
    """Which of `addresses` are on the team's list — what enrolling and importing skip."""
    addresses, found = list(addresses), set()
    for start in range(0, len(addresses), 500):
        found |= {e for (e,) in Suppression.select(Suppression.email).where(
            (Suppression.team == team_id)
            & Suppression.email.in_(addresses[start:start + 500])).tuples()}
    return found


def as_csv(team_id) -> str:
    """The whole list as a CSV file (email, reason, added), oldest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "reason", "added_at_utc"])
    for row in (Suppression.select().where(Suppression.team == team_id)
                .order_by(Suppression.created_at, Suppression.id)):
        writer.writerow([_cell(row.email), row.reason_label, f"{row.created_at:%Y-%m-%d %H:%M}"])
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts with = + - @ as a formula (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
