"""The database: one proxy bound at start-up, a base model, and the migrations runner."""

import functools
import importlib
import logging
import pkgutil
from pathlib import Path

from peewee import DatabaseProxy, DateTimeField, Model, OperationalError, SqliteDatabase
from playhouse.db_url import connect
from playhouse.migrations import MigrationError, Runner

import clock
import config
from config import ConfigError

log = logging.getLogger(__name__)
db = DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Timestamped(BaseModel):
    created_at = DateTimeField(default=clock.now)


def all_models() -> list[type[BaseModel]]:
    """Every model with a table, from every module of the models package, by table name:
    BaseModel's subclasses but for the bases above (tables of their own they have none)."""
    import models

    for module in pkgutil.iter_modules(models.__path__):
        if not module.ispkg:  # the migrations package holds no models
            importlib.import_module(f"models.{module.name}")
    found, todo = set(), list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model is not Timestamped and model._meta.database is db:
            found.add(model)
    return sorted(found, key=lambda model: model._meta.table_name)


def init_db(url: str):
    """Bind the proxy to the database named by `url` (sqlite:///… or postgresql://…). A
    SQLite file is created readable by this account only (config.private_file)."""
    if url.startswith("sqlite"):
        # WAL lets the web and the worker read while one writes; busy_timeout makes a writer
        # wait for the lock instead of failing at once.
        database = connect(url, pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": "normal",
        }, autoconnect=True)
        config.private_file(database.database)
    else:
        # A pool: a task or a request hands its connection back instead of closing it, so
        # PostgreSQL does not fork a backend per health check (issue #17: 2,018 backends per
        # 2,000-check cycle, 16 ms of server CPU a check). Connections idle for 5 minutes are
        # closed on their next checkout; a server restart costs the first query its error.
        scheme, rest = url.split("://", 1)
        database = connect(f"{scheme.split('+')[0]}+pool://{rest}", autoconnect=True,
                           max_connections=64, stale_timeout=300, timeout=10)
    db.initialize(database)
    return database


def migrate(directory=MIGRATIONS_DIR, target: str | None = None) -> list[str]:
    """Apply pending numbered migrations (up to `target` if named), each in its own
    transaction; returns the names applied. A migration that fails is rolled back whole and
    stops the run there."""
    with db.connection_context():
        return Runner(db.obj, str(directory)).up(target)


def migration_status(directory=MIGRATIONS_DIR):
    """Every migration, file or history row, in order: `.applied` is None for a pending one,
    `.path` None for one applied by a version of Tether that has its file and this one not."""
    if not db.is_closed():  # inside a request: its connection, left open for the rest of it
        return Runner(db.obj, str(directory)).status()
    with db.connection_context():
        return Runner(db.obj, str(directory)).status()


class NewerDatabase(ConfigError):
    """The database has migrations applied that this version of Tether does not know."""


def _newer_message(unknown: list[str]) -> str:
    return (f"this database was migrated by a newer Tether ({', '.join(unknown)}); "
            "run that version or restore a backup")


def refuse_newer_database(directory=MIGRATIONS_DIR) -> None:
    """Web and worker call this at start: a database that a newer version migrated has
    tables and columns this code would misread or break, so refuse in words instead. A
    database that cannot be reached now is not refused (its restart must not become ours)."""
    try:
        rows = migration_status(directory)
    except OperationalError as e:
        log.warning("Migrations not checked at start (database unreachable: %s)", e)
        return
    unknown = [m.name for m in rows if m.applied and m.path is None]
    if unknown:
        raise NewerDatabase(_newer_message(unknown))


def find_migration(rows, name: str):
    """The migration called `name` ("0010_check_hours", or its number "0010"), or None."""
    for m in rows:
        if name in (m.name, m.name.split("_", 1)[0]):
            return m
    return None


def to_downgrade(target: str | None, directory=MIGRATIONS_DIR) -> list[str]:
    """The applied migrations after `target` (every one for None), newest first: what
    downgrade(target) would undo. MigrationError for a name this version does not have, or
    when the database holds a newer version's migration (its down() is not here)."""
    rows = migration_status(directory)
    unknown = [m.name for m in rows if m.applied and m.path is None]
    if unknown:
        raise MigrationError(_newer_message(unknown))
    after = -1
    if target is not None:
        found = find_migration([m for m in rows if m.path is not None], target)
        if found is None:
            raise MigrationError(f"there is no migration called {target!r} in this version of "
                                 "Tether (`flask --app app db status` lists them)")
        after = found.idx
    return [m.name for m in reversed(rows) if m.applied and m.idx > after]


def downgrade(target: str | None, directory=MIGRATIONS_DIR) -> list[str]:
    """Run the down() of every applied migration after `target` (of all of them for None),
    newest first, each in its own transaction; returns the names undone. A down() that
    fails is rolled back whole and stops the run there."""
    with db.connection_context():
        undo = to_downgrade(target, directory)
        if not undo:
            return []
        return Runner(db.obj, str(directory)).down(undo[-1])


def write_transaction():
    """A transaction that reads then writes. SQLite must take its write lock up front
    (BEGIN IMMEDIATE): upgrading a read lock later fails at once under concurrency instead
    of waiting. PostgreSQL's row locks need nothing special."""
    if isinstance(db.obj, SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def commit_without_waiting_for_disk() -> None:
    """Inside a transaction: on PostgreSQL its COMMIT returns before the WAL reaches the disk
    (SET LOCAL synchronous_commit; a crash of the *database server* in the next few hundred
    ms can lose it, a crash of ours cannot). Only for a transaction whose loss is recovered:
    the outbox's `sent` mark, which a lost commit leaves `transmitting`, settled by the
    reconciler's look in the Sent folder — never resent. And WAL is written in order, so the
    next transaction that does wait (the next email's `transmitting` mark) makes this one
    durable too. SQLite (WAL, synchronous=NORMAL) does not wait for the disk at any commit."""
    if not isinstance(db.obj, SqliteDatabase):
        db.execute_sql("SET LOCAL synchronous_commit TO OFF")


def hot(build):
    """A statement on a hot path (every health check runs it), as SQL built once per process.

    Building a statement's SQL with Peewee costs more CPU than running it: py-spy put 28 % of
    a check's CPU in Peewee compiling the same few statements for every check (issue #17).
    `build(p)` returns the SQL text with `p` as the placeholder ("?" for SQLite, "%s" for
    PostgreSQL), table and column names taken from the models; the returned function runs
    it with its parameters and returns the cursor. Keep these few and simple: everything
    else goes through Peewee's builder."""
    texts = {}

    def sql() -> str:
        param = db.obj.param
        text = texts.get(param)
        if text is None:
            text = texts[param] = build(param)
        return text

    @functools.wraps(build)
    def run(*params):
        return db.execute_sql(sql(), params)

    run.sql = sql  # the text, for Model.raw() where rows become model instances
    return run


def names(model) -> tuple[str, dict[str, str]]:
    """A model's quoted table name and quoted column names by field name (for `hot`)."""
    return (f'"{model._meta.table_name}"',
            {name: f'"{field.column_name}"' for name, field in model._meta.fields.items()})
