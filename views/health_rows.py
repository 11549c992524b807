"""What the Mailbox health page shows, worked out in Python before the template runs: the
rows of one page, the team's figures for 7/30/90 days, and the chart's bars. The statistics
themselves are models/mailbox_health.py's."""

from dataclasses import dataclass
from datetime import timedelta

from peewee import JOIN, Case

import clock
from models import mailbox_health, outbox, owner_reminders
from models.accounts import User
from models.mailbox_health import PERIODS, Figures
from models.mailboxes import (
    CHECKING,
    CONNECTED,
    DEGRADED,
    DISABLED,
    RECONNECT_REQUIRED,
    STATUS_LABELS,
    Mailbox,
)
from views.common import ago
from views.mailbox_rows import PER_PAGE, page_links

FIELDS = (Mailbox.id, Mailbox.email, Mailbox.status, Mailbox.status_since, Mailbox.status_cause,
          Mailbox.last_success_at, Mailbox.daily_limit, Mailbox.warmup_start,
          Mailbox.warmup_step, Mailbox.warmup_since, Mailbox.connected_by, Mailbox.created_at)
# Worst first: what needs someone now heads the list.
_ORDER = {RECONNECT_REQUIRED: 0, DEGRADED: 1, DISABLED: 2, CHECKING: 3, CONNECTED: 4}


