"""A backup taken while checks run against the sandbox, restored on another server (a fresh
instance folder): its mailboxes are still connected and their secrets readable, but it sends
nothing and checks nothing until the operator confirms it is the only live copy — then it
sends. SQLite: the database file is what is backed up (PostgreSQL uses pg_dump)."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from peewee import SqliteDatabase

import clock
import config
from models import crypto, instance, outbox
from models.accounts import User
from models.base import db, init_db
from models.mailboxes import CONNECTED, Mailbox
from models.outbox import QUEUED, SENT, OutboxEmail
from tests.integration.conftest import sandbox_mailbox
from tests.integration.test_sending import mail_of, recipients, running
from tests.support import Accounts, wait_for

pytestmark = pytest.mark.sandbox
ROOT = Path(__file__).resolve().parent.parent.parent
PAUSED = "Sending and mailbox checks are paused on this server."


@pytest.fixture
def another_server(app):
    """Start Tether in this process on another server's instance folder; the suite's own
    database, keys and settings come back after the test."""
    import tasks.checks
    import tasks.sending
    from mail import providers

    previous_vault = crypto.vault()

    def start(folder: Path, keys: str):
        from app import create_app

        # The tasks keep one checker and one sender per process, built at first use: this
        # "process" starts anew, with the other server's settings.
        tasks.checks._checker = tasks.sending._sender = None
        return create_app({"TESTING": True, "INSTANCE_DIR": str(folder), "TETHER_ENCRYPTION_KEYS": keys,
                           "DATABASE_URL": f"sqlite:///{folder / 'tether.db'}"})

    yield start
    tasks.checks._checker = tasks.sending._sender = None
    init_db(app.config["DATABASE_URL"])
    crypto.use_vault(previous_vault)
    config.use(app.config)
    providers.use(app.extensions["tests_catalog"])


def _flask_on(folder: Path, *args, keys: str):
    env = {**os.environ, "TETHER_INSTANCE_DIR": str(folder), "TETHER_ENCRYPTION_KEYS": keys,
           "DATABASE_URL": f"sqlite:///{folder / 'tether.db'}", "PYTHONPATH": str(ROOT),
           "HUEY_SQLITE_PATH": str(folder / "huey.db")}
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run([str(flask), "--app", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def _checking(checker, mailbox_id, stop, done):
    """What a worker does all day, as fast as it can: check the mailbox."""
    with db.connection_context():
        while not stop.is_set():  # scheduled checks, due at once (a forced one refreshes)
            Mailbox.update(next_check_at=clock.now()).where(Mailbox.id == mailbox_id).execute()
            checker.check(mailbox_id)
            done.append(clock.now())


def test_a_backup_taken_while_checking_restores_connected_but_sends_only_once_confirmed(
        app, accounts, tether_sandbox, checker, another_server, tmp_path):
    if not isinstance(db.obj, SqliteDatabase):
        pytest.skip("SQLite's own file; PostgreSQL backs up with pg_dump")
    from tasks.checks import check_mailbox
    from tasks.sending import send_mailbox

    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    (ada,) = recipients(tether_sandbox, "ada@client.test")
    running(User.get(), box, contacts=[ada], steps=[("Hello from the restored copy", "Hi", 0)])
    assert outbox.plan(Mailbox.get_by_id(box.id), clock.now()) == 1  # waiting to go out
    tokens = (Mailbox.get_by_id(box.id).access_token.reveal(),
              Mailbox.get_by_id(box.id).refresh_token.reveal())
    backup, keys = tmp_path / "tether-backup.db", app.config["TETHER_ENCRYPTION_KEYS"]

    stop, done = threading.Event(), []
    thread = threading.Thread(target=_checking, args=(checker, box.id, stop, done))
    thread.start()
    try:
        wait_for(lambda: len(done) >= 2, "checks under way")
        taken = app.test_cli_runner().invoke(args=["backup", str(backup)])
        during = len(done)
        wait_for(lambda: len(done) >= during + 2, "checks carrying on after the backup")
    finally:
        stop.set()
        thread.join(30)
    assert taken.exit_code == 0, taken.output

    server = tmp_path / "another-server"
    restored = _flask_on(server, "restore", str(backup), keys=keys)
    assert restored.returncode == 0, restored.stderr
    assert "paused" in restored.stdout

    other = another_server(server, keys)
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and (row.access_token.reveal(), row.refresh_token.reveal()) == tokens
    assert not instance.live()
    # A check the backup caught mid-way left its lease: it expires as a crashed worker's does.
    clock.set_offset(os.environ["TETHER_CLOCK_FILE"], 120)
    client = other.test_client()
    Accounts(client).log_in()
    page = client.get("/sequences").get_data(as_text=True)
    assert PAUSED in page and "It was restored from a backup taken at" in page

    checked_at = row.last_check_at
    check_mailbox.call_local(box.id, force=True)
    send_mailbox.call_local(box.id)
    assert Mailbox.get_by_id(box.id).last_check_at == checked_at  # no check, no token refresh
    assert [r.status for r in OutboxEmail.select()] == [QUEUED] and mail_of(tether_sandbox, ada) == []

    confirmed = _flask_on(server, "instance", "confirm", keys=keys)
    assert confirmed.returncode == 0 and "Confirmed" in confirmed.stdout, confirmed.stderr
    assert instance.live() and PAUSED not in client.get("/sequences").get_data(as_text=True)
    send_mailbox.call_local(box.id)
    messages = wait_for(lambda: mail_of(tether_sandbox, ada), "the email, sent by the restored copy",
                        deadline=10)
    assert [m["Subject"] for m in messages] == ["Hello from the restored copy"]
    assert [r.status for r in OutboxEmail.select()] == [SENT]
    check_mailbox.call_local(box.id, force=True)
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.last_check_at > checked_at + timedelta(seconds=60)
