"""Mailbox health's past incidents after an upgrade: 0025 created `mailbox_incident` empty, and
a mailbox's incidents were only read from its status history at its next reconnect_required or
connected transition — so a mailbox that had none since showed no incidents at all. This
builds them now, from the history still kept, for every mailbox that has no incident rows.

The rule is models.mailbox_health.incidents_in(), a pure function the live path runs too: a
copy here would be a second place for it, free to drift from the one the page follows. The
rows are read and written with plain SQL (the tables as they are at this migration), the
history in one pass ordered by mailbox, written in batches: 1,000 mailboxes with 90 days of
history take well under a second. Run again, it finds every mailbox done and adds nothing.
The waits of the emails delayed are left to the worker's settle pass, as for a live
incident; until then the page counts them from the outbox."""

from itertools import groupby

from models.mailbox_health import incidents_in

BATCH = 100  # rows per INSERT: 7 parameters each stays under SQLite's oldest limit of 999


def up(migrator, db):
    done = {m for (m,) in db.execute_sql("SELECT DISTINCT mailbox_id FROM mailbox_incident")}
    mailboxes = {m[0]: m[1:] for m in db.execute_sql(
        "SELECT id, status, status_since, status_cause, deleted_at FROM mailbox")}
    history = db.execute_sql("SELECT mailbox_id, at, to_status, kind, cause FROM mailbox_history "
                             "ORDER BY mailbox_id, at, id")
    walked, found = set(), []
    for mailbox_id, rows in groupby(history, key=lambda row: row[0]):
        walked.add(mailbox_id)
        if mailbox_id not in done and mailbox_id in mailboxes:
            found += _incidents(mailbox_id, [row[1:] for row in rows], mailboxes[mailbox_id])
    for mailbox_id, state in mailboxes.items():  # in reconnect_required with no history left
        if mailbox_id not in done and mailbox_id not in walked:
            found += _incidents(mailbox_id, [], state)
    marks = "(" + ", ".join([db.param] * 7) + ")"  # placeholders only: the values are parameters
    for start in range(0, len(found), BATCH):
        batch = found[start:start + BATCH]
        db.execute_sql("INSERT INTO mailbox_incident (mailbox_id, started_at, ended_at, cause, "  # noqa: S608
                       "delayed, waited, longest) VALUES " + ", ".join([marks] * len(batch)),
                       [value for row in batch for value in row])


def _incidents(mailbox_id, history, state) -> list[tuple]:
    status, status_since, status_cause, deleted_at = state
    return [(mailbox_id, started, ended, cause or "", None, 0, 0) for started, ended, cause
            in incidents_in(history, status, status_since, status_cause or "", deleted_at is not None)]


def down(migrator, db):
    pass  # the rows are what the live path would have written: nothing to undo
