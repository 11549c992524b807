"""A health-check cycle for sandbox mailboxes (DESIGN §6): Tether's checks, run by a real Huey
consumer, beside the floor — the same refresh + IMAP XOAUTH2 login + NOOP + SMTP EHLO + AUTH
done with bare requests / imapclient / smtplib at the same concurrency against the same
sandbox. Target: ≤ 1.3× the floor's wall time; CPU per check ≤ 1.0× the floor's with every
token due and ≤ 0.8× in steady state; the consumer's peak RSS under 300 MB.

Rounds interleave the sides (the order turns each round) and each ratio is the paired median:
the median over rounds of Tether's figure / the floor's figure in the same round. Tether runs
two cycles per round: "every token due" (each access token expired: refresh, then log in) and
"steady state" (each access token still valid, as between refreshes). The floor's work per
check is the same in both, and unchanged. CPU is read from /proc (utime + stime, children
included): the consumer's for Tether, this process's for the floor (it runs in threads here).

    .venv/bin/python bench/check_cycle.py [--mailboxes 2000] [--concurrency 16] [--rounds 3]
        [--database-url postgresql://…] [--redis-url redis://…/N]
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
from _cpu import Meter, cpu_seconds, load_average, own_cpu, paired_median, per_item_ms, server_pids
from _setup import FOLDER, ROOT, backend_flags, report, use_backend  # noqa: I001 — sets the environment first
from imapclient import IMAPClient

from tests.sandbox_fixtures import start_sandbox, stop_sandbox

MODES = {"due": "every token due", "steady": "steady state"}
SHORT = {"due": "all due", "steady": "steady"}
DEADLINE = 600.0  # a cycle slower than this is a failure, not a figure


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    backend_flags(parser)
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


class Tether:
    """Tether's own checks through one real consumer, kept across rounds. Each cycle makes
    every mailbox due and enqueues its check as its scheduled chain would (not forced)."""

    def __init__(self, grants, concurrency):
        import clock
        from models.accounts import User
        from models.base import db, init_db, migrate
        from models.mailboxes import Mailbox
        from tasks import huey

        init_db(os.environ["DATABASE_URL"])
        migrate()
        self.db = db
        with db.connection_context():
            owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
            valid = clock.now() + timedelta(minutes=50)
            with db.atomic():
                for email, grant in grants:
                    Mailbox.create(team=owner.team, connected_by=owner, email=email,
                                   provider="google-sandbox", status="connected",
                                   access_token=grant["access_token"],
                                   refresh_token=grant["refresh_token"], access_expires_at=valid)
            self.ids = [m.id for m in Mailbox.select(Mailbox.id)]
        huey.flush()
        self.log = open(FOLDER / "consumer.log", "w")  # noqa: SIM115
        self.consumer = subprocess.Popen(
            [str(Path(sys.executable).with_name("huey_consumer")), "tasks.worker.huey", "-k",
             "thread", "-w", str(concurrency), "-n"], cwd=ROOT, stdout=self.log,
            stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        time.sleep(1.0)  # let the consumer start before the clock runs (not part of a cycle)

    def cycle(self, mode: str, meter) -> tuple[float, dict]:
        """One cycle over every mailbox; returns (seconds, CPU seconds by source)."""
        import clock
        from models.mailboxes import Mailbox
        from tasks.checks import check_mailbox

        now = clock.now()
        expires = now - timedelta(minutes=1) if mode == "due" else now + timedelta(minutes=50)
        with self.db.connection_context():
            Mailbox.update(last_check_at=None, next_check_at=now - timedelta(seconds=5),
                           access_expires_at=expires).execute()
            own = lambda: cpu_seconds(self.consumer.pid)  # noqa: E731
            before, start = meter.read(own), time.perf_counter()
            for mailbox_id in self.ids:
                check_mailbox(mailbox_id)
            while Mailbox.select().where(Mailbox.last_check_at.is_null()).count():
                if self.consumer.poll() is not None or time.perf_counter() - start > DEADLINE:
                    raise RuntimeError(f"the cycle did not end; see {FOLDER / 'consumer.log'}")
                time.sleep(0.05)
            elapsed, used = time.perf_counter() - start, meter.spent(before, meter.read(own))
            statuses = {s for (s,) in Mailbox.select(Mailbox.status).tuples()}
        assert statuses == {"connected"}, f"some checks failed: {statuses}"
        return elapsed, used

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.consumer.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.consumer.terminate()
        self.consumer.wait(10)
        self.log.close()


def run_rounds(sandbox, grants, args, meter):
    """Interleaved rounds: each side's wall seconds and CPU seconds by source, per round."""
    runs = {side: {"wall": [], "cpu": []} for side in ("floor", *MODES)}
    tether = Tether(grants, args.concurrency)
    try:
        for n in range(args.rounds):
            order = ["floor", *MODES]
            for side in order[n % 3:] + order[:n % 3]:  # no side always first
                if side == "floor":
                    before = meter.read(own_cpu)
                    wall = floor(sandbox, grants, args.concurrency)
                    cpu = meter.spent(before, meter.read(own_cpu))
                else:
                    wall, cpu = tether.cycle(side, meter)
                runs[side]["wall"].append(wall)
                runs[side]["cpu"].append(cpu)
        rss = tether.peak_rss_mb()
    finally:
        tether.stop()
    return runs, rss


