"""Send throughput from one mailbox to the sandbox (DESIGN §6): Tether's outbox, run by a real
Huey consumer, beside the floor — bare smtplib sending the same messages over one reused,
XOAUTH2-authenticated connection to the same sandbox. Target: ≥ 0.8× the floor's throughput
(Tether's time ≤ 1.25× the floor's).

Tether's time runs from the moment a consumer takes the pass (its sender lease) until the
last email is committed `sent`, and includes everything the outbox does per email: planning
the due step inside the window and the daily limit, the claim committed before any I/O,
rendering the template, the `transmitting` mark, the send, and the `sent` commit with the
enrollment's next step and the log entry. The time from enqueueing is printed too: it adds
how long an idle consumer takes to poll its queue (huey_consumer -d/-m), not sending work.

Rounds interleave the sides (the order turns each round) and the ratio is the paired median:
the median over rounds of Tether's time / the floor's time in the same round. CPU per email
is read from /proc (utime + stime, children included): the consumer's for Tether, from just
before the round's contacts are enrolled until the last email is sent; this process's for
the floor, which runs here.

    .venv/bin/python bench/send_throughput.py [--emails 500] [--recipients 10] [--rounds 3]
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
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from _cpu import Meter, cpu_seconds, load_average, own_cpu, paired_median, per_item_ms, server_pids
from _setup import FOLDER, ROOT, backend_flags, report, use_backend  # noqa: I001 — sets the environment first

from tests.sandbox_fixtures import start_sandbox, stop_sandbox

SENDER = "sender@bench.test"


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--recipients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    backend_flags(parser)
    return parser.parse_args()


def addresses(args, round_: int):
    """Distinct addresses that all reach the sandbox's users (name+tag@ reaches name@)."""
    return [f"r{n % args.recipients}+{round_}.{n}@bench.test" for n in range(args.emails)]


def floor(sandbox, token, targets):
    """Bare smtplib: one connection, one login, the same kind of message to each address."""
    from datetime import UTC, datetime

    start = time.perf_counter()
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=15) as smtp:
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        text = f"user={SENDER}\x01auth=Bearer {token}\x01\x01"
        smtp.auth("XOAUTH2", lambda challenge=None: text if challenge is None else "")
        for address in targets:
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = SENDER, address, "Quick question, R"
            msg["Date"] = format_datetime(datetime.now(UTC))
            msg["Message-ID"] = make_msgid(domain="bench.test")
            msg.set_content("Hi R,\n\nDoes your team still plan its campaigns by hand?\n\nAlex")
            smtp.sendmail(SENDER, [address], msg.as_bytes())
    return time.perf_counter() - start


class Tether:
    """Tether's outbox through one real consumer; each round enrolls new contacts in a new
    one-step sequence and times the pass that sends them all."""

    def __init__(self, grant, limit):
        import clock
        from models.accounts import User
        from models.base import db, init_db, migrate
        from models.mailboxes import Mailbox
        from tasks import huey

        init_db(os.environ["DATABASE_URL"])
        migrate()
        self.db = db
        with db.connection_context():
            self.owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
            self.box = Mailbox.create(team=self.owner.team, connected_by=self.owner, email=SENDER,
                                      provider="google-sandbox", status="connected",
                                      daily_limit=limit, access_token=grant["access_token"],
                                      refresh_token=grant["refresh_token"],
                                      access_expires_at=clock.now() + timedelta(minutes=50))
        huey.flush()
        self.log = open(FOLDER / "consumer.log", "w")  # noqa: SIM115
        self.consumer = subprocess.Popen(
            [str(Path(sys.executable).with_name("huey_consumer")), "tasks.worker.huey", "-k", "thread",
             "-w", "2", "-n"], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))  # this checkout's code
        time.sleep(1.0)  # let the consumer start (it is not part of sending)
        self.rounds = 0

    def round(self, targets, meter) -> tuple[float, float, dict]:
        """One pass; returns (sending seconds, seconds from enqueue, CPU seconds by source)."""
        from models.contacts import Contact
        from models.outbox import SENT, OutboxEmail
        from models.sender_lease import OutboxSender
        from models.sequences import create_sequence, enroll, save_step
        from tasks.sending import send_mailbox

        self.rounds += 1
        own = lambda: cpu_seconds(self.consumer.pid)  # noqa: E731
        before = meter.read(own)
        with self.db.connection_context():
            with self.db.atomic():
                ids = [Contact.create(team=self.owner.team, email=a, first_name="R").id
                       for a in targets]
            sequence = create_sequence(self.owner.team_id, self.owner, name=f"Bench {self.rounds}",
                                       mailbox=self.box, window_days="0,1,2,3,4,5,6",
                                       window_start=0, window_end=1440)
            save_step(sequence, self.owner, subject="Quick question, {{first_name}}",
                      body="Hi {{first_name}},\n\nDoes your team still plan its campaigns by "
                           "hand?\n\nAlex")
            enroll(sequence, Contact.select().where(Contact.id.in_(ids)), self.owner)
            sequence.resume(self.owner)
            done = OutboxEmail.select().where(OutboxEmail.status == SENT).count()
            enqueued = time.perf_counter()
            send_mailbox(self.box.id)
            started = None
            while OutboxEmail.select().where(OutboxEmail.status == SENT).count() < done + len(ids):
                if started is None and OutboxSender.select().where(
                        OutboxSender.lease_owner != "").exists():
                    started = time.perf_counter()  # a consumer took the task: sending begins
                if self.consumer.poll() is not None:
                    raise RuntimeError(f"the consumer died; see {FOLDER / 'consumer.log'}")
                time.sleep(0.05)
        end, used = time.perf_counter(), meter.spent(before, meter.read(own))
        return end - (started or enqueued), end - enqueued, used

    def stop(self):
        self.consumer.terminate()
        self.consumer.wait(10)
        self.log.close()


