"""What /metrics tells Prometheus: figures for the whole instance, read from the database at
each scrape — so every web process answers alike, and they count what the workers did, not
what one process saw. Labels are a status, an outcome, a state or a channel: never an address,
a team or a secret."""

import math

from peewee import fn
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

import clock
from models.check_history import BUCKETS, OUTCOMES, CheckTotal, bucket_column
from models.events import EventDelivery
from models.mailboxes import STATUS_LABELS, Mailbox
from models.notices import EmailSent
from models.notifications import Notification
from models.outbox import STATUS_LABELS as OUTBOX_STATES
from models.outbox import OutboxEmail
from models.readiness import Beat

NOTICE_CHANNELS = ("email", "bell")  # the event handlers that tell people (models/notifications.py)


def _by(values, query) -> dict:
    """{value: count} for every known value, 0 for those the query did not find."""
    counts = dict.fromkeys(values, 0)
    counts.update(query.tuples())
    return counts


def mailboxes():
    family = GaugeMetricFamily("tether_mailboxes", "Mailboxes (not removed) by connection status.",
                               labels=["status"])
    query = (Mailbox.select(Mailbox.status, fn.COUNT(Mailbox.id))
             .where(Mailbox.deleted_at.is_null()).group_by(Mailbox.status))
    for status, count in _by(STATUS_LABELS, query).items():
        family.add_metric([status], count)
    return family


def checks():
    """The counter of checks and the histogram of the timed ones (the worker's), by outcome."""
    made = CounterMetricFamily("tether_checks", "Mailbox checks made, by outcome.", labels=["outcome"])
    took = HistogramMetricFamily("tether_check_duration_seconds",
                                 "How long the worker's mailbox checks took, by outcome.",
                                 labels=["outcome"])
    rows = {row.outcome: row for row in CheckTotal.select()}
    for outcome in OUTCOMES:
        row = rows.get(outcome) or CheckTotal(outcome=outcome)  # all zero
        made.add_metric([outcome], row.checks)
        buckets, below = [], 0
        for bound in (*BUCKETS, math.inf):
            below += getattr(row, bucket_column(bound))  # Prometheus' buckets are cumulative
            buckets.append((floatToGoString(bound), below))
        took.add_metric([outcome], buckets, row.seconds)
    return [made, took]


def outbox():
    family = GaugeMetricFamily("tether_outbox_emails", "Outbox emails by state.", labels=["state"])
    query = OutboxEmail.select(OutboxEmail.status, fn.COUNT(OutboxEmail.id)).group_by(OutboxEmail.status)
    for state, count in _by(OUTBOX_STATES, query).items():
        family.add_metric([state], count)
    return family


def notices():
    """Sent: the emails (one EmailSent row each) and bell notifications made. Failing: the
    deliveries whose handler raised and waits for its retry (claim expired, not done)."""
    sent = CounterMetricFamily("tether_notices_sent", "Notices sent, by channel.", labels=["channel"])
    sent.add_metric(["email"], EmailSent.select().count())
    sent.add_metric(["bell"], Notification.select().count())
    failing = GaugeMetricFamily("tether_notices_failing",
                                "Notice deliveries that failed and wait to be tried again, by channel.",
                                labels=["channel"])
    query = (EventDelivery.select(EventDelivery.channel, fn.COUNT(EventDelivery.id))
             .where(EventDelivery.channel.in_(NOTICE_CHANNELS) & EventDelivery.done_at.is_null()
                    & (EventDelivery.claimed_until <= clock.now()))
             .group_by(EventDelivery.channel))
    for channel, count in _by(NOTICE_CHANNELS, query).items():
        failing.add_metric([channel], count)
    return [sent, failing]


def last_sweep_age():
    """Seconds since a worker last ran its periodic sweep; +Inf before the first one, so an
    alert on `> 180` fires for a deployment whose scheduler never started."""
    last = Beat.select(Beat.at).where(Beat.name == "sweep").scalar()
    age = (clock.now() - last).total_seconds() if last else math.inf
    return GaugeMetricFamily("tether_last_sweep_age_seconds",
                             "Seconds since a worker last ran the periodic sweep.", value=age)


class DatabaseCollector:
    """prometheus_client asks collect() at every scrape."""

    def collect(self):
        yield mailboxes()
        yield from checks()
        yield outbox()
        yield from notices()
        yield last_sweep_age()


# Its own registry: the default one adds this process's own figures (memory, CPU), which
# differ from one web process to the next and would make scrapes disagree.
_registry = CollectorRegistry(auto_describe=False)
_registry.register(DatabaseCollector())


def exposition() -> bytes:
    """The figures in Prometheus' text format, read now."""
    return generate_latest(_registry)
