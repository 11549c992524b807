"""The Huey instance, built from configuration, and the task modules it runs.

SqliteHuey by default (one machine, no servers); RedisHuey when REDIS_URL is set, so any number
of consumers on any number of machines can share the queue. Start a consumer with
`huey_consumer tasks.huey -k thread -w 4`. Tasks take ids, never objects or secrets.
"""

import functools
import os

from huey import RedisHuey, SqliteHuey

import clock
import config
from models.base import db, init_db
from models.crypto import open_vault

settings = config.load()


def _refuse_missing_keys():
    """The worker, like the web app, refuses to start without a key the database still
    needs. Huey logs and ignores errors raised in on_startup hooks, so this runs while the
    consumer imports this module: the error ends it, with the reason. In the web app the
    database is bound already and create_app has checked."""
    if db.obj is None:
        init_db(settings["DATABASE_URL"])
        open_vault(settings["TETHER_ENCRYPTION_KEYS"])


_refuse_missing_keys()


def _build_huey():
    immediate = os.environ.get("TETHER_HUEY_IMMEDIATE") == "1"
    if settings["REDIS_URL"]:
        return RedisHuey("tether", url=settings["REDIS_URL"], immediate=immediate)
    config.private_file(settings["HUEY_SQLITE_PATH"])  # queued task arguments are private too
    return SqliteHuey("tether", filename=settings["HUEY_SQLITE_PATH"], immediate=immediate)


huey = _build_huey()


@huey.on_startup()
def _bind_database():
    """Each consumer binds the models to the configured database once."""
    clock.configure(settings["TETHER_CLOCK_FILE"])
    if db.obj is None:
        init_db(settings["DATABASE_URL"])


def with_db(fn):
    """Run a task inside its own short-lived connection; writes still use db.atomic()."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if db.obj is None:  # immediate mode or a task run in-process
            _bind_database()
        with db.connection_context():
            return fn(*args, **kwargs)

    return wrapper


from tasks import checks, demo, notices, sending, signups, system  # noqa: E402,F401  (register tasks and handlers)
