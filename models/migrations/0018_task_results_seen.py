"""When retention first saw each of the task queue's stored results (Huey keeps no date):
a result still there N days later is one nobody will read."""

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class TaskResultSeen(Model):
        key = CharField(primary_key=True)
        seen_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "task_result_seen"

    db.create_tables([TaskResultSeen])


def down(migrator, db):
    db.execute_sql("DROP TABLE task_result_seen")
