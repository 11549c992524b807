"""The processes running this instance (web, worker, a command) and the encryption keys each
holds: rotate-keys asks them before re-encrypting, restore before replacing the database.

A process reports once, when it opens its keys at start (models.crypto.open_vault): a
process's keys never change until it restarts. It takes its report back when it exits
normally. A process killed outright leaves its report behind; on this machine such a report
is recognised as gone (no such process, or another one under its pid); on another machine
nobody here can tell, so the command that asks names it and lets the operator say so.
"""

import atexit
import logging
import os
import socket
import sys

from peewee import CharField, DatabaseError, DateTimeField, IntegerField

import clock
from models.base import BaseModel, db

log = logging.getLogger(__name__)
_withdraw_registered = False


class ProcessReport(BaseModel):
    """One running process and the key ids it was started with."""

    process = CharField(primary_key=True)  # "host:pid"
    host = CharField()
    pid = IntegerField()
    started = CharField(default="")  # the kernel's start time of that pid: a reused pid is another process
    program = CharField(default="")  # gunicorn, huey_consumer, flask …
    key_ids = CharField()            # as configured, the encrypting key first: "k2,k1"
    reported_at = DateTimeField(default=clock.now)

    @property
    def keys(self) -> list[str]:
        return self.key_ids.split(",")

    def describe(self) -> str:
        return (f"{self.program or 'a process'} (pid {self.pid} on {self.host}, started "
                f"{self.reported_at:%Y-%m-%d %H:%M} UTC, keys {self.key_ids.replace(',', ', ')})")


def _host() -> str:
    return socket.gethostname()


def _start_time(pid: int) -> str:
    """When the kernel started `pid` (Linux: /proc/PID/stat, field 22); "" where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive_here(row: ProcessReport) -> bool:
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another account's process: it exists
    return not row.started or _start_time(row.pid) in ("", row.started)


def report(key_ids: list[str]) -> None:
    """This process runs with `key_ids`. Best effort: a database not yet migrated (this is
    `flask db upgrade` itself) or unreachable has nowhere to keep it."""
    global _withdraw_registered
    pid, host = os.getpid(), _host()
    try:
        with db.connection_context():
            if not ProcessReport.table_exists():
                return
            fields = dict(host=host, pid=pid, started=_start_time(pid),
                          program=os.path.basename(sys.argv[0]) if sys.argv else "",
                          key_ids=",".join(key_ids), reported_at=clock.now())
            (ProcessReport.insert(process=f"{host}:{pid}", **fields)
             .on_conflict(conflict_target=[ProcessReport.process], update=fields).execute())
            _forget_gone_here()
    except DatabaseError as e:
        log.warning("This process's encryption keys were not recorded: %s", e)
        return
    if not _withdraw_registered:
        atexit.register(_withdraw, pid)
        _withdraw_registered = True


def _withdraw(pid: int) -> None:
    """At a normal exit: this process runs no more. (A forked child inherits the hook, not
    the report: it withdraws nothing.)"""
    if os.getpid() != pid or db.obj is None:
        return
    try:
        with db.connection_context():
            ProcessReport.delete().where(ProcessReport.process == f"{_host()}:{pid}").execute()
    except Exception as e:  # noqa: BLE001 — leaving whatever the database says: a stale report is recognised later
        log.info("This process's report stays behind: %s", e)


def _forget_gone_here() -> None:
    host = _host()
    gone = [r.process for r in ProcessReport.select().where(ProcessReport.host == host)
            if not _alive_here(r)]
    if gone:
        ProcessReport.delete().where(ProcessReport.process.in_(gone)).execute()


def others() -> list[ProcessReport]:
    """The processes that may be running, this one aside: those of this machine that are
    alive, and every report from another machine (nobody here can tell whether it runs)."""
    _forget_gone_here()
    me = f"{_host()}:{os.getpid()}"
    return list(ProcessReport.select().where(ProcessReport.process != me)
                .order_by(ProcessReport.reported_at))


def lacking(key_id: str) -> list[ProcessReport]:
    """The processes that may be running without `key_id`: they could not read a secret
    written with it."""
    return [row for row in others() if key_id not in row.keys]
