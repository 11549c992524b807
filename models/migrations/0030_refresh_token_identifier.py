"""Google's identifier of each mailbox's refresh token (issue #20: a token-revoked signal names
the token, not the user), filled in for the tokens already stored.

The backfill decrypts each stored refresh token once, here, and keeps only the hash. A token no
configured key opens is left without one: that mailbox cannot refresh either, and the reconnect
that fixes it stores the identifier with the new token.
"""

import logging

from peewee import CharField

log = logging.getLogger(__name__)


def up(migrator, db):
    from mail.token_identifiers import token_identifier
    from models.crypto import SecretUnreadable, vault

    migrator.migrate(
        migrator.add_column("mailbox", "refresh_token_identifier", CharField(default="")),
        migrator.add_index("mailbox", ("refresh_token_identifier",), False),
    )
    rows = db.execute_sql("SELECT id, refresh_token FROM mailbox "
                          "WHERE refresh_token IS NOT NULL").fetchall()
    skipped = 0
    for mailbox_id, sealed in rows:
        try:
            identifier = token_identifier(vault().decrypt(sealed))
        except SecretUnreadable:
            skipped += 1
            continue
        db.execute_sql("UPDATE mailbox SET refresh_token_identifier = %s WHERE id = %s"
                       .replace("%s", db.param), (identifier, mailbox_id))
    if skipped:
        log.warning("%d refresh token(s) no configured key opens: their mailboxes get a token "
                    "identifier when reconnected", skipped)


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("mailbox", "mailbox_refresh_token_identifier"),
        migrator.drop_column("mailbox", "refresh_token_identifier"),
    )
