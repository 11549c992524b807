"""The Huey instance, built from configuration, and the task modules it runs.

SqliteHuey by default (one machine, no servers); RedisHuey when REDIS_URL is set, so any number
of consumers on any number of machines can share the queue. Start a consumer with
`huey_consumer tasks.worker.huey -k thread -w 4` (tasks/worker.py runs start() first). The web
app imports this module only to enqueue, so importing it connects to nothing and writes
nothing. Tasks take ids, never objects or secrets.
"""

import functools
import logging
import os
import threading

from huey import RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

import clock
import config
from models.base import db, init_db, refuse_newer_database
from models.crypto import open_vault

log = logging.getLogger(__name__)

# What the queue is built from at import (REDIS_URL, the SQLite path): read, never created.
# Tasks read config.current(), the settings start() (or create_app, in-process) loaded.
_queue_settings = config.read()
_start_lock = threading.Lock()
_started = False


def start() -> dict:
    """The worker's start-up, once per process: the settings loaded (which creates the
    instance folder and, in development, its secrets), the clock, the database (refused when
    a newer Tether migrated it), and the encryption keys checked against the database —
    ConfigError when a key the database still uses is missing. In the web app create_app
    has bound the database and checked."""
    global _started
    with _start_lock:
        if not _started:
            # Run in the web app's process (tests, the immediate queue), the tasks share the
            # settings create_app loaded, overrides included.
            loaded = config.current()  # started by create_app in-process, else now
            clock.configure(loaded["TETHER_CLOCK_FILE"])
            if db.obj is None:
                init_db(loaded["DATABASE_URL"])
                refuse_newer_database()
                open_vault(loaded["TETHER_ENCRYPTION_KEYS"])
            from mail import system_mailer

            system_mailer.warn_if_missing(loaded)  # once per process: notices would wait
            _started = True
    return config.current()


class _PrivateSqliteStorage(SqliteStorage):
    """Huey's SQLite storage, its file created readable by this account only (queued task
    arguments are private too) and its tables made at the first connection, not when the
    Huey instance is built at import."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, create_tables=False, **kwargs)
        self._tables_made = False

    def _create_connection(self):
        if not self._tables_made:
            config.private_file(self.filename)
        conn = super()._create_connection()
        if not self._tables_made:  # Huey's own schema, in Huey's own way: one transaction
            conn.execute(self.begin_sql)
            for sql in self.ddl:
                conn.execute(sql)
            conn.execute("commit")
            self._tables_made = True
        return conn


def _build_huey():
    immediate = os.environ.get("TETHER_HUEY_IMMEDIATE") == "1"
    if _queue_settings["REDIS_URL"]:
        return RedisHuey("tether", url=_queue_settings["REDIS_URL"], immediate=immediate)
    return SqliteHuey("tether", filename=_queue_settings["HUEY_SQLITE_PATH"], immediate=immediate,
                      storage_class=_PrivateSqliteStorage)


huey = _build_huey()


@huey.on_startup()
def _start_in_consumer():
    """Each worker runs this before its first task (it is the first hook registered). After
    tasks.worker it finds start() done; a consumer started as `huey_consumer tasks.huey`
    starts here. Huey logs and ignores an exception raised in a hook, so a refusal ends the
    process itself: a worker must not run tasks with a key missing."""
    try:
        start()
    except Exception as e:  # whatever stops start-up stops the worker
        log.critical("Tether's worker refuses to start: %s", e)
        os._exit(1)


def with_db(fn):
    """Run a task inside its own short-lived connection; writes still use db.atomic()."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if db.obj is None:  # a task run in-process before anything bound the database
            start()
        with db.connection_context():
            return fn(*args, **kwargs)

    return wrapper


from tasks import (  # noqa: E402,F401  (register tasks and handlers)
    checks,
    demo,
    notices,
    password_reset,
    retention,
    sending,
    signals,
    signups,
    system,
)
