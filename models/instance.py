"""This instance's identity, and whether it may send: a database copied or restored to another
place sends nothing and checks no mailbox until an operator confirms that it is now the only
live copy (`flask --app app instance confirm`).

Checks pause too because a check refreshes OAuth tokens, and Microsoft (Google at times) hands
out a new refresh token at each refresh: two copies refreshing one mailbox take it from each
other. A copy is noticed by where the database is live (`home`): for SQLite, its instance
folder, named by a random id kept in that folder (`instance_id`, 0600); for PostgreSQL, the
server and the database itself (the server's system identifier and the database's oid), since
each machine of a scaled-out install has an instance folder of its own. A backup is made
paused (models/backups.py), so a restore starts paused wherever it lands.
"""

import logging
import secrets
from pathlib import Path

from peewee import CharField, DatabaseError, DateTimeField, IntegerField, SqliteDatabase, TextField

import clock
import config
from models.base import BaseModel, db

log = logging.getLogger(__name__)
ONE = 1  # the table holds one row
_postgres_homes: dict[str, str] = {}


class Instance(BaseModel):
    key = IntegerField(primary_key=True, default=ONE)
    instance_id = CharField()           # random, made with the database: the data's identity
    created_at = DateTimeField(default=clock.now)
    home = CharField()                  # where it is live: "folder:<id>" or "postgresql:<sys>/<oid>"
    paused_since = DateTimeField(null=True)
    paused_why = TextField(default="")  # in words, for the banner and `instance status`


def here() -> str:
    """Where the bound database is being used from now (compared with Instance.home)."""
    database = db.obj
    if isinstance(database, SqliteDatabase):
        folder = Path(config.current()["INSTANCE_DIR"])
        # Made once, whole, 0600, by whichever process comes first (config's own way).
        return "folder:" + config._kept_secret(folder, "instance_id", lambda: secrets.token_hex(8))
    name = f"{database.database}:{sorted(database.connect_params.items())}"
    if name not in _postgres_homes:
        _postgres_homes[name] = _postgres_home(database)
    return _postgres_homes[name]


def _postgres_home(database) -> str:
    oid = database.execute_sql(
        "SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
    try:
        with database.atomic():  # a refusal must not abort the caller's transaction
            system = database.execute_sql(
                "SELECT system_identifier FROM pg_control_system()").fetchone()[0]
    except DatabaseError:  # a role not allowed to ask: the database's oid alone
        system = "?"
    return f"postgresql:{system}/{oid}"


def describe(home: str) -> str:
    kind, _, ident = home.partition(":")
    if kind == "folder":
        return f"the instance folder with id {ident}"
    if kind != "postgresql":
        return "a backup"  # one older than the instance table, restored
    system, _, oid = ident.partition("/")
    return f"the PostgreSQL server {system}, database oid {oid}"


def state() -> Instance:
    """The instance row, made for a fresh (or newly upgraded) database, and paused the first
    time it is found opened somewhere other than where it was live."""
    home = here()
    row = Instance.get_or_none(Instance.key == ONE)
    if row is None:
        # Every process that finds no row offers the same home (one folder id, one server):
        # whichever insert wins, all agree the database is live here.
        Instance.insert(key=ONE, instance_id=secrets.token_hex(8), home=home).on_conflict_ignore().execute()
        return Instance.get(Instance.key == ONE)
    if row.home != home and row.paused_since is None:
        now_where = describe(home)
        if home.startswith("folder:"):
            now_where += f" ({config.current()['INSTANCE_DIR']})"
        pause(f"This database was live in {describe(row.home)} and is now used from "
              f"{now_where}: it was copied or restored here.")
        row = Instance.get(Instance.key == ONE)
    return row


def live() -> bool:
    """May this instance send and check mailboxes? The one gate, at the task entries. Asked
    before every check and send pass, so the usual answer (live, here) costs one small query
    written out, not built by the query builder each time (which cost several times more)."""
    row = db.execute_sql(_LIVE_HERE).fetchone()
    if row is not None and (row[1] is not None or row[0] == here()):
        return row[1] is None
    return state().paused_since is None  # no row yet, or first seen from another place


_LIVE_HERE = 'SELECT home, paused_since FROM instance WHERE "key" = 1'


def pause(why: str, database=None) -> None:
    """Pause the bound database (or `database`, a copy being made) unless it is paused."""
    query = (Instance.update(paused_since=clock.now(), paused_why=why)
             .where((Instance.key == ONE) & Instance.paused_since.is_null()))
    if database is None:
        if query.execute():
            log.warning("Sending and checks are paused: %s Run `flask --app app instance "
                        "confirm` once this is the only live copy.", why)
    else:
        database.execute(query)


def confirm() -> Instance:
    """The operator's word: this is now the only live copy. It is live here from now on."""
    state()
    Instance.update(home=here(), paused_since=None, paused_why="").where(Instance.key == ONE).execute()
    return Instance.get(Instance.key == ONE)


def paused_why() -> str:
    """For the banner: why sending is paused, or "" when it is not (or nothing can be read:
    the page that says the database is failing must still render)."""
    try:
        row = state()
    except DatabaseError:
        return ""
    if row.paused_since is None:
        return ""
    return row.paused_why or "Sending is paused."
