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

import redis
from huey import PriorityRedisHuey, SqliteHuey
from huey.storage import PriorityRedisStorage, RedisPriorityQueue, SqliteStorage
from playhouse.pool import PooledDatabase

import clock
import config
from models.base import db, init_db, refuse_newer_database
from models.crypto import open_vault

log = logging.getLogger(__name__)

# What the queue is built from at import (REDIS_URL, the SQLite path): read, never created.
# Tasks read config.current(), the settings start() (or create_app, in-process) loaded.
_queue_settings = config.read()

# Which task a free worker takes first (Huey priorities, higher first; SqliteHuey and the
# sorted-set Redis queue both honour them). What a person or a failure waits on goes first,
# then sending, then the routine checks and sweeps (0): a burst of scheduled checks never
# holds up outreach, and since a send pass ends with its mailbox's due emails, the checks
# still get every thread between passes (issue #17: sending and checking do not starve
# each other; bench/send_while_checking.py measures it).
URGENT = 30   # a forced check (a failed send, a person, a push signal), notices
SENDING = 20  # send passes
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


class _PriorityRedisStorage(PriorityRedisStorage):
    """Huey's sorted-set Redis queue (priorities). Tether before issue #17 queued in a Redis
    list under the same key: the first enqueue or dequeue that meets one moves its tasks into
    the sorted set, oldest first, so an upgrade loses nothing that was queued."""

    def enqueue(self, data, priority=None):
        try:
            return super().enqueue(data, priority)
        except redis.ResponseError as e:
            self._adopt_list(e)
            return super().enqueue(data, priority)

    def dequeue(self):
        try:
            return super().dequeue()
        except redis.ResponseError as e:
            self._adopt_list(e)
            return super().dequeue()

    def _adopt_list(self, error) -> None:
        if "WRONGTYPE" not in str(error):
            raise error
        if self.conn.type(self.queue_key) != b"list":
            return  # another process moved it meanwhile
        old = f"{self.queue_key}.before-priorities"
        try:
            self.conn.rename(self.queue_key, old)
        except redis.ResponseError:
            return  # another process moved it meanwhile
        for data in reversed(self.conn.lrange(old, 0, -1)):  # lpush put the newest first
            RedisPriorityQueue.enqueue(self, data)
        self.conn.delete(old)
        log.info("moved %s queued tasks to the prioritised queue", self.queue_size())


def _build_huey():
    immediate = os.environ.get("TETHER_HUEY_IMMEDIATE") == "1"
    if _queue_settings["REDIS_URL"]:
        return PriorityRedisHuey("tether", url=_queue_settings["REDIS_URL"], immediate=immediate,
                                 storage_class=_PriorityRedisStorage)
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
    """Run a task with a database connection that outlives it; writes still use db.atomic().

    PostgreSQL: the connection is taken from the pool (models/base.py) and handed back at the
    end. SQLite: each worker thread keeps its own connection open from task to task — opening
    one and setting its pragmas cost a check more CPU than its reads (issue #17). Peewee runs
    in autocommit mode, so an idle connection holds no transaction and no snapshot."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if db.obj is None:  # a task run in-process before anything bound the database
            start()
        if isinstance(db.obj, PooledDatabase):
            with db.connection_context():
                return fn(*args, **kwargs)
        db.connect(reuse_if_open=True)
        return fn(*args, **kwargs)

    return wrapper


from tasks import (  # noqa: E402,F401  (register tasks and handlers)
    alerts,
    checks,
    demo,
    notices,
    password_reset,
    retention,
    sending,
    signals,
    signups,
    system,
    test_sends,
)
