"""The operator's commands (`flask --app app NAME`), one module per topic.

Each module has a `register(app)` that adds its commands or groups; create_app calls them all.
"""

from commands import backup, db, demo, instance, keys, mail, signals, users

MODULES = (db, demo, keys, mail, users, backup, instance, signals)


def register(app) -> None:
    for module in MODULES:
        module.register(app)
