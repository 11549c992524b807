"""Pages under load while the worker works (DESIGN §6): 50 people browsing while 300 sandbox
mailboxes are checked every 10 s, beside the same browsing with no check due. Target: p95
≤ 300 ms and no errors with the checks running.

The product runs the production way on the embedded default (SQLite + SqliteHuey): gunicorn
and a Huey consumer started from the Procfile's own web and worker lines, against the sandbox
on free loopback ports. Each simulated person signs in, then opens the pages people use
(Email Accounts, Sequences, a sequence, its log, Contacts), stays a few seconds on each while a
live page polls the way htmx does (`HX-Request`, `since`, `rendered_at` every 3 s), and moves
on. Rounds alternate "checks running" and "no check due" (each mailbox's next check moved a
day ahead, so the consumer idles), the first seconds of each round are not counted, and the
ratio of the two p95s is paired by round. `--busy N` adds N processes that spin on the CPU,
for a machine whose neighbours are busy (each ends by itself after the run's length, should
this script be killed). Everything runs in a temporary folder that is
removed at the end.

    .venv/bin/python bench/load.py [--users 50] [--mailboxes 300] [--interval 10]
                                   [--rounds 2] [--seconds 30] [--warmup 12] [--teams 5]
                                   [--think 3 12] [--busy 0] [--keep]

Besides latency it prints CPU from /proc per side: the consumer's per check, gunicorn's per
request, and the sandbox's, the simulated people's and the whole machine's share — a shared
2-core machine blurs wall time, and the last column says how busy the neighbours were.
"""

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import requests
from _cpu import cpu_seconds, machine_busy
from _setup import FOLDER, ROOT, report  # noqa: I001 — sets the environment first

from tests.sandbox_fixtures import free_ports, start_sandbox, stop_sandbox

PASSWORD = "bench-password-1"
SEQUENCES, CONTACTS, ENROLLED, LOG_LINES = 4, 400, 100, 150
POLL_SECONDS = 3.0          # views/live.py's POLL_SECONDS: what the pages' htmx asks for
DEADLINE = 30.0             # per request; slower counts as an error
_VERSION = re.compile(r'data-live-version="(\d+)"')
_RENDERED = re.compile(r'&#34;rendered_at&#34;: &#34;(\d+)&#34;|"rendered_at": "(\d+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--mailboxes", type=int, default=300)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, per round")
    parser.add_argument("--warmup", type=float, default=12.0, help="not counted, per round")
    parser.add_argument("--teams", type=int, default=5, help="mailboxes and people split evenly")
    parser.add_argument("--think", type=float, nargs=2, default=(3.0, 12.0),
                        help="seconds a person stays on a page: least, most")
    parser.add_argument("--busy", type=int, default=0,
                        help="neighbours: processes that spin on the CPU while people browse")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs, database)")
    return parser.parse_args()


# ---- The product, started the production way -------------------------------------------------

def procfile_line(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"no {name} line in the Procfile")


