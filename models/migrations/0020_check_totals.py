"""All checks ever made per outcome, and their duration histogram, for /metrics. Starts at
zero: the hourly rows kept so far cover a week only, and counters may start anywhere."""

from peewee import BigIntegerField, CharField, DoubleField, Model


def up(migrator, db):
    class CheckTotal(Model):
        outcome = CharField(primary_key=True)
        checks = BigIntegerField(default=0)
        timed = BigIntegerField(default=0)
        seconds = DoubleField(default=0)
        le_0_25 = BigIntegerField(default=0)
        le_0_5 = BigIntegerField(default=0)
        le_1 = BigIntegerField(default=0)
        le_2_5 = BigIntegerField(default=0)
        le_5 = BigIntegerField(default=0)
        le_10 = BigIntegerField(default=0)
        le_30 = BigIntegerField(default=0)
        le_60 = BigIntegerField(default=0)
        le_inf = BigIntegerField(default=0)

        class Meta:
            database = db
            table_name = "check_total"

    db.create_tables([CheckTotal])


def down(migrator, db):
    db.execute_sql("DROP TABLE check_total")
