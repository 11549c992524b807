"""Contacts people edit and re-import (issue #18): their own custom fields, an import that
counts the contacts it updated and those it left unchanged, and the index that pages the
team's contacts newest first."""

from peewee import IntegerField, TextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("contact", "custom_fields", TextField(default="{}")),
        migrator.add_column("contact_import", "updated", IntegerField(default=0)),
        migrator.add_column("contact_import", "unchanged", IntegerField(default=0)),
        migrator.add_column("contact_import", "update_count", IntegerField(default=0)),
        migrator.add_index("contact", ("team_id", "created_at", "id"), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("contact", "contact_team_id_created_at_id"),
        migrator.drop_column("contact_import", "update_count"),
        migrator.drop_column("contact_import", "unchanged"),
        migrator.drop_column("contact_import", "updated"),
        migrator.drop_column("contact", "custom_fields"),
    )
