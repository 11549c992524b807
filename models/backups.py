"""A copy of the database before an upgrade. SQLite: a timestamped copy beside the file, made
with SQLite's online backup (consistent even while web and worker write). PostgreSQL: no copy
here, but the pg_dump line to run, since that dump belongs to the operator's own routine."""

import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from playhouse.db_url import parse

import clock
import config


@dataclass(frozen=True)
class Backup:
    path: Path | None  # the copy made, or None when none was (PostgreSQL)
    message: str


def backup(url: str) -> Backup:
    """Back up the database `url` names (DATABASE_URL) as well as Tether can."""
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    if url.startswith("sqlite"):
        source = Path(parse(url).get("database") or "")
        if source.name in ("", ":memory:") or not source.is_file():
            return Backup(None, f"No SQLite database file at {source}: nothing to copy.")
        copy = sqlite_copy(source, stamp)
        return Backup(copy, f"Copied the database to {copy} (restore it to undo this upgrade).")
    return Backup(None, "PostgreSQL: no copy made here. Back it up first, e.g.:\n  "
                  + pg_dump_line(url, stamp))


def sqlite_copy(source: Path, stamp: str) -> Path:
    """`tether.db` → `tether.db.<stamp>.bak` beside it (readable by this account only)."""
    copy, n = source.with_name(f"{source.name}.{stamp}.bak"), 1
    while copy.exists():  # two upgrades in one second: never overwrite an earlier copy
        n += 1
        copy = source.with_name(f"{source.name}.{stamp}-{n}.bak")
    config.private_file(copy)  # created 0600 before a byte is written
    src, dst = sqlite3.connect(source), sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return copy


def pg_dump_line(url: str, stamp: str) -> str:
    """The pg_dump command for `url`, without its password (pg_dump asks for it, or reads
    PGPASSWORD / ~/.pgpass): the line is printed, and printed lines end up in logs."""
    parts = parse(url)
    words = ["pg_dump", "--format=custom", f"--file=tether-{stamp}.dump"]
    for option in ("host", "port", "user"):
        if parts.get(option):
            words.append(f"--{'username' if option == 'user' else option}={parts[option]}")
    words.append(parts.get("database") or "tether")
    return " ".join(shlex.quote(str(w)) for w in words)
