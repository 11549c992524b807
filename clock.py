"""The one clock of Tether: web and worker ask it, never datetime.now().

Times are naive UTC everywhere (the database stores them so). Tests move the clock for every
process at once by writing an offset, in seconds, to the file named by TETHER_CLOCK_FILE;
without that setting the clock is the system's.
"""

import os
from datetime import UTC, datetime, timedelta

_path = os.environ.get("TETHER_CLOCK_FILE", "")
_cache: tuple[tuple, float] = ((), 0.0)  # (file identity, offset seconds)


def configure(path: str) -> None:
    """Point the clock at an offset file (create_app and the worker call this)."""
    global _path, _cache
    _path, _cache = path or "", ((), 0.0)


def _offset() -> float:
    global _cache
    if not _path:
        return 0.0
    try:
        st = os.stat(_path)
    except FileNotFoundError:
        return 0.0
    # set_offset() replaces the file, so inode + mtime change with every write; a stat is
    # far cheaper than reading the file on every call.
    identity = (st.st_ino, st.st_mtime_ns, st.st_size)
    if identity != _cache[0]:
        with open(_path) as fh:
            text = fh.read().strip()
        _cache = (identity, float(text or 0))
    return _cache[1]


def now() -> datetime:
    """The current time, naive UTC, shifted by the test offset if one is set."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=_offset())


def set_offset(path: str, seconds: float) -> None:
    """Move the clock of every process reading `path` (tests and the sandbox controls)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(seconds))
    os.replace(tmp, path)
