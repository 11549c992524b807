"""When the worker's periodic jobs last ran, for /readyz."""

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class Beat(Model):
        name = CharField(primary_key=True)
        at = DateTimeField()

        class Meta:
            database = db
            table_name = "beat"

    db.create_tables([Beat])


def down(migrator, db):
    db.execute_sql("DROP TABLE beat")
