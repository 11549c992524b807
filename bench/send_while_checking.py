"""Sending while checking (issue #17): emails per minute from one mailbox while 300 other
sandbox mailboxes are checked every 10 s, against the same with no check due. Target: no more
than a 20 % drop (with / without ≥ 0.8).

One consumer started by the Procfile's own `worker` line (its threads, its -m), as `make run`
starts it. Rounds alternate "checks running" (each mailbox's next check spread over the next
10 s, its chain enqueued as its scheduled task would be, each check rescheduling itself every
10 s) and "no check due" (every next check a day ahead: chains still in the queue find nothing
due and end). Each round enrolls new contacts in a one-step sequence and times the send from
enqueueing the pass to the last email committed `sent` — what a person waits for, queueing
behind the checks included. The ratio is the paired median over rounds; checks done per second
in each round are printed so the load is seen to be there. Before the first round every mailbox
is checked once (its first check proves SMTP and reads the INBOX for the first time, which later
checks do not), so the rounds measure checking as it goes on.

    .venv/bin/python bench/send_while_checking.py [--emails 300] [--mailboxes 300] [--rounds 3]
        [--database-url postgresql://…] [--redis-url redis://…/N]
"""

import argparse
import os
import shlex
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from _cpu import load_average, paired_median
from _setup import FOLDER, ROOT, backend_flags, report, use_backend  # noqa: I001 — sets the environment first

from tests.sandbox_fixtures import start_sandbox, stop_sandbox