def span(length: timedelta | None) -> str:
    """"2 h 5 min", "3 days 4 h": a duration people compare at a glance."""
    if length is None:
        return "—"
    minutes = int(length.total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    email: str
    status: str
    status_label: str
    connected_by: str
    last_success: str
    incident: str        # the current incident's cause, or ""
    incident_age: str    # "for 3 h", or ""
    waiting: int
    sends: int
    daily_limit: int
    stats: tuple         # the chosen period's figures in words: first line, then details
    remind: bool         # "Remind owner" is offered
    reminded: str        # "Reminded 12 min ago by Pat", or ""


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list
    bar_width: float
    width: int
    height: int
    top: int            # the y axis' largest value
    first: str
    last: str
    summary: str        # the chart in one sentence, for screen readers and the caption


@dataclass(frozen=True, slots=True)
class Health:
    rows: list
    total: int
    page: int
    pages: int
    first: int
    links: list
    team: list          # Figures for 7, 30 and 90 days
    chart: Chart
    people: list        # (id, name) of those who connected one of the visible mailboxes


def _visible(user, status: str | None, person: int | None):
    """The mailboxes this person may see: all the team's for owners and admins, their own
    for members; narrowed by the filters."""
    where = (Mailbox.team == user.team_id) & Mailbox.deleted_at.is_null()
    if not user.is_admin:
        where &= Mailbox.connected_by == user.id
    if status:
        where &= Mailbox.status == status
    if person:
        where &= Mailbox.connected_by == person
    return where


def people(user) -> list[tuple[int, str]]:
    """Who connected the mailboxes this person sees (the person filter's choices)."""
    if not user.is_admin:
        return [(user.id, user.display_name)]
    rows = (User.select(User.id, User.name, User.email).join(
        Mailbox, JOIN.INNER, on=(Mailbox.connected_by == User.id))
        .where((Mailbox.team == user.team_id) & Mailbox.deleted_at.is_null())
        .distinct().order_by(User.name, User.email))
    return [(u.id, u.display_name) for u in rows]


def health(user, *, status: str | None, person: int | None, days: int, page: int,
           choices: list[tuple[int, str]]) -> Health:
    """One page of the list and the figures; `choices` is people(user), which the filter
    form already asked for."""
    now = clock.now()
    where = _visible(user, status, person)
    total, oldest = mailbox_health.count_and_age(where, now)
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    worst_first = Case(Mailbox.status, list(_ORDER.items()), 9)
    shown = list(Mailbox.select(*FIELDS).where(where)
                 .order_by(worst_first, Mailbox.email, Mailbox.id).paginate(page, PER_PAGE))
    incidents = mailbox_health.measured(Mailbox.select(Mailbox.id).where(where), now)
    team = [mailbox_health.figures(incidents, d, mailbox_health.covered(oldest, d)) for d in PERIODS]
    return Health(rows=_rows(shown, user, incidents, days, now, dict(choices)), total=total,
                  page=page, pages=pages, first=(page - 1) * PER_PAGE + 1,
                  links=page_links(page, pages), team=team,
                  chart=chart(mailbox_health.broken_per_day(incidents, days, now), days),
                  people=choices)


def _rows(shown, user, incidents, days, now, names) -> list[Row]:
    """`names`: {user id: name} of everyone who connected a visible mailbox (the filter's
    choices), so the rows need no query of their own for them."""
    ids = [m.id for m in shown]
    waiting = outbox.waiting_rows(ids)
    sends = outbox.sends_today(ids)
    reminded = owner_reminders.latest(ids)
    by_mailbox = {}
    for m in incidents:
        by_mailbox.setdefault(m.mailbox_id, []).append(m)
    rows = []
    for m in shown:
        broken = m.status in (RECONNECT_REQUIRED, DEGRADED)
        last = reminded.get(m.id)
        age = (now - m.created_at).total_seconds()
        rows.append(Row(
            id=m.id, email=m.email, status=m.status, status_label=STATUS_LABELS[m.status],
            connected_by=names.get(m.connected_by_id, "someone who left"),
            last_success=ago(m.last_success_at),
            incident=m.status_cause if broken else "",
            incident_age=f"for {span(now - m.status_since)}" if broken else "",
            waiting=waiting.get(m.id, 0), sends=sends.get(m.id, 0),
            daily_limit=m.limit_on(now),
            stats=in_words(mailbox_health.figures(by_mailbox.get(m.id, []), days,
                                                  mailbox_health.covered(age, days))),
            remind=user.is_admin and m.status == RECONNECT_REQUIRED,
            reminded=(f"Owner reminded {ago(last.at)}" + (f" by {last.by.display_name}"
                                                          if last.by_id else ""))
            if last else ""))
    return rows


def in_words(f: Figures) -> tuple:
    """A mailbox's figures for its row: the first line, then the details (muted)."""
    if f.no_data:
        return ("No data for this period",)
    if not f.incidents:
        return ("No incidents",)
    lines = [f"{f.incidents} incident{'s' if f.incidents != 1 else ''}"
             + (f" ({f.still_open} open)" if f.still_open else ""),
             f"time to reconnect: median {span(f.median)}, worst {span(f.worst)}"]
    if f.delayed:
        lines.append(f"{f.delayed} email{'s' if f.delayed != 1 else ''} delayed, "
                     f"longest {span(f.longest_wait)}")
    return tuple(lines)


def chart(days_counts: list[tuple], days: int) -> Chart:
    """Bars of mailboxes needing reconnecting per day; the SVG is drawn by the template."""
    width, height = 1000, 110
    top = max([n for _, n in days_counts] + [1])
    step = width / len(days_counts)
    bars = []
    for n, (day, count) in enumerate(days_counts):
        h = round(count / top * (height - 10), 1)
        bars.append(Bar(x=round(n * step + step * 0.15, 1), y=round(height - h, 1),
                        height=h, label=f"{day:%d %b}: {count} mailbox{'es' if count != 1 else ''}"))
    worst = max(days_counts, key=lambda d: d[1])
    summary = (f"No mailbox needed reconnecting in the last {days} days." if worst[1] == 0 else
               f"Mailboxes needing reconnecting per day over the last {days} days; "
               f"the most on {worst[0]:%d %b}: {worst[1]}.")
    return Chart(bars=bars, bar_width=round(step * 0.7, 1), width=width, height=height, top=top,
                 first=f"{days_counts[0][0]:%d %b}", last=f"{days_counts[-1][0]:%d %b}",
                 summary=summary)
