"""Upgrading keeps what people stored: a database built and filled by an older version (here,
migrated up to 0010) is migrated to the newest and found intact, its stored secrets still
readable; going back down to a named migration and up again keeps it too; and every
migration's down() runs, on the backend DATABASE_URL names."""

import pytest
from playhouse.migrations import MigrationError

import clock
from models import base
from models.accounts import Team, User, hash_password
from models.contacts import Contact
from models.mailboxes import Mailbox
from models.outbox import OutboxEmail
from models.sequences import Enrollment, Sequence, SequenceStep
from tests.scratch_database import columns, insert_as_of_now, scratch_database
from tests.test_schema import _schema

OLD = "0010_check_hours"
SECRET = "hunter2-imap-password"


def _fill_as_an_older_version() -> dict:
    """A team with its owner, a password mailbox, a sequence with two contacts, one email sent
    and one queued — written with only the columns the schema has at this point. One
    sequence carries the "day 56" an old form let through (0013 repairs it)."""
    now = clock.now()
    team = insert_as_of_now(Team, name="Acme")
    owner = insert_as_of_now(User, email="owner@acme.test", name="Owner", team=team,
                             role="owner", password_hash=hash_password("correct-horse-9"))
    mailbox = insert_as_of_now(Mailbox, team=team, connected_by=owner, email="pat@acme.test",
                               provider="other", status="connected", imap_host="imap.acme.test",
                               smtp_host="smtp.acme.test", username="pat", password=SECRET)
    sequence = insert_as_of_now(Sequence, team=team, name="Q4 outreach", mailbox=mailbox,
                                created_by=owner, paused=False, window_days="0,1,56")
    # A wait of 2 days 3 hours, as days and hours before 0023, as minutes since.
    step = insert_as_of_now(SequenceStep, sequence=sequence, position=0, subject="Hello",
                            body="Hi {{first_name}}", delay_days=2, delay_hours=3,
                            delay_minutes=2 * 1440 + 3 * 60)
    rows = {"team": team, "owner": owner, "mailbox": mailbox, "sequence": sequence, "step": step}
    for n, (email, status) in enumerate((("jordan@globex.test", "sent"),
                                         ("casey@initech.test", "queued"))):
        contact = insert_as_of_now(Contact, team=team, email=email, first_name=email[:5])
        enrollment = insert_as_of_now(Enrollment, sequence=sequence, contact=contact)
        rows[f"outbox{n}"] = insert_as_of_now(
            OutboxEmail, enrollment=enrollment, step=step, sequence=sequence, contact=contact,
            position=0, status=status, due_at=now, mailbox=mailbox, to_email=email,
            subject="Hello", message_id=f"<m{n}@acme.test>" if status == "sent" else None)
    return rows


def _assert_intact(rows: dict, repaired: bool = True) -> None:
    team = Team.get_by_id(rows["team"])
    assert team.name == "Acme"
    owner = User.authenticate("owner@acme.test", "correct-horse-9")
    assert owner is not None and owner.id == rows["owner"] and owner.team_id == team.id
    mailbox = Mailbox.get_by_id(rows["mailbox"])
    assert (mailbox.email, mailbox.status, mailbox.username) == ("pat@acme.test", "connected", "pat")
    assert mailbox.password.reveal() == SECRET  # still decrypts with the same keys
    sequence = Sequence.get_by_id(rows["sequence"])
    assert sequence.name == "Q4 outreach" and sequence.mailbox_id == mailbox.id
    assert sequence.window_days == ("0,1" if repaired else "0,1,56")
    assert sorted(c.email for c in Contact.select()) == ["casey@initech.test", "jordan@globex.test"]
    assert SequenceStep.get_by_id(rows["step"]).delay_text == "2 days 3 hours"
    sent = OutboxEmail.get_by_id(rows["outbox0"])
    assert (sent.status, sent.message_id, sent.to_email) == ("sent", "<m0@acme.test>",
                                                             "jordan@globex.test")
    assert OutboxEmail.get_by_id(rows["outbox1"]).status == "queued"


def test_an_older_database_with_data_upgrades_to_the_newest_intact(app, tmp_path):
    with scratch_database(tmp_path, "older"):
        assert base.migrate(target=OLD)[-1] == OLD
        assert "session_generation" not in columns("user")  # really the older schema
        rows = _fill_as_an_older_version()

        applied = base.migrate()
        assert applied[0] == "0011_replies"
        assert not [m.name for m in base.migration_status() if not m.applied]
        _assert_intact(rows)
        user = User.get_by_id(rows["owner"])
        mailbox = Mailbox.get_by_id(rows["mailbox"])
        assert user.session_generation == 0 and mailbox.warmup_step == 0  # later columns


