"""/metrics: Prometheus' figures for the whole instance, read from the database at the scrape,
behind a bearer token — and nowhere at all until the operator sets one."""

import math
import os
import socket

import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

import clock
from config import ConfigError
from models import check_history, crypto, events, outbox, readiness
from models.accounts import User
from models.base import db
from models.checks import Checker
from models.health import record_failure
from models.mailboxes import Mailbox
from models.outbox import SENT, OutboxEmail
from tests import factories
from tests.test_outbox import MONDAY_10, running, set_now
from tests.test_readyz import _unreachable
from tests.test_state_machine import REVOKED

TOKEN = "metrics-token-0123456789abcdef"
LABELS = {"status", "outcome", "state", "channel", "le"}  # all a figure may be broken down by


@pytest.fixture
def scrape(client, app, monkeypatch):
    """GET /metrics as Prometheus does; returns {(sample, labels…): value}."""
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)

    def get() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return figures(response.get_data(as_text=True))

    return get


def figures(text: str) -> dict:
    """Every sample of a scrape: (name, *sorted label values) → value; and no label beyond
    LABELS, none holding an address."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert set(sample.labels) <= LABELS, sample
            assert not any("@" in v for v in sample.labels.values()), sample
            found[(sample.name, *(sample.labels[k] for k in sorted(sample.labels)))] = sample.value
    return found


def test_metrics_are_not_there_until_a_token_is_set(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_a_scrape_without_the_token_or_with_a_wrong_one_is_refused(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    for header in ({}, {"Authorization": "Bearer wrong-token-0123456789abcdef"},
                   {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}):
        response = client.get("/metrics", headers=header)
        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "tether_" not in response.get_data(as_text=True)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert "Set-Cookie" not in response.headers  # a machine's request starts no session


def test_a_token_too_short_to_be_safe_refuses_to_start():
    from app import create_app

    with pytest.raises(ConfigError, match="TETHER_METRICS_TOKEN must be at least"):
        create_app({"METRICS_TOKEN": "short"})


def test_mailboxes_by_status_and_outbox_emails_by_state(accounts, scrape):
    accounts.sign_up()
    set_now(MONDAY_10)
    owner = User.get()
    box = factories.mailbox(daily_limit=50)
    factories.mailbox(email="b@acme.test", status="degraded")
    factories.mailbox(email="c@acme.test", status="reconnect_required")
    gone = factories.mailbox(email="d@acme.test")
    Mailbox.update(deleted_at=clock.now()).where(Mailbox.id == gone.id).execute()
    running(owner, box, contacts=("ada@client.test", "bob@client.test", "cy@client.test"))
    assert outbox.plan(box, clock.now()) == 3
    OutboxEmail.update(status=SENT).where(OutboxEmail.id == OutboxEmail.select(OutboxEmail.id)
                                          .limit(1).scalar()).execute()
    got = scrape()
    assert {status: got[("tether_mailboxes", status)] for status in
            ("checking", "connected", "degraded", "reconnect_required", "disabled")} == {
        "checking": 0, "connected": 1, "degraded": 1, "reconnect_required": 1, "disabled": 0}
    assert got[("tether_outbox_emails", "queued")] == 2 and got[("tether_outbox_emails", "sent")] == 1
    assert got[("tether_outbox_emails", "failed")] == 0


def test_checks_are_counted_by_outcome_and_timed_ones_fill_the_histogram(accounts, scrape):
    accounts.sign_up()
    box = factories.mailbox()
    for seconds in (0.2, 0.7, 45.0):
        check_history.record(box.id, "passed", seconds=seconds)
    check_history.record(box.id, "refused")  # not timed (not run by the worker's task)
    # A real check, timed as the worker's task times it: a password no configured key opens.
    other = factories.mailbox(email="o@acme.test", provider="other", imap_host="127.0.0.1",
                              smtp_host="127.0.0.1", access_token=None, refresh_token=None)
    foreign = crypto.Vault.from_config(f"k9:{Fernet.generate_key().decode()}")
    Mailbox.update(password=crypto._Sealed(foreign.encrypt("pw"))).where(Mailbox.id == other.id).execute()
    with check_history.timing():
        Checker(catalog=None).check(other.id, force=True)
    got = scrape()
    assert got[("tether_checks_total", "passed")] == 3
    assert got[("tether_checks_total", "refused")] == 1
    assert got[("tether_checks_total", "transient")] == 1
    assert [got[("tether_check_duration_seconds_bucket", le, "passed")]
            for le in ("0.25", "0.5", "1.0", "30.0", "60.0", "+Inf")] == [1, 1, 2, 2, 3, 3]
    assert got[("tether_check_duration_seconds_count", "passed")] == 3
    assert got[("tether_check_duration_seconds_sum", "passed")] == pytest.approx(45.9)
    assert got[("tether_check_duration_seconds_count", "refused")] == 0
    assert got[("tether_check_duration_seconds_count", "transient")] == 1
    assert 0 < got[("tether_check_duration_seconds_sum", "transient")] < 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.rcpt_tos)
        return "250 OK"


def test_a_notice_that_fails_is_counted_failing_until_its_retry_sends_it(accounts, scrape, app, monkeypatch):
    accounts.sign_up()
    box = factories.mailbox()
    relay = {"MAIL_SMTP_HOST": "127.0.0.1", "MAIL_SMTP_PORT": _closed_port(), "MAIL_SMTP_SECURITY": "none"}
    for key, value in relay.items():
        monkeypatch.setitem(app.config, key, value)
    record_failure(box.id, REVOKED)
    assert events.dispatch().failed == 1  # the bell rang; the relay refused the email
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], events.RETRY_AFTER.total_seconds() + 1)
    got = scrape()
    assert got[("tether_notices_failing", "email")] == 1 and got[("tether_notices_failing", "bell")] == 0
    assert got[("tether_notices_sent_total", "bell")] == 1 and got[("tether_notices_sent_total", "email")] == 0

    inbox = _Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=relay["MAIL_SMTP_PORT"])  # back up
    server.start()
    try:
        assert events.dispatch().delivered == 1
    finally:
        server.stop()
    assert inbox.received == [["owner@acme.test"]]
    got = scrape()
    assert got[("tether_notices_failing", "email")] == 0
    assert got[("tether_notices_sent_total", "email")] == 1


def test_the_age_of_the_last_sweep_is_infinite_before_the_first(scrape):
    assert scrape()[("tether_last_sweep_age_seconds",)] == math.inf
    readiness.beat("sweep")
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 90)
    assert 90 <= scrape()[("tether_last_sweep_age_seconds",)] < 100


def test_a_database_that_cannot_be_reached_fails_the_scrape_in_words(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    working = db.obj
    db.initialize(_unreachable(working))
    try:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        db.initialize(working)
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith("The database cannot be reached")