def start(name: str, env: dict) -> subprocess.Popen:
    """A Procfile line in its own session (so it is stopped whole), logging to the folder."""
    log = open(FOLDER / f"{name}.log", "w")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(["bash", "-c", procfile_line(name)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    proc.log = log
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # both take TERM as their graceful stop
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    proc.log.close()


def wait_until_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn ended:\n{(FOLDER / 'web.log').read_text()[-3000:]}")
        try:
            if requests.get(base + "/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer within 30 s")


def cpu_now(procs: dict) -> dict:
    used = {name: cpu_seconds(proc.pid) for name, proc in procs.items()}
    used["people"] = sum(os.times()[:2])  # this process: the simulated browsers
    used["machine"] = machine_busy()
    return used


# ---- The data: teams, people, mailboxes, sequences, contacts ---------------------------------

def seed(sandbox, args) -> list[tuple[str, int, list[int]]]:
    """Sandbox users with tokens, and the teams that use them. Returns each person's (email,
    team id, the team's sequence ids)."""
    import clock
    from models.accounts import User, hash_password
    from models.base import db, init_db, migrate
    from models.contacts import Contact
    from models.mailboxes import Mailbox
    from models.sequences import SequenceLog, create_sequence, enroll, save_step

    def grant(n):
        email = f"box{n:04}@bench.test"
        sandbox.control.create_user(email, "bench-pw-1", kind="google")
        return email, sandbox.control.issue_tokens(email, client="google")

    with ThreadPoolExecutor(16) as pool:
        grants = list(pool.map(grant, range(args.mailboxes)))
    init_db(os.environ["DATABASE_URL"])
    migrate()
    people, secret = [], hash_password(PASSWORD)
    with db.connection_context():
        for t in range(args.teams):
            owner = User.sign_up(f"owner{t}@bench.test", PASSWORD, team_name=f"Team {t}")
            team = owner.team
            members = [owner] + [User.create(email=f"p{t}.{n}@bench.test", team=team,
                                             role="member", password_hash=secret)
                                 for n in range(1, args.users // args.teams)]
            now = clock.now()
            with db.atomic():
                boxes = [Mailbox.create(team=team, connected_by=owner, email=email,
                                        provider="google-sandbox", status="connected",
                                        last_success_at=now, last_check_at=now,
                                        access_token=g["access_token"],
                                        refresh_token=g["refresh_token"],
                                        access_expires_at=now + timedelta(seconds=g["expires_in"]))
                         for email, g in grants[t::args.teams]]
                Contact.insert_many([{"team": team.id, "email": f"c{t}.{n}@example.com",
                                      "first_name": f"Contact{n}", "company": "Example"}
                                     for n in range(CONTACTS)]).execute()
            sequence_ids = []
            for s in range(SEQUENCES):
                sequence = create_sequence(team.id, owner, name=f"Outreach {s}",
                                           mailbox=boxes[s])
                for step in range(3):
                    save_step(sequence, owner, subject=f"Step {step} for {{{{first_name}}}}",
                              body="Hi {{first_name}},\n\nA short note.\n", delay_minutes=step * 2 * 24 * 60)
                chosen = Contact.select().where(Contact.team == team).offset(s * ENROLLED)
                enroll(sequence, chosen.limit(ENROLLED), owner)
                SequenceLog.insert_many([{"sequence": sequence.id, "kind": "sent",
                                          "message": f"Email 1 sent to c{t}.{n}@example.com",
                                          "created_at": now - timedelta(minutes=n)}
                                         for n in range(LOG_LINES)]).execute()
                sequence_ids.append(sequence.id)
            people += [(m.email, team.id, sequence_ids) for m in members]
    return people


def checks_due(interval: float) -> None:
    """Every mailbox's next check somewhere in the coming interval, each with its task."""
    import clock
    from models.base import db
    from models.mailboxes import Mailbox
    from tasks.checks import schedule_next

    with db.connection_context():
        ids = [m.id for m in Mailbox.select(Mailbox.id)]
        now = clock.now()
        with db.atomic():
            for mailbox_id in ids:
                offset = timedelta(seconds=random.uniform(0, interval))
                Mailbox.update(next_check_at=now + offset).where(Mailbox.id == mailbox_id).execute()
        for mailbox_id in ids:
            schedule_next(mailbox_id)


def nothing_due() -> None:
    """Every next check a day ahead: each pending task finds nothing to do and schedules no
    other. A check running meanwhile writes its own next time, so repeat until none is near."""
    import clock
    from models.base import db
    from models.mailboxes import Mailbox

    deadline = time.monotonic() + 30
    with db.connection_context():
        while time.monotonic() < deadline:
            later = clock.now() + timedelta(days=1)
            Mailbox.update(next_check_at=later).execute()
            time.sleep(1.0)
            if not Mailbox.select().where(Mailbox.next_check_at < clock.now() + timedelta(hours=1)).exists():
                return
    raise SystemExit("the checks did not stop within 30 s")


def counters() -> tuple[int, int]:
    """Checks done so far (check_history's hourly counters) and status changes so far."""
    from peewee import fn

    from models.base import db
    from models.check_history import CheckHour
    from models.health import MailboxHistory

    with db.connection_context():
        row = CheckHour.select(fn.SUM(CheckHour.passed), fn.SUM(CheckHour.transient),
                               fn.SUM(CheckHour.refused)).tuples().first()
        return sum(v or 0 for v in row), MailboxHistory.select().count()


# ---- The people ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Sample:
    started: float
    ended: float
    what: str
    ms: float
    ok: bool


class Person(threading.Thread):
    """One browser: signs in, then moves between pages until told to stop."""

    def __init__(self, base: str, email: str, sequence_ids: list[int], think, stop):
        super().__init__(daemon=True)
        self.base, self.email, self.sequence_ids, self.halt = base, email, sequence_ids, stop
        self.think = think
        self.http = requests.Session()
        self.http.headers["Origin"] = base
        # A new connection per request: people pause longer than gunicorn keeps an idle one
        # open (2 s), and reusing one it is closing fails in a way browsers retry silently.
        self.http.headers["Connection"] = "close"
        self.samples: list[Sample] = []
        self.problems: list[str] = []

    def sign_in(self) -> None:
        page = self.http.get(self.base + "/login", timeout=DEADLINE).text
        answer = self.http.post(self.base + "/login", allow_redirects=False, timeout=DEADLINE,
                                data={"email": self.email, "password": PASSWORD,
                                      "csrf_token": _CSRF.search(page).group(1)})
        if answer.status_code != 302:
            raise SystemExit(f"{self.email} could not sign in: {answer.status_code}")

    def pages(self):
        sequence = random.choice(self.sequence_ids)
        return random.choice([("email accounts", "/settings/email-accounts", True),
                              ("sequences", "/sequences", True),
                              ("a sequence", f"/sequences/{sequence}", True),
                              ("its log", f"/sequences/{sequence}/log", True),
                              ("contacts", "/contacts", False)])

    def get(self, what: str, path: str, **kwargs):
        started = time.monotonic()
        try:
            answer = self.http.get(self.base + path, allow_redirects=False, timeout=DEADLINE,
                                   **kwargs)
            ok = answer.status_code in (200, 204)
            if not ok:
                self.problems.append(f"{what}: HTTP {answer.status_code}")
        except requests.RequestException as e:
            answer, ok = None, False
            self.problems.append(f"{what}: {type(e).__name__} {str(e)[:80]}")
        ended = time.monotonic()
        self.samples.append(Sample(started, ended, what, (ended - started) * 1000, ok))
        return answer

    def run(self) -> None:
        while not self.halt.is_set():
            what, path, live = self.pages()
            answer = self.get(what, path)
            now = time.monotonic()
            leave, poll_at = now + random.uniform(*self.think), now + POLL_SECONDS
            state = _live_state(answer.text) if live and answer is not None else None
            while now < leave and not self.halt.is_set():
                if state is not None and now >= poll_at:
                    polled = self.get(f"{what}, poll", path,
                                      params={"since": state[0], "rendered_at": state[1]},
                                      headers={"HX-Request": "true",
                                               "HX-Current-URL": self.base + path})
                    if polled is not None and polled.status_code == 200:
                        state = _live_state(polled.text) or state
                    poll_at += POLL_SECONDS
                else:
                    self.halt.wait(min(leave, poll_at if state else leave) - now)
                now = time.monotonic()


def _live_state(html: str):
    version, rendered = _VERSION.search(html), _RENDERED.search(html)
    if not (version and rendered):
        return None
    return version.group(1), rendered.group(1) or rendered.group(2)


# ---- The run ---------------------------------------------------------------------------------

def summary(samples: list[Sample]) -> dict:
    times = sorted(s.ms for s in samples)
    cut = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    return {"n": len(times), "errors": sum(not s.ok for s in samples),
            "p50": cut[49], "p95": cut[94], "p99": cut[98]}


def in_window(samples: list[Sample], window) -> list[Sample]:
    return [s for s in samples if window[0] <= s.started and s.ended <= window[1]]


def main():
    args = parse()
    port = free_ports(1)[0]
    base = f"http://127.0.0.1:{port}"
    sandbox_folder = Path(tempfile.mkdtemp(prefix="tether-bench-sandbox-"))
    sandbox_folder.chmod(0o755)  # Dovecot's unprivileged processes reach its runtime folder
    env = dict(os.environ, PYTHONPATH=str(ROOT), PORT=str(port), BASE_URL=base,
               TETHER_ENV="development", TETHER_CHECK_INTERVAL_SECONDS=f"{args.interval:g}",
               TETHER_LOGIN_RATE_LIMIT="100000 per minute")
    os.environ["TETHER_CHECK_INTERVAL_SECONDS"] = env["TETHER_CHECK_INTERVAL_SECONDS"]
    sandbox = start_sandbox(sandbox_folder, tether_url=base)
    web = worker = None
    neighbours = []
    try:
        Path(os.environ["TETHER_SANDBOX_CONFIG"]).write_text(
            (sandbox_folder / "sandbox.json").read_text())
        people = seed(sandbox, args)
        web, worker = start("web", env), start("worker", env)
        wait_until_up(base, web)
        halt = threading.Event()
        persons = [Person(base, email, ids, args.think, halt) for email, _, ids in people[:args.users]]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(Person.sign_in, persons))
        length = args.rounds * 2 * (args.warmup + args.seconds + 5) + 60
        neighbours = [subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + "
                                        f"{length:.0f}\nwhile time.time() < end: pass"])
                      for _ in range(args.busy)]
        for person in persons:
            person.start()
            time.sleep(0.02)  # a staggered start, as people are
        windows, cpu = {"checks": [], "quiet": []}, {"checks": {}, "quiet": {}}
        procs = {"web": web, "worker": worker, "sandbox": sandbox.proc}
        checks, changed = {"checks": 0, "quiet": 0}, {"checks": 0, "quiet": 0}
        for n in range(args.rounds):
            for phase in ("quiet", "checks") if n % 2 == 0 else ("checks", "quiet"):
                nothing_due() if phase == "quiet" else checks_due(args.interval)
                time.sleep(args.warmup)
                begin, done, used = time.monotonic(), counters(), cpu_now(procs)
                time.sleep(args.seconds)
                after, end = cpu_now(procs), time.monotonic()
                windows[phase].append((begin, end))
                checks[phase] += counters()[0] - done[0]
                changed[phase] += counters()[1] - done[1]
                for name in used:
                    cpu[phase][name] = cpu[phase].get(name, 0) + after[name] - used[name]
        halt.set()
        for person in persons:
            person.join(DEADLINE + 5)
        wal = Path(os.environ["DATABASE_URL"].removeprefix("sqlite:///") + "-wal")
        wal_mb = wal.stat().st_size / 2**20 if wal.exists() else 0
    finally:
        for spinner in neighbours:
            spinner.kill()
            spinner.wait()
        for proc in (web, worker):
            if proc is not None:
                stop(proc)
        stop_sandbox(sandbox.proc)
        shutil.rmtree(sandbox_folder, ignore_errors=True)

    samples = [s for p in persons for s in p.samples]
    problems = [x for p in persons for x in p.problems]
    measured = args.rounds * args.seconds
    print(f"{len(persons)} people, {args.mailboxes} mailboxes checked every {args.interval:g} s; "
          f"{args.rounds} rounds of {args.seconds:g} s per side (after {args.warmup:g} s warm-up)"
          + (f"; {args.busy} neighbours spinning" if args.busy else ""))
    print(f"{'':<24}{'requests':>9}{'req/s':>7}{'errors':>7}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'p99 ms':>8}")
    results = {}
    for phase, label in (("checks", "with checks"), ("quiet", "no check due")):
        inside = [s for w in windows[phase] for s in in_window(samples, w)]
        results[phase] = r = summary(inside)
        print(f"{label:<24}{r['n']:>9}{r['n'] / measured:>7.1f}{r['errors']:>7}{r['p50']:>8.0f}"
              f"{r['p95']:>8.0f}{r['p99']:>8.0f}")
        by_page = {}
        for s in inside:
            by_page.setdefault(s.what, []).append(s)
        for what, group in sorted(by_page.items()):
            g = summary(group)
            print(f"  {what:<22}{g['n']:>9}{'':>7}{g['errors']:>7}{g['p50']:>8.0f}"
                  f"{g['p95']:>8.0f}{g['p99']:>8.0f}")
    print(f"\n{'CPU':<24}{'checks/s':>9}{'ms/check':>9}{'ms/req':>8}{'web %':>7}{'worker %':>9}"
          f"{'sandbox %':>10}{'people %':>9}{'machine %':>10}   (% of one core)")
    for phase, label in (("checks", "with checks"), ("quiet", "no check due")):
        used, n = cpu[phase], checks[phase]
        print(f"{label:<24}{n / measured:>9.1f}"
              + (f"{used['worker'] * 1000 / n:>9.1f}" if n else f"{'—':>9}")
              + f"{used['web'] * 1000 / max(results[phase]['n'], 1):>8.1f}"
              + "".join(f"{used[k] * 100 / measured:>{w}.0f}" for k, w in
                        (("web", 7), ("worker", 9), ("sandbox", 10), ("people", 9),
                         ("machine", 10))))
    print(f"status changes during the measured time: {changed['checks']} with checks, "
          f"{changed['quiet']} without; database WAL at the end {wal_mb:.1f} MB")
    if problems:
        print("errors (whole run): " + ", ".join(f"{x} ×{problems.count(x)}" for x in sorted(set(problems))))
    paired = [summary(in_window(samples, c))["p95"] / summary(in_window(samples, q))["p95"]
              for c, q in zip(windows["checks"], windows["quiet"], strict=True)]
    report("pages p95 with checks running", results["checks"]["p95"], 300, "ms")
    print(f"{'pages p95, checks / no check due, paired median':<48} "
          f"{statistics.median(paired):10.2f} ×    (rounds: "
          + " ".join(f"{r:.2f}" for r in paired) + ")")
    print(f"{'errors with checks running':<48} {results['checks']['errors']:10d}      target 0")
    if args.keep:
        print(f"kept: {FOLDER}")
    else:
        shutil.rmtree(FOLDER, ignore_errors=True)


if __name__ == "__main__":
    main()
