"""The instance's identity and where its database is live (models/instance.py: a copied or
restored database sends nothing until confirmed), and the processes running it with the
encryption keys each holds (models/processes.py: rotate-keys asks them first)."""

import datetime

from peewee import *


def up(migrator, db):
    class Instance(Model):
        key = IntegerField(primary_key=True, default=1)
        instance_id = CharField()
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        home = CharField()
        paused_since = DateTimeField(null=True)
        paused_why = TextField(default="")

        class Meta:
            database = db
            table_name = "instance"

    class ProcessReport(Model):
        process = CharField(primary_key=True)
        host = CharField()
        pid = IntegerField()
        started = CharField(default="")
        program = CharField(default="")
        key_ids = CharField()
        reported_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            table_name = "process_report"

    db.create_tables([Instance, ProcessReport])


def down(migrator, db):
    db.execute_sql("DROP TABLE process_report")
    db.execute_sql("DROP TABLE instance")
