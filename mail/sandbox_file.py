"""The sandbox's sandbox.json, read in one place: its providers' discovery (mail/providers.py),
the relay for Tether's own mail (mail/system_mailer.py) and the demo's seeding (models/demo.py).

The sandbox writes the file atomically once it is ready, so a file that exists is whole. The
product reads the file's format here and never imports `sandbox/`. A file that changed is read
again: the sandbox rewrites it when it restarts, with new ports.
"""

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path


class SandboxFileError(ValueError):
    """The file exists but is not what the sandbox writes (a hand edit, another program)."""


@dataclass(frozen=True)
class Client:
    """A registered OAuth client of one flavour ("google" or "microsoft")."""

    key: str
    flavour: str
    client_id: str
    client_secret: str = field(repr=False)
    metadata_url: str


@dataclass(frozen=True)
class SystemSmtp:
    """The sandbox's account for Tether's own mail (the demo's system mailer)."""

    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    sender: str = ""


@dataclass(frozen=True)
class SandboxFile:
    control_url: str
    account_url: str
    imap_host: str
    imap_port: int
    smtp_host: str
    smtp_port: int
    clients: tuple[Client, ...] = ()
    system_smtp: SystemSmtp | None = None


def _parse(info: dict) -> SandboxFile:
    box = info.get("system_smtp") or None
    system = SystemSmtp(box["host"], int(box["port"]), box.get("security") or "none",
                        box.get("username", ""), box.get("password", ""),
                        box.get("from", "")) if box else None
    clients = tuple(Client(key, c["flavour"], c["client_id"], c["client_secret"],
                           c["metadata_url"]) for key, c in (info.get("clients") or {}).items())
    return SandboxFile(control_url=info["control_url"], account_url=info.get("account_url", ""),
                       imap_host=info["imap_host"], imap_port=int(info["imap_port"]),
                       smtp_host=info["smtp_host"], smtp_port=int(info["smtp_port"]),
                       clients=clients, system_smtp=system)


_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int], SandboxFile]] = {}


def read(path: str | Path | None) -> SandboxFile | None:
    """The sandbox's file at `path`; None when no path is set or the file is not there (yet).
    SandboxFileError when it is there but unreadable as the sandbox's. The web app asks on
    every page (the operators' mailer banner), so a file that has not changed is not parsed
    again."""
    if not path:
        return None
    path = Path(path)
    try:
        st = path.stat()
        if not path.is_file():
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with _lock:
            cached = _cache.get(str(path))
        if cached and cached[0] == stamp:
            return cached[1]
        found = _parse(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SandboxFileError(f"{path} is not a sandbox.json the sandbox wrote: {e!r}") from e
    with _lock:
        _cache[str(path)] = (stamp, found)
    return found
