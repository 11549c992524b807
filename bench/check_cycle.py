"""A health-check cycle for 2,000 sandbox mailboxes (DESIGN §6): Tether's checks, run by a real
Huey consumer, beside the floor — the same refresh + IMAP XOAUTH2 login + NOOP + SMTP EHLO +
AUTH done with bare requests / imapclient / smtplib at the same concurrency against the same
sandbox. Target: ≤ 1.3× the floor, and the consumer's peak RSS under 300 MB.

    .venv/bin/python bench/check_cycle.py [--mailboxes 2000] [--concurrency 16]
"""

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import requests
from _setup import FOLDER, ROOT, report  # noqa: I001 — sets the environment first
from imapclient import IMAPClient

from tests.sandbox_fixtures import start_sandbox, stop_sandbox


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    return parser.parse_args()


def make_users(sandbox, count, pool):
    def one(n):
        email = f"b{n:05}@bench.test"
        sandbox.control.create_user(email, "bench-pw-1", kind="google")
        return email, sandbox.control.issue_tokens(email, client="google")
    return list(pool.map(one, range(count)))


def floor(sandbox, grants, concurrency):
    """The same work with bare libraries: refresh, then IMAP and SMTP side by side."""
    client = sandbox.client("google")
    token_url = sandbox.metadata("google")["token_endpoint"]
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    inner = ThreadPoolExecutor(concurrency)

    def imap(email, token):
        with IMAPClient(sandbox.imap_host, sandbox.imap_port, ssl=False, timeout=15) as c:
            c._imap.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.oauth2_login(email, token)
            c.noop()

    def smtp(email, token):
        with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=15) as s:
            s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.ehlo()
            text = f"user={email}\x01auth=Bearer {token}\x01\x01"
            s.auth("XOAUTH2", lambda challenge=None: text if challenge is None else "")

    def check(item):
        email, grant = item
        answer = http.post(token_url, data={
            "grant_type": "refresh_token", "refresh_token": grant["refresh_token"],
            "client_id": client["client_id"], "client_secret": client["client_secret"]}, timeout=15)
        token = answer.json()["access_token"]
        a, b = inner.submit(imap, email, token), inner.submit(smtp, email, token)
        a.result()
        b.result()

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(check, grants))
    return time.perf_counter() - start


def tether(sandbox, grants, concurrency):
    """Tether's own checks through a real consumer; returns (seconds, peak RSS in MB)."""
    import clock
    from models.accounts import User
    from models.base import db, init_db, migrate
    from models.mailboxes import Mailbox
    from tasks import huey
    from tasks.checks import check_mailbox

    init_db(os.environ["DATABASE_URL"])
    migrate()
    with db.connection_context():
        owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
        due = clock.now() - timedelta(minutes=1)  # every token due for a refresh, as in the floor
        with db.atomic():
            for email, grant in grants:
                Mailbox.create(team=owner.team, connected_by=owner, email=email,
                               provider="google-sandbox", status="connected",
                               access_token=grant["access_token"],
                               refresh_token=grant["refresh_token"], access_expires_at=due)
        ids = [m.id for m in Mailbox.select(Mailbox.id)]
    huey.flush()
    log = open(FOLDER / "consumer.log", "w")  # noqa: SIM115
    consumer = subprocess.Popen([str(Path(sys.executable).with_name("huey_consumer")), "tasks.worker.huey",
                                 "-k", "thread", "-w", str(concurrency), "-n"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))  # this checkout's code
    time.sleep(1.0)  # let the consumer start before the clock runs (it is not part of the cycle)
    start = time.perf_counter()
    for mailbox_id in ids:
        check_mailbox(mailbox_id, force=True)
    with db.connection_context():
        while Mailbox.select().where(Mailbox.last_check_at.is_null()
                                     | (Mailbox.last_check_at < due)).count():
            time.sleep(0.05)
    elapsed = time.perf_counter() - start
    rss = 0
    for line in Path(f"/proc/{consumer.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024
    consumer.terminate()
    consumer.wait(10)
    log.close()
    with db.connection_context():
        statuses = {s for (s,) in Mailbox.select(Mailbox.status).tuples()}
    assert statuses == {"connected"}, f"some checks failed: {statuses}"
    return elapsed, rss


def main():
    args = parse()
    os.environ["TETHER_CHECK_INTERVAL_SECONDS"] = "3600"
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    folder.chmod(0o755)
    sandbox = start_sandbox(folder)
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text((folder / "sandbox.json").read_text())
        with ThreadPoolExecutor(args.concurrency) as pool:
            grants = make_users(sandbox, args.mailboxes, pool)
        floor_seconds = floor(sandbox, grants, args.concurrency)
        tether_seconds, rss = tether(sandbox, grants, args.concurrency)
    finally:
        stop_sandbox(sandbox.proc)
    n = args.mailboxes
    print(f"{n} mailboxes, concurrency {args.concurrency}: floor {floor_seconds:.1f} s "
          f"({n / floor_seconds:.0f}/s), Tether {tether_seconds:.1f} s ({n / tether_seconds:.0f}/s)")
    report("check cycle, Tether / floor", tether_seconds / floor_seconds, 1.3, "×")
    report("consumer peak RSS", rss, 300, "MB")


if __name__ == "__main__":
    main()