SENDER = "sender@bench.test"
INTERVAL = 10  # seconds between a mailbox's checks
WARM_UP = 5.0  # seconds of checking before a "checks running" round's send starts


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--mailboxes", type=int, default=300)
    parser.add_argument("--recipients", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    backend_flags(parser)
    return parser.parse_args()


def worker_command() -> list[str]:
    """The Procfile's worker line, as honcho runs it (without its `exec`)."""
    line = next(ln for ln in (ROOT / "Procfile").read_text().splitlines() if ln.startswith("worker:"))
    words = shlex.split(line.split(":", 1)[1])
    return words[1:] if words[0] == "exec" else words


class Product:
    def __init__(self, sandbox, args):
        import clock
        from models.accounts import User
        from models.base import db, init_db, migrate
        from models.mailboxes import Mailbox
        from tasks import huey

        init_db(os.environ["DATABASE_URL"])
        migrate()
        self.db, self.args = db, args
        with ThreadPoolExecutor(16) as pool:
            def user(n):
                email = f"c{n:05}@bench.test"
                sandbox.control.create_user(email, "bench-pw-1", kind="google")
                return email, sandbox.control.issue_tokens(email, client="google")
            checked = list(pool.map(user, range(args.mailboxes)))
        sandbox.control.create_user(SENDER, "bench-pw-1", kind="google")
        grant = sandbox.control.issue_tokens(SENDER, client="google")
        valid = clock.now() + timedelta(minutes=50)
        with db.connection_context():
            self.owner = User.sign_up("owner@bench.test", "bench-password-1", team_name="Bench")
            with db.atomic():
                self.box = Mailbox.create(
                    team=self.owner.team, connected_by=self.owner, email=SENDER,
                    provider="google-sandbox", status="connected", daily_limit=100000,
                    access_token=grant["access_token"], refresh_token=grant["refresh_token"],
                    access_expires_at=valid)
                for email, g in checked:
                    Mailbox.create(team=self.owner.team, connected_by=self.owner, email=email,
                                   provider="google-sandbox", status="connected",
                                   access_token=g["access_token"], refresh_token=g["refresh_token"],
                                   access_expires_at=valid)
            self.checked = [m.id for m in Mailbox.select(Mailbox.id).where(Mailbox.id != self.box.id)]
        huey.flush()
        self.log = open(FOLDER / "consumer.log", "w")  # noqa: SIM115
        self.consumer = subprocess.Popen(worker_command(), cwd=ROOT, stdout=self.log,
                                         stderr=subprocess.STDOUT,
                                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
        time.sleep(2.0)  # the consumer's start is not part of a round
        self.rounds = 0

    def set_checks(self, running: bool) -> None:
        import clock
        from models.mailboxes import Mailbox
        from tasks.checks import check_mailbox

        now = clock.now()
        with self.db.connection_context():
            if not running:
                Mailbox.update(next_check_at=now + timedelta(days=1)).where(
                    Mailbox.id.in_(self.checked)).execute()
                return
            for n, mailbox_id in enumerate(self.checked):
                delay = INTERVAL * n / len(self.checked)
                Mailbox.update(next_check_at=now + timedelta(seconds=delay)).where(
                    Mailbox.id == mailbox_id).execute()
                check_mailbox.schedule((mailbox_id,), delay=delay)

    def checks_done(self) -> int:
        from models.check_history import CheckTotal

        with self.db.connection_context():
            return sum(t.checks for t in CheckTotal.select())

    def send(self, targets) -> float:
        """Enroll `targets` in a new one-step sequence, start it, and time the sending."""
        from models.contacts import Contact
        from models.outbox import SENT, OutboxEmail
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
                      body="Hi {{first_name}},\n\nDoes your team still plan its campaigns by hand?")
            enroll(sequence, Contact.select().where(Contact.id.in_(ids)), self.owner)
            sequence.resume(self.owner)
            done = OutboxEmail.select().where(OutboxEmail.status == SENT).count()
            start = time.perf_counter()
            send_mailbox(self.box.id)
            while OutboxEmail.select().where(OutboxEmail.status == SENT).count() < done + len(ids):
                if self.consumer.poll() is not None:
                    raise RuntimeError(f"the consumer died; see {FOLDER / 'consumer.log'}")
                if time.perf_counter() - start > 900:
                    raise RuntimeError("the round did not end")
                time.sleep(0.05)
        return time.perf_counter() - start

    def stop(self):
        self.consumer.terminate()
        self.consumer.wait(15)
        self.log.close()


def main():
    args = parse()
    os.environ["TETHER_CHECK_INTERVAL_SECONDS"] = str(INTERVAL)
    label, clean_up = use_backend(args)
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    folder.chmod(0o755)
    sandbox = start_sandbox(folder)
    results = {"checks": [], "idle": []}
    rates = {"checks": [], "idle": []}
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text((folder / "sandbox.json").read_text())
        for n in range(args.recipients):
            sandbox.control.create_user(f"r{n}@bench.test", "bench-pw-1", kind="other")
        product = Product(sandbox, args)
        try:
            # A mailbox's first check is not a steady-state one (it proves SMTP, which later
            # checks do once an hour, and reads the INBOX for the first time): one interval of
            # checking before the rounds, so every round measures checks as they then go on.
            product.set_checks(True)
            time.sleep(INTERVAL + WARM_UP)
            for n in range(1, args.rounds + 1):
                for side in ("checks", "idle") if n % 2 else ("idle", "checks"):
                    product.set_checks(side == "checks")
                    time.sleep(WARM_UP if side == "checks" else 1.0)
                    before, clock_start = product.checks_done(), time.perf_counter()
                    targets = [f"r{k % args.recipients}+{side}{n}.{k}@bench.test"
                               for k in range(args.emails)]
                    seconds = product.send(targets)
                    rates[side].append((product.checks_done() - before)
                                       / (time.perf_counter() - clock_start))
                    results[side].append(args.emails / seconds * 60)
            product.set_checks(False)
        finally:
            product.stop()
    finally:
        stop_sandbox(sandbox.proc)
        clean_up()
    print(f"{args.emails} emails from one mailbox while {args.mailboxes} mailboxes are checked "
          f"every {INTERVAL} s, {args.rounds} rounds, {label}; load average at the end "
          f"{load_average()}; worker: {' '.join(worker_command()[1:])}")
    for side, name in (("checks", "checks running"), ("idle", "no check due")):
        print(f"  {name:<16} emails/min {' '.join(f'{r:.0f}' for r in results[side]):>24}"
              f"   checks/s {' '.join(f'{r:.1f}' for r in rates[side])}")
    ratio, ratios = paired_median(results["checks"], results["idle"])
    print(f"with / without checks by round: {' '.join(f'{r:.2f}' for r in ratios)}")
    report("emails/min drop while checking (1 − with/without)", max(1 - ratio, 0.0), 0.2, "")


if __name__ == "__main__":
    main()
