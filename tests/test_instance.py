"""A database knows where it is live: a fresh one is live at once; one copied or restored
elsewhere sends nothing and checks no mailbox — its emails stay queued — until an operator
confirms it is now the only live copy. On both backends."""

import os
import stat
from datetime import timedelta

import pytest
from peewee import SqliteDatabase

import clock
from models import instance, outbox
from models.accounts import User
from models.base import db
from models.contacts import Contact
from models.instance import Instance
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import QUEUED, OutboxEmail
from models.sender_lease import OutboxSender
from models.sequences import create_sequence, enroll, save_step
from tests import factories

PAUSED = "Sending and mailbox checks are paused on this server."


def _sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


@pytest.fixture
def elsewhere(app, tmp_path):
    """Make the database look as if it is now used from another place than where it was live:
    for SQLite, another instance folder (a copy of tether.db carried to another server); for
    PostgreSQL, a database that was live on another server."""

    def move():
        if _sqlite():
            app.config["INSTANCE_DIR"] = str(tmp_path / "another-instance")
            os.mkdir(app.config["INSTANCE_DIR"], 0o700)
        else:
            Instance.update(home="postgresql:7000000000000000001/16384").execute()

    previous = app.config["INSTANCE_DIR"]
    yield move
    app.config["INSTANCE_DIR"] = previous


def _a_queued_email():
    """A running sequence whose first email is planned and waiting in the outbox."""
    owner = User.get()
    box = factories.mailbox(next_check_at=clock.now() - timedelta(minutes=1))
    Contact.create(team=owner.team_id, email="ada@client.test", first_name="Ada")
    sequence = create_sequence(owner.team_id, owner, name="Outreach", mailbox=box,
                               window_days="0,1,2,3,4,5,6", window_start=0, window_end=24 * 60,
                               timezone="UTC")
    save_step(sequence, owner, subject="Hello", body="Hi", delay_minutes=0)
    enroll(sequence, Contact.select(), owner)
    sequence.resume(owner)
    assert outbox.plan(Mailbox.get_by_id(box.id), clock.now()) == 1
    return box


def test_a_fresh_database_is_live_at_once_and_names_where(app, accounts):
    assert Instance.select().count() == 0  # as after `flask db upgrade` on an empty database
    assert instance.live()
    row = Instance.get()
    assert row.home == instance.here() and row.paused_since is None and len(row.instance_id) == 16
    if _sqlite():
        marker = os.path.join(app.config["INSTANCE_DIR"], "instance_id")
        assert stat.S_IMODE(os.stat(marker).st_mode) == 0o600
        assert row.home == "folder:" + open(marker).read().strip()
    else:
        oid = db.execute_sql("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        assert row.home.startswith("postgresql:") and row.home.endswith(f"/{oid}")
    accounts.sign_up()
    assert PAUSED not in accounts.client.get("/sequences").get_data(as_text=True)


def test_a_database_used_from_elsewhere_sends_and_checks_nothing_until_confirmed(
        app, accounts, elsewhere):
    from tasks import huey
    from tasks.checks import check_mailbox
    from tasks.sending import send_mailbox

    accounts.sign_up()
    box = _a_queued_email()
    assert instance.live()
    elsewhere()

    assert not instance.live()
    why = Instance.get().paused_why
    assert "it was copied or restored here" in why
    send_mailbox.call_local(box.id)
    check_mailbox.call_local(box.id, force=True)
    assert [r.status for r in OutboxEmail.select()] == [QUEUED]  # waiting, not failed
    assert OutboxSender.select().count() == 0  # no send pass even began
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.last_check_at is None and row.lease_owner == ""

    page = accounts.client.get("/sequences").get_data(as_text=True)
    assert PAUSED in page and "it was copied or restored here" in page
    assert "flask --app app instance confirm" in page
    runner = app.test_cli_runner()
    status = runner.invoke(args=["instance", "status"])
    assert status.exit_code == 0 and "paused since" in status.output and why in status.output

    confirmed = runner.invoke(args=["instance", "confirm"])
    huey.flush()  # the sweeps it asked for: no consumer runs in this test
    assert confirmed.exit_code == 0 and "Confirmed" in confirmed.output
    assert instance.live() and Instance.get().home == instance.here()
    assert PAUSED not in accounts.client.get("/sequences").get_data(as_text=True)
    again = runner.invoke(args=["instance", "confirm"])
    assert again.exit_code == 0 and "nothing to confirm" in again.output


def test_a_paused_database_stays_paused_wherever_it_is_opened_next(app, accounts, elsewhere):
    instance.state()
    instance.pause("It was restored from a backup taken at 2031-03-03 10:00 UTC.")
    elsewhere()
    assert not instance.live()
    assert Instance.get().paused_why == "It was restored from a backup taken at 2031-03-03 10:00 UTC."
