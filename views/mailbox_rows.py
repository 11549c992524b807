"""What each Email Accounts row shows, worked out in Python before the template runs: with a
thousand mailboxes, every call made inside the template costs more than the row's markup."""

from dataclasses import dataclass

from flask import abort

import clock
from models import expiry, outbox
from models.mailboxes import LIST_FIELDS, OTHER, RECONNECT_REQUIRED, Mailbox
from views.common import ago


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    email: str
    status: str
    status_label: str
    icon: str           # google / microsoft / other (the sprite's symbol)
    provider_label: str
    detail: str         # the line under the status, in words
    warning: str
    sends: int
    daily_limit: int
    manage: bool
    is_oauth: bool
    toggle: str         # Enable / Disable


def _detail(mailbox) -> str:
    if mailbox.status == "reconnect_required":
        return mailbox.status_cause
    if mailbox.status == "degraded":
        return f"Delayed since {mailbox.status_since:%H:%M} UTC — {mailbox.status_cause}"
    if mailbox.status == "checking":
        return "First check pending"
    if mailbox.status == "disabled":
        return "Sending is off"
    return f"Checked {ago(mailbox.last_success_at)}"


def rows(mailboxes, user, providers: dict, warnings: dict, sends: dict) -> list[Row]:
    result, now = [], clock.now()
    for m in mailboxes:
        kind = m.provider.split("-")[0]
        label = (providers[m.provider].label if m.provider in providers
                 else "Other provider" if m.provider == OTHER else kind.capitalize())
        result.append(Row(
            id=m.id, email=m.email, status=m.status, status_label=m.status_label,
            icon=kind if kind in ("google", "microsoft") else "other", provider_label=label,
            detail=_detail(m), warning=warnings.get(m.id, ""), sends=sends.get(m.id, 0),
            daily_limit=m.limit_on(now), manage=user.is_admin or m.connected_by_id == user.id,
            is_oauth=m.is_oauth, toggle="Enable" if m.status == "disabled" else "Disable"))
    return result


# --- One page of the list ----------------------------------------------------------------
# A team with a thousand mailboxes gets them a hundred at a time: the page stays light to send
# and to render, and page links (or `?mailbox=<id>`, the page a given mailbox is on) reach
# every one of them.

PER_PAGE = 100
_ALL_LINKS_UP_TO = 12  # more pages than this: first, last and the ones around the current


@dataclass(frozen=True, slots=True)
class Listing:
    rows: list[Row]
    page: int
    pages: int
    total: int
    first: int          # the 1-based position of the first row shown
    links: list         # page numbers to link to, None where some are left out
    urgent: list        # (id, email) of the first few needing reconnecting, when paged
    urgent_total: int


def _live(team_id):
    return (Mailbox.team == team_id) & Mailbox.deleted_at.is_null()


def page_of(team_id: int, mailbox_id: int) -> int:
    """The page `mailbox_id` is listed on; 404 when it is not this team's live mailbox."""
    mailbox = (Mailbox.select(Mailbox.id, Mailbox.email)
               .where(_live(team_id) & (Mailbox.id == mailbox_id)).first())
    if mailbox is None:
        abort(404)
    before = Mailbox.select().where(_live(team_id) & (
        (Mailbox.email < mailbox.email)
        | ((Mailbox.email == mailbox.email) & (Mailbox.id < mailbox.id)))).count()
    return before // PER_PAGE + 1


def page_links(page: int, pages: int) -> list:
    if pages <= _ALL_LINKS_UP_TO:
        return list(range(1, pages + 1))
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links = []
    for n in shown:
        if links and n - links[-1] > 1:
            links.append(None)
        links.append(n)
    return links


def listing(user, page: int, providers: dict, google_testing: bool) -> Listing:
    """Page `page` of the team's mailboxes (the last one when `page` is past the end)."""
    total = Mailbox.select().where(_live(user.team_id)).count()
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    mailboxes = list(Mailbox.select(*LIST_FIELDS).where(_live(user.team_id))
                     .order_by(Mailbox.email, Mailbox.id).paginate(page, PER_PAGE))
    now = clock.now()
    warnings = {m.id: w for m in mailboxes
                if (w := expiry.warning(m, now=now, google_testing=google_testing))}
    table = rows(mailboxes, user, providers, warnings,
                 outbox.sends_today([m.id for m in mailboxes]))
    urgent, urgent_total = _urgent(user.team_id) if pages > 1 else ([], 0)
    return Listing(rows=table, page=page, pages=pages, total=total,
                   first=(page - 1) * PER_PAGE + 1, links=page_links(page, pages),
                   urgent=urgent, urgent_total=urgent_total)


def _urgent(team_id: int, shown: int = 5):
    """Mailboxes that need reconnecting, whatever page they are on: paging must not hide one."""
    needing = _live(team_id) & (Mailbox.status == RECONNECT_REQUIRED)
    first = list(Mailbox.select(Mailbox.id, Mailbox.email).where(needing)
                 .order_by(Mailbox.email, Mailbox.id).limit(shown).tuples())
    return first, (Mailbox.select().where(needing).count() if len(first) == shown else len(first))