def show(runs, rss, args, label):
    n, servers = args.mailboxes, "PostgreSQL" in label or "Redis" in label
    sides = (("floor", "floor"), *((m, f"Tether, {t}") for m, t in MODES.items()))
    print(f"{n} mailboxes, concurrency {args.concurrency}, {args.rounds} interleaved rounds, "
          f"{label}; load average at the end {load_average()}")
    columns = [("wall s", lambda r: r["wall"], "{:.2f}"),
               ("own CPU ms/check", lambda r: [c["own"] for c in r["cpu"]], None),
               ("+ sandbox ms/check", lambda r: [c["own"] + c["sandbox"] for c in r["cpu"]], None)]
    if servers:
        columns.append(("db+queue servers ms/check", lambda r: [c["servers"] for c in r["cpu"]], None))
    print(f"{'per round':<26}" + "".join(f"{title:>27}" for title, _, _ in columns))
    for side, name in sides:
        cells = [" ".join(fmt.format(v) if fmt else f"{per_item_ms(v, n):.1f}" for v in get(runs[side]))
                 for _, get, fmt in columns]
        print(f"  {name:<24}" + "".join(f"{c:>27}" for c in cells))
    target = {"due": 1.1 if servers else 1.0, "steady": 0.8}
    for mode, name in MODES.items():
        ratios = {title: paired_median(get(runs[mode]), get(runs["floor"]))
                  for title, get, _ in columns[:3]}
        print(f"{name}, Tether / floor by round (paired medians below): " + "; ".join(
            f"{t.split(' ms')[0]} " + " ".join(f"{r:.2f}" for r in rs) for t, (_, rs) in ratios.items()))
        short = SHORT[mode]
        report(f"{short}: wall, Tether / floor", ratios["wall s"][0], 1.3, "×")
        report(f"{short}: own CPU per check, Tether / floor", ratios["own CPU ms/check"][0],
               target[mode], "×")
        report(f"{short}: CPU + sandbox's, Tether / floor", ratios["+ sandbox ms/check"][0],
               target[mode], "×")
        if servers:  # the database's work moved out of the consumer: count it, on both sides
            total = lambda r: [c["own"] + c["sandbox"] + c["servers"] for c in r["cpu"]]  # noqa: E731
            report(f"{short}: CPU + sandbox's + servers'", paired_median(
                total(runs[mode]), total(runs["floor"]))[0], target[mode], "×")
    report("consumer peak RSS", rss, 300, "MB")


def main():
    args = parse()
    os.environ["TETHER_CHECK_INTERVAL_SECONDS"] = "3600"
    label, clean_up = use_backend(args)
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    folder.chmod(0o755)
    sandbox = start_sandbox(folder)
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text((folder / "sandbox.json").read_text())
        with ThreadPoolExecutor(args.concurrency) as pool:
            grants = make_users(sandbox, args.mailboxes, pool)
        servers = server_pids("postgres") if "PostgreSQL" in label else []
        servers += server_pids("redis-server") if "Redis" in label else []
        runs, rss = run_rounds(sandbox, grants, args, Meter(sandbox.proc.pid, servers))
    finally:
        stop_sandbox(sandbox.proc)
        clean_up()
    show(runs, rss, args, label)


if __name__ == "__main__":
    main()