def run_rounds(sandbox, grant, args, meter):
    """Interleaved rounds: each side's seconds and CPU seconds by source, per round."""
    runs = {side: {"wall": [], "cpu": []} for side in ("floor", "tether")}
    queued = []
    tether = Tether(sandbox.control.issue_tokens(SENDER, client="google"),
                    limit=args.emails * args.rounds + 10)
    try:
        for n in range(1, args.rounds + 1):  # both meet the same mail store, taking turns first
            for side in ("floor", "tether") if n % 2 else ("tether", "floor"):
                if side == "floor":
                    before = meter.read(own_cpu)
                    wall = floor(sandbox, grant["access_token"], addresses(args, 2 * n))
                    cpu = meter.spent(before, meter.read(own_cpu))
                else:
                    wall, end_to_end, cpu = tether.round(addresses(args, 2 * n + 1), meter)
                    queued.append(end_to_end)
                runs[side]["wall"].append(wall)
                runs[side]["cpu"].append(cpu)
    finally:
        tether.stop()
    return runs, queued


def show(runs, queued, args, label):
    n, servers = args.emails, "PostgreSQL" in label or "Redis" in label
    print(f"{n} emails from one mailbox, {args.rounds} interleaved rounds, {label}; "
          f"load average at the end {load_average()}")
    sources = ("own", "sandbox", "servers") if servers else ("own", "sandbox")
    print(f"{'per round':<22}{'wall s':>20}" + "".join(f"{s + ' ms/email':>22}" for s in sources))
    for side, name in (("floor", "floor (smtplib)"), ("tether", "Tether, sending")):
        r = runs[side]
        print(f"  {name:<20}{' '.join(f'{t:.2f}' for t in r['wall']):>20}" + "".join(
            f"{' '.join(f'{per_item_ms(c[s], n):.2f}' for c in r['cpu']):>22}" for s in sources))
    print(f"  {'Tether from enqueue':<20}{' '.join(f'{t:.2f}' for t in queued):>20}"
          "  (adds the consumer's idle polling: huey_consumer -d/-m)")
    wall, walls = paired_median(runs["tether"]["wall"], runs["floor"]["wall"])
    print(f"Tether / floor time by round: {' '.join(f'{r:.2f}' for r in walls)}; throughput, "
          f"paired median: {1 / wall:.2f}× the floor's (DESIGN ≥ 0.8×, issue #17 asks ≥ 0.9×)")
    report("sending, Tether time / floor time", wall, 1.25, "×")
    for title, parts in (("own CPU per email", ("own",)), ("CPU + sandbox's", ("own", "sandbox")),
                         ("CPU + sandbox's + servers'", sources)):
        if title.endswith("servers'") and not servers:
            continue
        total = lambda r, parts=parts: [sum(c[p] for p in parts) for c in r["cpu"]]  # noqa: E731
        report(f"{title}, Tether / floor", paired_median(
            total(runs["tether"]), total(runs["floor"]))[0], 1.25, "×")


def main():
    args = parse()
    label, clean_up = use_backend(args)
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    folder.chmod(0o755)
    sandbox = start_sandbox(folder)
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text((folder / "sandbox.json").read_text())
        sandbox.control.create_user(SENDER, "bench-pw-1", kind="google")
        for n in range(args.recipients):
            sandbox.control.create_user(f"r{n}@bench.test", "bench-pw-1", kind="other")
        grant = sandbox.control.issue_tokens(SENDER, client="google")
        floor(sandbox, grant["access_token"], addresses(args, 0)[:20])  # warm Dovecot up
        servers = server_pids("postgres") if "PostgreSQL" in label else []
        servers += server_pids("redis-server") if "Redis" in label else []
        runs, queued = run_rounds(sandbox, grant, args, Meter(sandbox.proc.pid, servers))
    finally:
        stop_sandbox(sandbox.proc)
        clean_up()
    show(runs, queued, args, label)


if __name__ == "__main__":
    main()
