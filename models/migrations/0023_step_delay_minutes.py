"""A step's wait is one number of minutes (shown in minutes, hours or days) instead of whole
days plus whole hours: "right after email 1" and "30 minutes later" become sayable."""

from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column("sequence_step", "delay_minutes", IntegerField(default=0)))
    db.execute_sql("UPDATE sequence_step SET delay_minutes = delay_days * 1440 + delay_hours * 60")
    migrator.migrate(
        migrator.drop_column("sequence_step", "delay_hours"),
        migrator.drop_column("sequence_step", "delay_days"),
    )


def down(migrator, db):
    # Whole hours only on the way back: a wait of 90 minutes becomes 1 hour.
    migrator.migrate(
        migrator.add_column("sequence_step", "delay_days", IntegerField(default=0)),
        migrator.add_column("sequence_step", "delay_hours", IntegerField(default=0)),
    )
    # Integer division both sides; no "%", which the PostgreSQL driver reads as a parameter.
    db.execute_sql("UPDATE sequence_step SET delay_days = delay_minutes / 1440, "
                   "delay_hours = (delay_minutes - delay_minutes / 1440 * 1440) / 60")
    migrator.migrate(migrator.drop_column("sequence_step", "delay_minutes"))
