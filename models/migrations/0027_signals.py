"""Push revocation signals (issue #20): the OpenID subject each OAuth mailbox was connected
as, a signal-forced check waiting per mailbox, the SET ids already seen and each provider's
stream."""

import datetime

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("mailbox", "openid_iss", CharField(default="")),
        migrator.add_column("mailbox", "openid_sub", CharField(default="")),
        migrator.add_column("mailbox", "signal_pending_since", DateTimeField(null=True)),
        migrator.add_column("mailbox", "signal_checked_from", DateTimeField(null=True)),
        migrator.add_index("mailbox", ("openid_sub",), False),
    )

    class SignalSeen(Model):
        issuer = CharField()
        jti = CharField()
        received_at = DateTimeField(default=datetime.datetime.utcnow, index=True)

        class Meta:
            database = db
            table_name = "signal_seen"
            indexes = ((("issuer", "jti"), True),)

    class SignalStream(Model):
        provider = CharField(primary_key=True)
        endpoint_url = CharField(default="")
        registered_at = DateTimeField(null=True)
        verified_at = DateTimeField(null=True)
        last_signal_at = DateTimeField(null=True)
        last_event = CharField(default="")

        class Meta:
            database = db
            table_name = "signal_stream"

    db.create_tables([SignalSeen, SignalStream])


def down(migrator, db):
    db.execute_sql("DROP TABLE signal_stream")
    db.execute_sql("DROP TABLE signal_seen")
    migrator.migrate(
        migrator.drop_index("mailbox", "mailbox_openid_sub"),
        migrator.drop_column("mailbox", "signal_checked_from"),
        migrator.drop_column("mailbox", "signal_pending_since"),
        migrator.drop_column("mailbox", "openid_sub"),
        migrator.drop_column("mailbox", "openid_iss"),
    )
