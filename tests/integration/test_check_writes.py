"""A healthy check is light on SQLite's single writer: the pages and the other checks wait on
each of its write transactions, so it makes two — its lease, then all it learnt."""

from pathlib import Path

import pytest
from peewee import SqliteDatabase

import clock
from models.base import db
from models.check_history import CheckHour, CheckTotal
from models.checks import SMTP_PROOF
from models.mailboxes import CONNECTED, Mailbox
from models.replies import InboxCursor
from tests.integration.conftest import sandbox_mailbox

pytestmark = pytest.mark.sandbox


def _commits_in_wal(database_file: str) -> int:
    """Write transactions committed since the WAL was last reset, read from the WAL itself:
    each one ends with a commit frame (a frame whose header gives the database's size)."""
    data = Path(database_file + "-wal").read_bytes()
    if len(data) < 32:
        return 0
    page_size, salts = int.from_bytes(data[8:12], "big"), data[16:24]
    commits, offset = 0, 32
    while offset + 24 + page_size <= len(data):
        header = data[offset:offset + 24]
        if header[8:16] != salts:
            break  # left over from before the reset
        commits += int.from_bytes(header[4:8], "big") != 0
        offset += 24 + page_size
    return commits


def test_a_healthy_check_commits_its_lease_then_everything_it_learnt_at_once(
        accounts, tether_sandbox, checker):
    if not isinstance(db.obj, SqliteDatabase):
        pytest.skip("SQLite's single writer is what this is about")
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    checker.check(box.id, force=True)  # the first check reads the INBOX from its start
    Mailbox.update(next_check_at=clock.now()).where(Mailbox.id == box.id).execute()  # due
    busy, _, _ = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0

    next_at = checker.check(box.id)  # its scheduled check: the access token is still valid

    assert _commits_in_wal(db.obj.database) == 2
    row = Mailbox.get_by_id(box.id)
    assert row.status == CONNECTED and row.next_check_at == next_at
    assert row.last_success_at == row.last_check_at and row.lease_owner == ""
    assert CheckHour.get(CheckHour.mailbox == box.id).passed == 2
    assert CheckTotal.get_by_id("passed").checks == 2  # /metrics' counter: in the same commit
    assert InboxCursor.get(InboxCursor.mailbox == box.id).fetched_at >= row.status_since


def test_a_forced_check_refreshes_a_valid_token_and_proves_smtp(accounts, tether_sandbox, checker):
    """A failed send or a push signal forces a check: an access token can outlive a
    revocation, so it refreshes, and it logs in to both servers."""
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    checker.check(box.id, force=True)
    before = Mailbox.get_by_id(box.id)
    assert before.access_expires_at > clock.now()  # valid: a scheduled check would not refresh

    checker.check(box.id, force=True)

    after = Mailbox.get_by_id(box.id)
    assert after.refreshed_at > before.refreshed_at
    assert after.smtp_proven_at > before.smtp_proven_at


def test_a_scheduled_check_proves_smtp_again_only_when_its_proof_is_an_hour_old(
        accounts, tether_sandbox, checker):
    accounts.sign_up()
    box = sandbox_mailbox(tether_sandbox, "google")
    checker.check(box.id, force=True)
    proven = Mailbox.get_by_id(box.id).smtp_proven_at

    Mailbox.update(next_check_at=clock.now()).where(Mailbox.id == box.id).execute()
    checker.check(box.id)
    assert Mailbox.get_by_id(box.id).smtp_proven_at == proven  # IMAP alone proved the token

    old = clock.now() - SMTP_PROOF
    Mailbox.update(next_check_at=clock.now(), smtp_proven_at=old).where(Mailbox.id == box.id).execute()
    checker.check(box.id)
    assert Mailbox.get_by_id(box.id).smtp_proven_at > old
