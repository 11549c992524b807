"""Upgrading builds Mailbox health's past incidents (migration 0031): a database whose mailboxes
have months of status history but no incident rows — what a version before the incidents
were kept left — is upgraded, and the incidents and the page's statistics are exactly what
the live path (models/mailbox_health.rebuild) records from the same history; on the backend
DATABASE_URL names."""

import importlib
from dataclasses import replace
from datetime import timedelta

from models import base, mailbox_health
from models.accounts import User
from models.health import record_failure, record_success, transition
from models.mailbox_health import MailboxIncident
from models.mailboxes import CONNECTED, RECONNECT_REQUIRED
from tests import factories
from tests.scratch_database import scratch_database
from tests.test_mailbox_health import OUTAGE, REFUSED, _hours_ago

BACKFILL = "0031_backfill_incidents"


def _previous() -> str:
    names = [m.name for m in base.migration_status()]
    return names[names.index(BACKFILL) - 1]


def _kept() -> list[tuple]:
    return sorted((i.mailbox_id, i.started_at, i.ended_at, i.cause) for i in MailboxIncident.select())


def _team_figures(ids) -> list:
    """The team's figures per period, durations to the minute: an open incident's age grows
    with the clock between two readings (a slow backend crosses a second)."""
    measured = mailbox_health.measured(ids)

    def minutes(value):
        return timedelta(minutes=round(value.total_seconds() / 60)) if value is not None else None

    return [replace(f, median=minutes(f.median), worst=minutes(f.worst),
                    longest_wait=minutes(f.longest_wait), waited=minutes(f.waited))
            for f in (mailbox_health.figures(measured, d, d * 86400.0)
                      for d in mailbox_health.PERIODS)]


def _older_version_history():
    """alex: broken twice over the last 80 days (3 h, then 2 h from the first failed check)
    and a hiccup that healed by itself; bo: broken 5 h ago, still; cy: broken and mended
    after the upgrade to 0025, so the live path already kept its incident; dee: broken
    since before the history kept (none left), still. Transitions are the real ones; only
    the event handler that keeps the incidents does not run, as in the older version."""
    User.sign_up("owner@acme.test", "correct-horse-9", name="Owner", team_name="Acme")
    _hours_ago(24 * 85)
    alex, bo, cy = (factories.mailbox(email=f"{n}@acme.test") for n in ("alex", "bo", "cy"))
    dee = factories.mailbox(email="dee@acme.test", status=RECONNECT_REQUIRED,
                            status_cause="Token has been expired or revoked.")
    steps = [(24 * 80, alex, REFUSED), (24 * 80 - 3, alex, CONNECTED), (48, alex, OUTAGE),
             (47.8, alex, REFUSED), (46, alex, CONNECTED), (30, alex, OUTAGE), (29, alex, "passed"),
             (5, bo, REFUSED), (20, cy, REFUSED), (19, cy, CONNECTED)]
    for hours, mailbox, what in sorted(steps, key=lambda s: -s[0]):
        _hours_ago(hours)
        if what == CONNECTED:
            assert transition(mailbox.id, CONNECTED, cause="Reconnected.")
        elif what == "passed":
            assert record_success(mailbox.id)
        else:
            assert record_failure(mailbox.id, what)
    _hours_ago(0)
    mailbox_health.rebuild(cy.id)  # the live path ran for cy after 0025
    return alex, bo, cy, dee


def test_an_upgrade_builds_past_incidents_as_the_live_path_would_and_again_adds_nothing(app, tmp_path):
    with scratch_database(tmp_path, "incidents"):
        base.migrate(target=_previous())
        alex, bo, cy, dee = _older_version_history()
        ids = [m.id for m in (alex, bo, cy, dee)]
        assert [row[0] for row in _kept()] == [cy.id]  # only cy's, as the older version left it

        assert BACKFILL in base.migrate()

        upgraded, figures = _kept(), _team_figures(ids)
        assert sorted(row[0] for row in upgraded) == sorted([alex.id, alex.id, bo.id, cy.id, dee.id])
        quarter = figures[-1]
        assert (quarter.incidents, quarter.still_open) == (5, 2)
        week = figures[0]
        assert (week.incidents, week.still_open) == (4, 2)  # alex's 80 days ago is not in it
        assert abs(quarter.worst.total_seconds() - 3600 * 24 * 85) < 120  # dee: since created

        for mailbox_id in ids:  # what the live path records from the same history
            mailbox_health.rebuild(mailbox_id)
        assert _kept() == upgraded
        assert _team_figures(ids) == figures

        importlib.import_module(f"models.migrations.{BACKFILL}").up(None, base.db.obj)
        assert _kept() == upgraded  # run again: every mailbox is done


def test_the_backfill_reads_the_history_once_and_writes_in_batches(app, tmp_path):
    """200 mailboxes with 90 days of history (the benchmark's seed, a fifth of it) are done
    in three reads and an INSERT per hundred incidents, whatever the number of mailboxes:
    what keeps a thousand mailboxes' upgrade to about a second (bench/README.md)."""
    from tests.health_seed import seed

    with scratch_database(tmp_path, "many"):
        base.migrate()
        owner = User.sign_up("owner@acme.test", "correct-horse-9", team_name="Acme")
        seed(owner, mailboxes=200, days=90)
        live = _kept()
        MailboxIncident.delete().execute()  # as before the upgrade
        database, statements = base.db.obj, []
        execute_sql = database.execute_sql

        def counted(sql, params=None, *args, **kwargs):
            statements.append(sql.split()[0])
            return execute_sql(sql, params, *args, **kwargs)

        database.execute_sql = counted
        try:
            importlib.import_module(f"models.migrations.{BACKFILL}").up(None, database)
        finally:
            del database.execute_sql

        assert _kept() == live and len(live) > 500
        assert statements == ["SELECT"] * 3 + ["INSERT"] * -(-len(live) // 100)
