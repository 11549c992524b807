"""The connection test: log in to IMAP and SMTP side by side and say, for each, what happened
in plain words. Used when a mailbox is added, when credentials change, and by health checks."""

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mail.connect import Login, Server, imap_check, smtp_check
from mail.failures import Failure, Kind, MailError

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="probe")


@dataclass(frozen=True)
class ProbeResult:
    imap: Failure | None
    smtp: Failure | None

    @property
    def ok(self) -> bool:
        return self.imap is None and self.smtp is None

    @property
    def worst(self) -> Failure | None:
        """The failure that decides the mailbox's state: a reconnect signal beats the rest."""
        failures = [f for f in (self.imap, self.smtp) if f is not None]
        for kind in (Kind.RECONNECT, Kind.APP, Kind.TRANSIENT):
            for failure in failures:
                if failure.kind is kind:
                    return failure
        return None


def _run(check, server: Server, login: Login):
    try:
        check(server, login)
    except MailError as e:  # a refused host (mail.hosts.HostRefused) too
        return e.failure
    return None


def probe(imap: Server, smtp: Server | None, login: Login, *, on_imap=None) -> ProbeResult:
    """Test both servers at once, or IMAP alone (in this thread) when `smtp` is None — a
    health check that has no need to prove SMTP again (models/checks.py). Servers that carry
    a HostPolicy (hosts a person typed) are vetted by mail.connect as it connects.
    `on_imap(client)` runs inside the IMAP session once it is signed in (the reply fetch)."""
    check = imap_check if on_imap is None else functools.partial(imap_check, then=on_imap)
    if smtp is None:
        return ProbeResult(_run(check, imap, login), None)
    imap_job = _pool.submit(_run, check, imap, login)
    smtp_job = _pool.submit(_run, smtp_check, smtp, login)
    return ProbeResult(imap_job.result(), smtp_job.result())