def test_downgrade_to_a_name_then_upgrade_again_keeps_the_data(app, tmp_path):
    with scratch_database(tmp_path, "downgrade"):
        base.migrate()
        rows = _fill_as_an_older_version()

        undone = base.downgrade(OLD)
        assert undone[0] == base.migration_status()[-1].name and undone[-1] == "0011_replies"
        assert [m.name for m in base.migration_status() if m.applied][-1] == OLD
        assert "inbound_message" not in base.db.obj.get_tables()  # 0011's table went
        assert "session_generation" not in columns("user")      # 0012's column went
        assert {"team", "user", "mailbox", "outbox_email"} <= set(base.db.obj.get_tables())

        base.migrate()
        _assert_intact(rows)


def test_a_downgrade_to_the_newest_migration_undoes_nothing(app, tmp_path):
    with scratch_database(tmp_path, "noop"):
        base.migrate()
        newest = base.migration_status()[-1].name
        assert base.downgrade(newest) == []
        assert base.downgrade(newest.split("_")[0]) == []  # the number alone names it too


def test_a_downgrade_to_an_unknown_name_is_refused_and_changes_nothing(app, tmp_path):
    with scratch_database(tmp_path, "unknown"):
        base.migrate()
        before = _schema(base.db.obj)
        with pytest.raises(MigrationError, match="no migration called '0099_nothing'"):
            base.downgrade("0099_nothing")
        assert _schema(base.db.obj) == before
        assert all(m.applied for m in base.migration_status())


def test_every_down_runs_and_up_again_builds_the_same_schema(app, tmp_path):
    """Up all → down all → up all: each down() runs once, on tables holding rows, and they
    undo exactly their up()."""
    with scratch_database(tmp_path, "roundtrip"):
        applied = base.migrate()
        built = _schema(base.db.obj)
        _fill_as_an_older_version()
        assert base.downgrade(None) == list(reversed(applied))
        assert set(base.db.obj.get_tables()) <= {"schema_migration"}
        assert base.migrate() == applied
        assert _schema(base.db.obj) == built


BROKEN = '''
from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column("team", "half_done", IntegerField(default=0)))
    raise RuntimeError("this migration fails half-way")


def down(migrator, db):
    migrator.migrate(migrator.drop_column("team", "half_done"))
'''


def test_a_migration_that_fails_leaves_nothing_half_applied(app, tmp_path):
    """Each migration runs in its own transaction (SQLite and PostgreSQL both roll DDL back):
    the failed one left no column, is not recorded, and the ones before it stay applied."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(base.MIGRATIONS_DIR.glob("[0-9]*.py")):
        (folder / path.name).write_text(path.read_text())
    (folder / "0999_broken.py").write_text(BROKEN)
    with scratch_database(tmp_path, "broken"):
        with pytest.raises(RuntimeError, match="fails half-way"):
            base.migrate(folder)
        assert "half_done" not in columns("team")
        status = {m.name: m.applied for m in base.migration_status(folder)}
        assert status.pop("0999_broken") is None and all(status.values())
        base.db.obj.execute_sql("INSERT INTO team (name, created_at) VALUES ('still works', "
                                f"{base.db.obj.param})", (clock.now(),))


def test_the_upgrade_to_0030_gives_each_stored_refresh_token_its_google_identifier(app, tmp_path):
    """A token-revoked signal names the refresh token by Google's hash: the tokens stored
    before 0030 get theirs, computed from the decrypted token; one no key opens gets none
    (and the upgrade still succeeds)."""
    from mail.token_identifiers import token_identifier
    from models.crypto import _Sealed

    with scratch_database(tmp_path, "identifiers"):
        base.migrate(target="0029_smtp_proven_at")
        rows = _fill_as_an_older_version()
        held = insert_as_of_now(Mailbox, team=rows["team"], connected_by=rows["owner"],
                                email="alex@acme.test", provider="google", status="connected",
                                refresh_token="1//sbx-held-token")
        lost = insert_as_of_now(Mailbox, team=rows["team"], connected_by=rows["owner"],
                                email="sam@acme.test", provider="google", status="connected",
                                refresh_token=_Sealed("gone:not-a-token-any-key-opens"))

        assert base.migrate(target="0030_refresh_token_identifier") == ["0030_refresh_token_identifier"]
        assert Mailbox.get_by_id(held).refresh_token_identifier == token_identifier(
            "1//sbx-held-token")
        assert Mailbox.get_by_id(lost).refresh_token_identifier == ""
        assert Mailbox.get_by_id(rows["mailbox"]).refresh_token_identifier == ""  # a password
        _assert_intact(rows, repaired=False)  # 0013 ran before these rows were written
