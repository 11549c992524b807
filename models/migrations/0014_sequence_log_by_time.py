"""The sequence log is read newest first by the time things happened (a late-written entry
carries its event's time), so it is indexed that way."""


def up(migrator, db):
    db.execute_sql("CREATE INDEX sequence_log_sequence_id_created_at "
                   "ON sequence_log (sequence_id, created_at)")


def down(migrator, db):
    db.execute_sql("DROP INDEX sequence_log_sequence_id_created_at")
