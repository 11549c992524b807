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

    .venv/bin/python bench/send_throughput.py [--emails 500] [--recipients 10] [--rounds 3]
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

from _setup import FOLDER, ROOT, report  # noqa: I001 — sets the environment first

from tests.sandbox_fixtures import start_sandbox, stop_sandbox

SENDER = "sender@bench.test"


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--recipients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
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

    def round(self, targets) -> float:
        from models.contacts import Contact
        from models.outbox import SENT, OutboxEmail
        from models.sender_lease import OutboxSender
        from models.sequences import create_sequence, enroll, save_step
        from tasks.sending import send_mailbox

        self.rounds += 1
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
        end = time.perf_counter()
        return end - (started or enqueued), end - enqueued

    def stop(self):
        self.consumer.terminate()
        self.consumer.wait(10)
        self.log.close()


def main():
    args = parse()
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
        tether = Tether(sandbox.control.issue_tokens(SENDER, client="google"),
                        limit=args.emails * args.rounds + 10)
        floors, tethers, queued = [], [], []
        try:
            for n in range(1, args.rounds + 1):  # interleaved: both meet the same mail store
                floors.append(floor(sandbox, grant["access_token"], addresses(args, 2 * n)))
                sending, end_to_end = tether.round(addresses(args, 2 * n + 1))
                tethers.append(sending)
                queued.append(end_to_end)
        finally:
            tether.stop()
    finally:
        stop_sandbox(sandbox.proc)
    n = args.emails
    floor_seconds, tether_seconds = min(floors), min(tethers)  # best of each: least disturbed
    print(f"{n} emails from one mailbox, best of {args.rounds} interleaved rounds: floor "
          f"{floor_seconds:.2f} s ({n / floor_seconds:.0f}/s), Tether {tether_seconds:.2f} s "
          f"({n / tether_seconds:.0f}/s): {floor_seconds / tether_seconds:.2f}× the floor's "
          "throughput (target ≥ 0.8×)")
    print("  rounds, floor:               " + " ".join(f"{t:.2f}" for t in floors))
    print("  rounds, Tether sending:      " + " ".join(f"{t:.2f}" for t in tethers))
    print("  rounds, Tether from enqueue: " + " ".join(f"{t:.2f}" for t in queued)
          + "  (adds the consumer's idle polling: huey_consumer -d/-m)")
    report("sending, Tether time / floor time", tether_seconds / floor_seconds, 1.25, "×")

if __name__ == "__main__":
    main()
